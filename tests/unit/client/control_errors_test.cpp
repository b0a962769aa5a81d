// Unit tests for the control-port error sentences: each names the cause and a next step.
#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include "control_errors.hpp"

using namespace egress25;
using namespace egress25::client;
namespace error = boost::asio::error;
using std::chrono::milliseconds;

namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(control_errors)

BOOST_AUTO_TEST_CASE(name_that_does_not_resolve) {
  auto text = resolve_failure("vps.example.net", error::host_not_found, milliseconds(5000));
  BOOST_TEST(has(text, "vps.example.net does not resolve"), text);
  BOOST_TEST(has(text, "Check the spelling"), text);
  BOOST_TEST(!has(text, "firewall"), text);  // not the reflector's fault
  text = resolve_failure("vps.example.net", error::host_not_found_try_again, milliseconds(5000));
  BOOST_TEST(has(text, "DNS server gave no answer"), text);
  text = resolve_failure("vps.example.net", {}, milliseconds(5000));
  BOOST_TEST(has(text, "no DNS answer within 5 s"), text);
}

BOOST_AUTO_TEST_CASE(family_not_available) {
  auto text = family_missing("vps.example.net", Family::ipv6, {"192.0.2.1"}, false);
  BOOST_TEST(has(text, "has no IPv6 address (only IPv4: 192.0.2.1)"), text);
  BOOST_TEST(has(text, "--family 4"), text);
  BOOST_TEST(has(text, "AAAA record"), text);
  text = family_missing("vps.example.net", Family::ipv4, {"2001:db8::1", "2001:db8::2"}, false);
  BOOST_TEST(has(text, "only IPv6: 2001:db8::1 and 1 more"), text);
  BOOST_TEST(has(text, "--family 6"), text);
  text = family_missing("192.0.2.1", Family::ipv6, {"192.0.2.1"}, true);
  BOOST_TEST(has(text, "192.0.2.1 is an IPv4 address, and --family 6 asks for IPv6"), text);
  BOOST_TEST(!has(text, "firewall"), text);
}

BOOST_AUTO_TEST_CASE(refused_is_not_timed_out) {
  auto refused = connect_failure("192.0.2.1:7025", error::connection_refused, milliseconds(5000));
  BOOST_TEST(has(refused, "192.0.2.1:7025: connection refused"), refused);
  BOOST_TEST(has(refused, "Is egress25-reflector running there"), refused);
  auto silent = connect_failure("192.0.2.1:7025", {}, milliseconds(5000));
  BOOST_TEST(has(silent, "no answer within 5 s"), silent);
  BOOST_TEST(has(silent, "silently drops"), silent);
  BOOST_TEST(!has(silent, "refused"), silent);
  auto unreachable = connect_failure("192.0.2.1:7025", error::host_unreachable, milliseconds(5000));
  BOOST_TEST(has(unreachable, "has no way there"), unreachable);
}

// Pointing the client at a mail port: "220 " read as a frame length is 842149920 bytes.
BOOST_AUTO_TEST_CASE(foreign_protocols_named) {
  auto smtp = foreign_protocol("220 vps.example.net ESMTP Postfix\r\n");
  BOOST_TEST_REQUIRE(smtp.has_value());
  BOOST_TEST(has(*smtp, "speaks SMTP (it greeted with '220 vps.example.net ESMTP Postfix')"),
             *smtp);
  BOOST_TEST(has(*smtp, "not the reflector's control port"), *smtp);
  BOOST_TEST(has(*smtp, "7025"), *smtp);
  BOOST_TEST(has(*foreign_protocol("554-busy\r\n"), "speaks SMTP"));
  BOOST_TEST(has(*foreign_protocol("HTTP/1.1 400 Bad Request\r\n"), "speaks HTTP"));
  BOOST_TEST(has(*foreign_protocol("SSH-2.0-OpenSSH_9.2\r\n"), "speaks SSH"));
  BOOST_TEST(has(*foreign_protocol(std::string("\x15\x03\x03\x00\x02\x02\x32", 7)), "speaks TLS"));
  auto other = foreign_protocol(std::string("\x01\xff junk", 7));
  BOOST_TEST_REQUIRE(other.has_value());
  BOOST_TEST(has(*other, "'\\x01\\xff junk'"), *other);  // quoted escaped, never raw
  BOOST_TEST(!foreign_protocol("").has_value());
}

BOOST_AUTO_TEST_CASE(summary_of_a_check_that_could_not_start) {
  auto text =
      nothing_measured("the reflector's name x does not resolve", {"this host has no IPv6 route"});
  BOOST_TEST(text ==
             "Nothing was measured: the reflector's name x does not resolve. This host has no IPv6 "
             "route, so that family was not checked.");
}

BOOST_AUTO_TEST_SUITE_END()
