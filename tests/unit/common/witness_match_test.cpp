// Matching packet-witness flows to one probe: address, family, port and time window.
#include "witness_match.hpp"

#include <boost/test/unit_test.hpp>

namespace {

using namespace egress25;

control::WitnessFlow flow(const char* src, std::uint16_t dport, std::int64_t at,
                          Family family = Family::ipv4) {
  control::WitnessFlow f;
  f.family = family;
  f.source_address = src;
  f.source_port = 40000;
  f.destination_port = dport;
  f.ttl = 60;
  f.syn_seen = true;
  f.syn_count = 1;
  f.first_seen_unix_ms = at;
  return f;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(witness_match)

BOOST_AUTO_TEST_CASE(matches_address_port_family_and_window) {
  std::vector<control::WitnessFlow> flows{
      flow("198.51.100.7", 25, 1000),               // ours
      flow("198.51.100.9", 25, 1000),               // a neighbour behind nothing of ours
      flow("198.51.100.7", 587, 1000),              // another port
      flow("198.51.100.7", 25, 10),                 // before the session
      flow("2001:db8::7", 25, 1000, Family::ipv6),  // the other family
  };
  flows[0].synack_sent = true;
  WitnessQuery q{Family::ipv4, "198.51.100.7", 25, 500, 5000};
  auto v = match_witness(flows, q);
  BOOST_TEST(v.syn_seen);
  BOOST_TEST(v.synack_sent);
  BOOST_TEST(!v.rst_sent);
  BOOST_TEST(v.syn_count == 1);
  BOOST_TEST((v.ttl == std::optional<int>(60)));
}

BOOST_AUTO_TEST_CASE(nothing_from_us_means_no_syn_seen) {
  std::vector<control::WitnessFlow> flows{flow("198.51.100.9", 25, 1000)};
  auto v = match_witness(flows, WitnessQuery{Family::ipv4, "198.51.100.7", 25, 0, 0});
  BOOST_TEST(!v.syn_seen);
  BOOST_TEST(v.syn_count == 0);
  BOOST_TEST(!v.ttl.has_value());
}

BOOST_AUTO_TEST_CASE(unknown_public_address_matches_nothing) {
  // Without the client's address for this family nothing can be attributed to it:
  // a SYN from someone else must never read as ours.
  std::vector<control::WitnessFlow> flows{flow("198.51.100.7", 25, 1000)};
  auto v = match_witness(flows, WitnessQuery{Family::ipv4, "", 25, 0, 0});
  BOOST_TEST(!v.syn_seen);
}

BOOST_AUTO_TEST_CASE(retransmitted_syns_and_several_flows_fold_together) {
  auto a = flow("198.51.100.7", 25, 1000);
  a.syn_count = 2;
  auto b = flow("198.51.100.7", 25, 900);
  b.ttl = 57;
  b.rst_sent = true;
  auto v = match_witness({a, b}, WitnessQuery{Family::ipv4, "198.51.100.7", 25, 0, 0});
  BOOST_TEST(v.syn_count == 3);
  BOOST_TEST(v.rst_sent);
  BOOST_TEST((v.ttl == std::optional<int>(57)));  // the first SYN's
}

BOOST_AUTO_TEST_SUITE_END()
