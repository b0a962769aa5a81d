// Unit tests of the self-test's judgement: this host's port-25 connection to a destination
// and its trace, read as "who stops it", one table row per outcome; and the summary.
#include "self_test_judgement.hpp"

#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <vector>

using namespace egress25;

namespace {

// Seen from this host (the VPS): its provider's gateway (hop 1), transit (hops 2 and 3),
// the router in front of the destination (hop 4), the destination (hop 5).
const std::string provider = "203.0.113.1";
const std::string transit_a = "198.51.100.5";
const std::string transit_b = "198.51.100.1";
const std::string front = "192.0.2.1";
const std::string destination = "192.0.2.25";

TraceHop te(int ttl, std::string address) {
  return {ttl, std::move(address), HopKind::time_exceeded, 11, 0};
}
TraceHop quiet(int ttl) {
  return {ttl, "", HopKind::silent, 0, 0};
}
TraceHop rst(int ttl) {
  return {ttl, destination, HopKind::reset, 0, 0};
}
TraceHop reached(int ttl) {
  return {ttl, destination, HopKind::reached, 0, 0};
}

// The reference port's usual trace: every router answers, the destination refuses 443.
std::vector<TraceHop> full_reference() {
  return {te(1, provider), te(2, transit_a), te(3, transit_b), te(4, front), rst(5)};
}

PathTrace trace(std::vector<TraceHop> probed, std::vector<TraceHop> reference) {
  PathTrace t;
  t.probed.port = 25;
  t.probed.hops = std::move(probed);
  t.reference.port = 443;
  t.reference.hops = std::move(reference);
  return t;
}

SelfTestEvidence evidence(ConnectOutcome outcome, std::optional<PathTrace> t = std::nullopt) {
  SelfTestEvidence e;
  e.host = "mx.example.org";
  e.attempt.address = destination;
  e.attempt.port = 25;
  e.attempt.connect = outcome;
  if (outcome == ConnectOutcome::timed_out) e.attempt.connect_error = "no answer within 10000 ms";
  if (outcome == ConnectOutcome::refused) e.attempt.connect_error = "Connection refused";
  e.attempt.trace = std::move(t);
  if (e.attempt.trace) {
    e.reference_port = 443;
    e.references.push_back({443, ConnectOutcome::refused, ""});
  }
  return e;
}

SelfTestEvidence greeted(int code) {
  auto e = evidence(ConnectOutcome::connected);
  e.attempt.banner_code = code;
  e.attempt.banner = std::to_string(code) + " mx.example.org ESMTP\r\n";
  e.attempt.ehlo_code = code == 220 ? std::optional<int>(250) : std::nullopt;
  e.attempt.quit_code = 221;
  e.attempt.end = DialogueEnd::completed;
  return e;
}

bool says(const Classification& c, const std::string& text) {
  for (const auto& r : c.reasons)
    if (r.find(text) != std::string::npos) return true;
  return false;
}

std::string hop_text(const BlockingHop& h) {
  return std::to_string(h.ttl) + "@" + h.address;
}

std::string candidates_text(const Classification& c) {
  std::string out;
  for (const auto& h : c.blocking_candidates) out += (out.empty() ? "" : ",") + hop_text(h);
  return out;
}

struct Row {
  const char* name;
  SelfTestEvidence evidence;
  Verdict verdict;
  Location location;
  std::optional<Segment> segment;
  std::string hop;         // "TTL@ADDRESS", "" for none
  std::string candidates;  // "TTL@ADDRESS,...", "" for none
  std::string reason;      // a reason contains it
};

std::vector<Row> rows() {
  auto no_banner = evidence(ConnectOutcome::connected);
  no_banner.attempt.end = DialogueEnd::timed_out;
  no_banner.attempt.end_detail = "no the greeting within 20000 ms";
  auto eperm = evidence(ConnectOutcome::local_error);
  eperm.attempt.blocked_locally = true;
  eperm.attempt.connect_error = "Operation not permitted";
  auto no_route = evidence(ConnectOutcome::local_error);
  no_route.attempt.connect_error = "Network is unreachable";
  auto provider_private = evidence(
      ConnectOutcome::timed_out,
      trace({te(1, provider), te(2, "10.20.0.1"), quiet(3)},
            {te(1, provider), te(2, "10.20.0.1"), te(3, "10.20.0.2"), te(4, front), rst(5)}));
  auto icmp_provider =
      evidence(ConnectOutcome::icmp_error, trace({te(1, provider), quiet(2)}, full_reference()));
  icmp_provider.attempt.icmp = IcmpReport{provider, 3, 13, "administratively prohibited"};
  auto icmp_destination =
      evidence(ConnectOutcome::icmp_error,
               trace({te(1, provider), te(2, transit_a), te(3, transit_b), te(4, front), quiet(5)},
                     full_reference()));
  icmp_destination.attempt.icmp = IcmpReport{destination, 3, 13, "administratively prohibited"};
  auto held_here =
      evidence(ConnectOutcome::timed_out, trace({quiet(1), quiet(2)}, full_reference()));
  held_here.attempt.syn_left_host = false;
  auto left_here = held_here;
  left_here.attempt.syn_left_host = true;
  auto no_reference = evidence(ConnectOutcome::timed_out);
  no_reference.attempt.trace_unavailable = "test";

  return {
      {"greeted", greeted(220), Verdict::open, Location::none, std::nullopt, "", "",
       "220 mx.example.org ESMTP"},
      {"greeted with 554: the port is open, the server refuses mail", greeted(554), Verdict::open,
       Location::none, std::nullopt, "", "", "refuses mail for now"},
      {"connected without a greeting", no_banner, Verdict::inconclusive, Location::unknown,
       std::nullopt, "", "", "no SMTP greeting came"},
      {"this host's own firewall (EPERM)", eperm, Verdict::dropped, Location::reflector_host,
       std::nullopt, "", "", "own firewall"},
      {"no route: not tested", no_route, Verdict::inconclusive, Location::unknown, std::nullopt, "",
       "", "not tested"},
      {"the provider's gateway forwards no 25, or transit's inbound filter drops it",
       evidence(ConnectOutcome::timed_out,
                trace({te(1, provider), quiet(2), quiet(3), quiet(4), quiet(5)}, full_reference())),
       Verdict::dropped, Location::path, Segment::unknown, "", "1@" + provider + ",2@" + transit_a,
       "it died at"},
      {"private routers inside the provider drop 25", provider_private, Verdict::dropped,
       Location::path, Segment::reflector_network, "", "2@10.20.0.1,3@10.20.0.2", "it died at"},
      {"no time-exceeded for 25 even at TTL 1",
       evidence(ConnectOutcome::timed_out, trace({quiet(1), quiet(2)}, full_reference())),
       Verdict::dropped, Location::path, Segment::reflector_network, "", "0@,1@" + provider,
       "never gets past this host or its first router"},
      {"not even TTL 1, and this host never sent the retransmission: its own firewall", held_here,
       Verdict::dropped, Location::reflector_host, std::nullopt, "0@", "", "did not transmit"},
      {"not even TTL 1, and the SYN left this host: its provider's gateway", left_here,
       Verdict::dropped, Location::path, Segment::reflector_network, "1@" + provider, "",
       "the SYN left this host"},
      {"a transit network drops 25",
       evidence(ConnectOutcome::timed_out,
                trace({te(1, provider), te(2, transit_a), quiet(3)}, full_reference())),
       Verdict::dropped, Location::path, Segment::upstream, "",
       "2@" + transit_a + ",3@" + transit_b, "it died at"},
      {"dropped right at the destination",
       evidence(ConnectOutcome::timed_out,
                trace({te(1, provider), te(2, transit_a), te(3, transit_b), te(4, front), quiet(5)},
                      full_reference())),
       Verdict::dropped, Location::destination, std::nullopt, "",
       "4@" + front + ",5@" + destination, "the destination host itself"},
      {"a silent router between the provider and transit: undecided",
       evidence(ConnectOutcome::timed_out,
                trace({te(1, provider), quiet(2), quiet(3)},
                      {te(1, provider), quiet(2), te(3, transit_b), te(4, front), rst(5)})),
       Verdict::dropped, Location::path, Segment::unknown, "",
       "1@" + provider + ",2@,3@" + transit_b, "it died at"},
      {"silence without a trace", no_reference, Verdict::dropped, Location::unknown, std::nullopt,
       "", "", "no trace"},
      {"silence, and the reference goes no further",
       evidence(ConnectOutcome::timed_out,
                trace({te(1, provider), quiet(2)}, {te(1, provider), quiet(2)})),
       Verdict::dropped, Location::unknown, std::nullopt, "", "", "cannot tell"},
      {"refused at the destination's distance",
       evidence(ConnectOutcome::refused,
                trace({te(1, provider), te(2, transit_a), te(3, transit_b), te(4, front), rst(5)},
                      full_reference())),
       Verdict::not_listening, Location::destination, std::nullopt, "", "",
       "nothing listens on port 25"},
      {"refused on loopback (distance 1)",
       evidence(ConnectOutcome::refused, trace({rst(1)}, {reached(1)})), Verdict::not_listening,
       Location::destination, std::nullopt, "", "", "nothing listens on port 25"},
      {"reset by the provider's filter",
       evidence(ConnectOutcome::refused, trace({te(1, provider), rst(2)}, full_reference())),
       Verdict::reset, Location::path, Segment::unknown, "", "1@" + provider + ",2@" + transit_a,
       "resets port 25"},
      {"reset at TTL 1: this host or its provider's gateway",
       evidence(ConnectOutcome::refused, trace({rst(1)}, full_reference())), Verdict::reset,
       Location::path, Segment::reflector_network, "", "0@,1@" + provider, "resets port 25"},
      {"a reset without a trace", evidence(ConnectOutcome::refused), Verdict::reset,
       Location::unknown, std::nullopt, "", "", "no trace"},
      {"ICMP from the provider", icmp_provider, Verdict::icmp_unreachable, Location::path,
       Segment::reflector_network, "1@" + provider, "", "administratively prohibited"},
      {"ICMP from the destination", icmp_destination, Verdict::icmp_unreachable,
       Location::destination, std::nullopt, "", "", "the destination itself"},
  };
}

SelfTestResult result(SelfTestEvidence e) {
  SelfTestResult r;
  r.judgement = judge_self_test(e);
  r.evidence = std::move(e);
  return r;
}

// Not even TTL 1 answered for port 25: this host or its provider's gateway, one party.
SelfTestEvidence provider_drop() {
  return evidence(ConnectOutcome::timed_out, trace({quiet(1), quiet(2)}, full_reference()));
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(self_test_judgement)

BOOST_AUTO_TEST_CASE(each_outcome_has_its_verdict_place_and_reason) {
  for (const auto& row : rows()) {
    BOOST_TEST_CONTEXT(row.name) {
      const auto c = judge_self_test(row.evidence);
      BOOST_TEST(to_string(c.verdict) == to_string(row.verdict));
      BOOST_TEST(to_string(c.location) == to_string(row.location));
      BOOST_TEST((c.segment == row.segment));
      BOOST_TEST((c.blocking_hop ? hop_text(*c.blocking_hop) : "") == row.hop);
      BOOST_TEST(candidates_text(c) == row.candidates);
      BOOST_TEST(says(c, row.reason), "no reason contains \"" << row.reason << "\"");
      // The contract: a segment only for location path, never a hop and candidates both.
      BOOST_TEST((c.location == Location::path) == c.segment.has_value());
      BOOST_TEST(!(c.blocking_hop && !c.blocking_candidates.empty()));
      if (c.verdict != Verdict::open) BOOST_TEST(!c.reasons.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_failed_connection_names_its_reference_ports) {
  const auto c = judge_self_test(provider_drop());
  BOOST_TEST(says(c, "port 443 refused it (the host answered)"));
}

BOOST_AUTO_TEST_CASE(open_to_every_address_is_exit_0) {
  const auto s =
      summarize_self_test("example.org", 25, {result(greeted(220)), result(greeted(220))}, "");
  BOOST_TEST(s.exit_status == 0);
  BOOST_TEST(s.blocked_by == "none");
  BOOST_TEST(contains(s.text, "This host can open port 25 to example.org"));
  BOOST_TEST(!contains(s.text, "blocks"));
}

BOOST_AUTO_TEST_CASE(the_provider_is_named_with_the_advice_to_ask_it) {
  const auto s = summarize_self_test("example.org", 25, {result(provider_drop())}, "");
  BOOST_TEST(s.exit_status == 1);
  BOOST_TEST(s.blocked_by == "hosting_provider");
  BOOST_TEST(contains(s.text, "hosting provider blocks outbound port 25"));
  BOOST_TEST(contains(s.text, "Ask the provider to lift the block"));
  BOOST_TEST(contains(s.text, "a mail relay on this host would fail too"));
  BOOST_TEST(contains(s.text, "hop 1 (203.0.113.1"));
}

BOOST_AUTO_TEST_CASE(a_destination_that_refuses_does_not_blame_the_provider) {
  const auto refused =
      evidence(ConnectOutcome::refused,
               trace({te(1, provider), te(2, transit_a), te(3, transit_b), te(4, front), rst(5)},
                     full_reference()));
  const auto s = summarize_self_test("example.org", 25, {result(refused)}, "");
  BOOST_TEST(s.exit_status == 1);
  BOOST_TEST(s.blocked_by == "destination");
  BOOST_TEST(contains(s.text, "does not accept connections on port 25"));
  BOOST_TEST(!contains(s.text, "provider blocks"));
}

BOOST_AUTO_TEST_CASE(undecided_evidence_never_blames_anyone_outright) {
  const auto s =
      summarize_self_test("example.org", 25, {result(evidence(ConnectOutcome::timed_out))}, "");
  BOOST_TEST(s.exit_status == 1);
  BOOST_TEST(s.blocked_by == "unknown");
  BOOST_TEST(contains(s.text, "the evidence does not say who stops port 25"));
  BOOST_TEST(!contains(s.text, "provider blocks"));
}

BOOST_AUTO_TEST_CASE(mixed_results_name_each_party_the_provider_first) {
  const auto s =
      summarize_self_test("example.org", 25, {result(greeted(220)), result(provider_drop())}, "");
  BOOST_TEST(s.exit_status == 1);
  BOOST_TEST(s.blocked_by == "hosting_provider");
  BOOST_TEST(contains(s.text, "Port 25 is open to the other addresses"));
}

BOOST_AUTO_TEST_CASE(nothing_tested_is_exit_3) {
  auto s = summarize_self_test("nowhere.example", 25, {}, "the domain does not exist (NXDOMAIN)");
  BOOST_TEST(s.exit_status == 3);
  BOOST_TEST(contains(s.text, "Nothing could be tested: the domain does not exist"));
  auto no_route = evidence(ConnectOutcome::local_error);
  no_route.attempt.connect_error = "Network is unreachable";
  s = summarize_self_test("example.org", 25, {result(no_route)}, "");
  BOOST_TEST(s.exit_status == 3);
  // A family without a route beside one that works: the rest decides, with a note.
  s = summarize_self_test("example.org", 25, {result(greeted(220)), result(no_route)}, "");
  BOOST_TEST(s.exit_status == 0);
  BOOST_TEST(contains(s.text, "1 address of it could not be tried from here"));
}

BOOST_AUTO_TEST_CASE(this_hosts_own_firewall_is_tested_and_named) {
  auto eperm = evidence(ConnectOutcome::local_error);
  eperm.attempt.blocked_locally = true;
  eperm.attempt.connect_error = "Operation not permitted";
  BOOST_TEST(self_test_tested(eperm));
  const auto s = summarize_self_test("example.org", 25, {result(eperm)}, "");
  BOOST_TEST(s.exit_status == 1);
  BOOST_TEST(s.blocked_by == "this_host");
  BOOST_TEST(contains(s.text, "This host's own firewall stops outbound port 25"));
}

BOOST_AUTO_TEST_SUITE_END()
