// Unit tests for evidence assembly: the REPORT's records matched to one probe.
#include <boost/test/unit_test.hpp>

#include "evidence_assembly.hpp"

using namespace egress25;
using namespace egress25::client;

namespace {

ClientProbe probe_25() {
  ClientProbe p;
  p.host = "reflector.example";
  p.address = "192.0.2.10";
  p.port = 25;
  p.family = Family::ipv4;
  p.probe_tag = "p1-abc";
  p.connect = ConnectOutcome::connected;
  return p;
}

SessionFacts session() {
  SessionFacts s;
  s.expected_fingerprint = "aa";
  s.banner_identity = "egress25-reflector";
  s.services = {{25, ServiceKind::smtp, "smtp"}, {465, ServiceKind::smtps, "smtps"}};
  s.public_ipv4 = "198.51.100.7";
  return s;
}

ConnectionRecord record(std::string tag, std::uint16_t port) {
  ConnectionRecord r;
  r.probe_tag = std::move(tag);
  r.local_port = port;
  r.peer_address = "198.51.100.7";
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(evidence_assembly)

BOOST_AUTO_TEST_CASE(records_match_by_tag_and_port) {
  control::ReportResponse report;
  report.connections = {record("p1-abc", 25), record("p2-abc", 25), record("p1-abc", 587)};
  report.untagged = {{"198.51.100.7", 25, Family::ipv4, 0},
                     {"198.51.100.7", 25, Family::ipv4, 0},
                     {"203.0.113.9", 25, Family::ipv4, 0},
                     {"198.51.100.7", 465, Family::ipv4, 0}};
  report.witness = {false, "started with --witness off"};
  auto evidence = assemble_evidence(probe_25(), session(), {report, ""}, {std::nullopt, "off"});
  const auto& r = evidence.reflector;
  BOOST_TEST(r.report_available);
  BOOST_TEST_REQUIRE(r.tagged.size() == 1u);
  BOOST_TEST(r.tagged[0].local_port == 25);
  BOOST_TEST(r.untagged_from_client == 2);
  BOOST_TEST(r.port_advertised);
  BOOST_TEST(r.expected_fingerprint == "aa");
  BOOST_TEST(r.banner_identity == "egress25-reflector");
  BOOST_TEST(r.client_public_address == "198.51.100.7");
  BOOST_TEST(!r.witness.has_value());
  BOOST_TEST(r.witness_unavailable == "started with --witness off");
  BOOST_TEST(!evidence.trace.has_value());
  BOOST_TEST(evidence.trace_unavailable == "off");
}

BOOST_AUTO_TEST_CASE(no_report_says_why) {
  auto p = probe_25();
  p.port = 2525;
  auto evidence =
      assemble_evidence(p, session(), {std::nullopt, "the REPORT could not be fetched: x"}, {});
  BOOST_TEST(!evidence.reflector.report_available);
  BOOST_TEST(evidence.reflector.report_error == "the REPORT could not be fetched: x");
  BOOST_TEST(!evidence.reflector.port_advertised);
  BOOST_TEST(!evidence.reflector.witness_unavailable.empty());
}

BOOST_AUTO_TEST_CASE(witness_flows_are_matched_when_active) {
  control::ReportResponse report;
  report.witness = {true, ""};
  control::WitnessFlow flow;
  flow.family = Family::ipv4;
  flow.source_address = "198.51.100.7";
  flow.source_port = 40000;
  flow.destination_port = 25;
  flow.ttl = 57;
  flow.syn_seen = true;
  flow.syn_count = 2;
  flow.first_seen_unix_ms = 1000;
  report.witness_flows = {flow};
  auto s = session();
  s.window_start_unix_ms = 0;
  s.window_end_unix_ms = 5000;
  auto evidence = assemble_evidence(probe_25(), s, {report, ""}, {});
  BOOST_TEST_REQUIRE(evidence.reflector.witness.has_value());
  BOOST_TEST(evidence.reflector.witness->syn_seen);
  BOOST_TEST(evidence.reflector.witness_unavailable.empty());
}

BOOST_AUTO_TEST_CASE(public_address_prefers_the_report) {
  control::ReportResponse report;
  report.public_ipv4 = "198.51.100.99";
  ReportOutcome outcome{report, ""};
  BOOST_TEST(*public_address_for(Family::ipv4, session(), outcome) == "198.51.100.99");
  BOOST_TEST(!public_address_for(Family::ipv6, session(), outcome).has_value());
  BOOST_TEST(*public_address_for(Family::ipv4, session(), {}) == "198.51.100.7");
}

BOOST_AUTO_TEST_SUITE_END()
