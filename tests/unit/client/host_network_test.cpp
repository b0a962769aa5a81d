// Unit tests for reading the client's own network: the default gateway from /proc text.
#include <boost/test/unit_test.hpp>

#include "host_network.hpp"

using namespace egress25;
using namespace egress25::client;

BOOST_AUTO_TEST_SUITE(host_network)

BOOST_AUTO_TEST_CASE(ipv4_default_gateway_from_proc_net_route) {
  const std::string table =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
  BOOST_TEST(default_gateway_from_proc(Family::ipv4, table) == "192.0.2.1");
  // An on-link default (no RTF_GATEWAY) and no default at all: no gateway.
  BOOST_TEST(default_gateway_from_proc(
                 Family::ipv4, "eth0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n")
                 .empty());
  BOOST_TEST(default_gateway_from_proc(Family::ipv4,
                                       "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t"
                                       "00FFFFFF\t0\t0\t0\n")
                 .empty());
  BOOST_TEST(default_gateway_from_proc(Family::ipv4, "garbage\n\n").empty());
}

BOOST_AUTO_TEST_CASE(ipv6_default_gateway_from_proc_net_ipv6_route) {
  const std::string zeros(32, '0');
  const std::string table =
      "20010db8000000000000000000000000 40 " + zeros + " 00 " + zeros +
      " 00000100 00000001 00000000 00000001     eth0\n" + zeros + " 00 " + zeros +
      " 00 fe800000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n";
  BOOST_TEST(default_gateway_from_proc(Family::ipv6, table) == "fe80::1");
  // The kernel's own unreachable default on lo is no gateway.
  BOOST_TEST(default_gateway_from_proc(Family::ipv6, zeros + " 00 " + zeros + " 00 " + zeros +
                                                         " ffffffff 00000001 00000000 00200200 "
                                                         "lo\n")
                 .empty());
}

BOOST_AUTO_TEST_SUITE_END()
