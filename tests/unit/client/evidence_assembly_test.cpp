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

BOOST_AUTO_TEST_CASE(relay_evidence_refusals_and_untagged_ends_are_matched) {
  control::ReportResponse report;
  auto relayed = record("p1-abc", 25);
  relayed.peer_address = "198.51.100.99";
  auto sibling = record("p2-abc", 465);  // from our own address
  auto other_family = record("p3-abc", 587);
  other_family.family = Family::ipv6;
  other_family.peer_address = "2001:db8::7";
  report.connections = {relayed, sibling, other_family};
  report.untagged = {{"198.51.100.7", 25, Family::ipv4, 0, "reset by peer"},
                     {"203.0.113.9", 25, Family::ipv4, 0, "idle timeout"}};
  report.refused = {
      {"198.51.100.7", 25, Family::ipv4, "too many connections from 198.51.100.7 (16)", 40, 1, 2},
      {"198.51.100.7", 587, Family::ipv4, "too many connections", 1, 1, 2},
      {"203.0.113.9", 25, Family::ipv4, "too many connections", 1, 1, 2}};
  auto evidence = assemble_evidence(probe_25(), session(), {report, ""}, {std::nullopt, "off"});
  const auto& r = evidence.reflector;
  // Siblings: the same family's other ports, not this port's own record, not IPv6.
  BOOST_TEST((r.sibling_sources == std::vector<std::string>{"198.51.100.7"}));
  BOOST_TEST((r.untagged_end_reasons == std::vector<std::string>{"reset by peer"}));
  BOOST_TEST_REQUIRE(r.refusals.size() == 1u);
  BOOST_TEST(r.refusals[0] == "too many connections from 198.51.100.7 (16) (40 connections)");
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

BOOST_AUTO_TEST_CASE(no_witness_view_when_probes_left_from_another_nat_address) {
  // A NAT pool gave the 587 probe another address than the control connection: a silent
  // port 25 may have left from that one too, so "no SYN from our address" proves nothing.
  control::ReportResponse report;
  report.witness = {true, ""};
  auto elsewhere = record("p2-abc", 587);
  elsewhere.peer_address = "198.51.100.8";
  report.connections = {elsewhere};
  auto p = probe_25();
  p.connect = ConnectOutcome::timed_out;
  auto evidence = assemble_evidence(p, session(), {report, ""}, {});
  BOOST_TEST(!evidence.reflector.witness.has_value());
  BOOST_TEST(evidence.reflector.witness_unavailable.find("198.51.100.8") != std::string::npos);
  // The same report with the probe from our own address keeps the witness.
  report.connections[0].peer_address = "198.51.100.7";
  BOOST_TEST(assemble_evidence(p, session(), {report, ""}, {}).reflector.witness.has_value());
}

BOOST_AUTO_TEST_CASE(public_address_prefers_the_report) {
  control::ReportResponse report;
  report.public_ipv4 = "198.51.100.99";
  ReportOutcome outcome{report, ""};
  BOOST_TEST(*public_address_for(Family::ipv4, session(), outcome) == "198.51.100.99");
  BOOST_TEST(!public_address_for(Family::ipv6, session(), outcome).has_value());
  BOOST_TEST(*public_address_for(Family::ipv4, session(), {}) == "198.51.100.7");
}

BOOST_AUTO_TEST_CASE(no_witness_view_without_an_active_witness_or_a_known_address) {
  control::ReportResponse report;
  report.witness = {true, ""};
  report.witness_flows = {};  // the witness saw nothing from us
  // Active, address known: "no SYN seen" is evidence.
  auto evidence = assemble_evidence(probe_25(), session(), {report, ""}, {});
  BOOST_TEST_REQUIRE(evidence.reflector.witness.has_value());
  BOOST_TEST(!evidence.reflector.witness->syn_seen);

  // Our IPv6 address was never seen on control: the witness cannot be matched.
  auto p6 = probe_25();
  p6.family = Family::ipv6;
  evidence = assemble_evidence(p6, session(), {report, ""}, {});
  BOOST_TEST(!evidence.reflector.witness.has_value());
  BOOST_TEST(evidence.reflector.witness_unavailable.find("ipv6") != std::string::npos,
             evidence.reflector.witness_unavailable);

  // The reflector says its witness is not active: no view, its reason given.
  report.witness = {false, "the packet witness stopped: the interface went down"};
  evidence = assemble_evidence(probe_25(), session(), {report, ""}, {});
  BOOST_TEST(!evidence.reflector.witness.has_value());
  BOOST_TEST(evidence.reflector.witness_unavailable ==
             "the packet witness stopped: the interface went down");
}

BOOST_AUTO_TEST_CASE(the_witness_speaks_for_ports_the_reflector_does_not_serve) {
  // --ports 2525 against a reflector that serves 25 and 465: its witness watches SYNs
  // and resets on every port, so its view of 2525 is evidence (the kernel's reset of a
  // port with no service is how not_listening is told from a forged reset).
  control::ReportResponse report;
  report.witness = {true, ""};
  control::WitnessFlow flow;
  flow.source_address = "198.51.100.7";
  flow.destination_port = 2525;
  flow.syn_seen = true;
  flow.rst_sent = true;
  report.witness_flows = {flow};
  auto p = probe_25();
  p.port = 2525;
  p.connect = ConnectOutcome::refused;
  auto evidence = assemble_evidence(p, session(), {report, ""}, {});
  BOOST_TEST(!evidence.reflector.port_advertised);
  BOOST_TEST_REQUIRE(evidence.reflector.witness.has_value());
  BOOST_TEST(evidence.reflector.witness->rst_sent);
}

BOOST_AUTO_TEST_CASE(dropped_records_are_carried) {
  control::ReportResponse report;
  report.witness = {false, "off"};
  report.connections = {record("p2-abc", 25)};
  report.connections_dropped = 5;
  auto evidence = assemble_evidence(probe_25(), session(), {report, ""}, {});
  BOOST_TEST(evidence.reflector.connections_dropped == 5u);
  BOOST_TEST(evidence.reflector.tagged.empty());
}

BOOST_AUTO_TEST_CASE(witness_window_is_in_the_reflectors_clock) {
  // The reflector's clock runs an hour ahead of ours; HELLO left at 1000 and took 40 ms.
  constexpr std::int64_t hour = 3'600'000;
  const HelloTiming hello{1000, 40.0, 1000 + 20 + hour};
  SessionFacts s;
  set_witness_window(s, hello, 5000, 9000);
  const auto slack = witness_slack_ms(40.0);
  BOOST_TEST(s.window_start_unix_ms == 5000 + hour - slack);
  BOOST_TEST(s.window_end_unix_ms == 9000 + hour + slack);

  // A flow stamped by the reflector during the probes matches; by our clock it would not.
  control::ReportResponse report;
  report.witness = {true, ""};
  control::WitnessFlow flow;
  flow.source_address = "198.51.100.7";
  flow.destination_port = 25;
  flow.syn_seen = true;
  flow.first_seen_unix_ms = 5100 + hour;
  report.witness_flows = {flow};
  auto facts = session();
  set_witness_window(facts, hello, 5000, 9000);
  auto evidence = assemble_evidence(probe_25(), facts, {report, ""}, {});
  BOOST_TEST_REQUIRE(evidence.reflector.witness.has_value());
  BOOST_TEST(evidence.reflector.witness->syn_seen);

  // A SYN after the window (a trace's, say) is not the probe's.
  report.witness_flows[0].first_seen_unix_ms = 9000 + hour + slack + 1;
  evidence = assemble_evidence(probe_25(), facts, {report, ""}, {});
  BOOST_TEST_REQUIRE(evidence.reflector.witness.has_value());
  BOOST_TEST(!evidence.reflector.witness->syn_seen);

  // No server time given: our own clock, as the best there is.
  SessionFacts own;
  set_witness_window(own, {1000, 40.0, 0}, 5000, 9000);
  BOOST_TEST(own.window_start_unix_ms == 5000 - slack);
}

BOOST_AUTO_TEST_CASE(witness_slack_follows_the_rtt_within_bounds) {
  BOOST_TEST(witness_slack_ms(0.2) == 250);
  BOOST_TEST(witness_slack_ms(100.0) == 350);
  BOOST_TEST(witness_slack_ms(60'000.0) == 2000);
  BOOST_TEST(witness_slack_ms(-5.0) == 250);
}

BOOST_AUTO_TEST_SUITE_END()
