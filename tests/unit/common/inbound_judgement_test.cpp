// Unit tests of the inbound judgement: what the reflector met when it connected back, and
// its trace toward the client, read as "who stops inbound mail", case by case.
#include "inbound_judgement.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace egress25;

namespace {

// Seen from the reflector: its gateway (hop 1, the hosting provider), the ISP's routers
// (hops 2 and 3), the client's public address (hop 4).
const std::string provider = "203.0.113.1";
const std::string isp_a = "198.51.100.5";
const std::string isp_b = "198.51.100.1";
const std::string public_address = "198.51.100.130";

TraceHop te(int ttl, std::string address) {
  return {ttl, std::move(address), HopKind::time_exceeded, 11, 0};
}
TraceHop quiet(int ttl) {
  return {ttl, "", HopKind::silent, 0, 0};
}
TraceHop rst(int ttl) {
  return {ttl, public_address, HopKind::reset, 0, 0};
}

InboundAttempt attempt(ConnectOutcome outcome) {
  InboundAttempt a;
  a.address = public_address;
  a.port = 25;
  a.connect = outcome;
  if (outcome == ConnectOutcome::timed_out) a.connect_error = "no answer within 5000 ms";
  return a;
}

PathTrace trace(std::vector<TraceHop> probed, std::vector<TraceHop> reference) {
  PathTrace t;
  t.probed.port = 25;
  t.probed.hops = std::move(probed);
  t.reference.port = 40123;
  t.reference.hops = std::move(reference);
  return t;
}

InboundEvidence evidence(InboundAttempt a) {
  InboundEvidence e;
  e.port = 25;
  e.attempt = std::move(a);
  e.local_addresses = {"192.0.2.10"};
  return e;
}

bool says(const Classification& c, const std::string& text) {
  for (const auto& r : c.reasons)
    if (r.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(inbound_judgement)

BOOST_AUTO_TEST_CASE(a_greeting_is_open_with_its_banner) {
  auto a = attempt(ConnectOutcome::connected);
  a.banner_code = 220;
  a.banner = "220 mx.home.example ESMTP Postfix\r\n";
  a.ehlo_code = 250;
  a.quit_code = 221;
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.verdict == Verdict::open));
  BOOST_TEST((c.location == Location::none));
  BOOST_TEST(says(c, "220 mx.home.example ESMTP Postfix"));
  // With a listener here that saw nothing, the server that answered is another machine.
  auto e = evidence(a);
  e.reached_this_machine = false;
  BOOST_TEST(says(judge_inbound(e), "forwards port 25 to another machine"));
}

BOOST_AUTO_TEST_CASE(a_connection_without_a_greeting_is_inconclusive) {
  auto a = attempt(ConnectOutcome::connected);
  a.end = DialogueEnd::timed_out;
  a.end_detail = "no the greeting within 5000 ms";
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.verdict == Verdict::inconclusive));
  BOOST_TEST((c.location == Location::unknown));
}

BOOST_AUTO_TEST_CASE(the_router_refusing_itself_forwards_nothing) {
  auto a = attempt(ConnectOutcome::refused);
  a.trace = trace({te(1, provider), te(2, isp_a), te(3, isp_b), rst(4)},
                  {te(1, provider), te(2, isp_a), te(3, isp_b), rst(4)});
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.verdict == Verdict::not_listening));
  BOOST_TEST((c.location == Location::path));
  BOOST_TEST((c.segment == Segment::local_network));
  BOOST_TEST_REQUIRE(c.blocking_hop.has_value());
  BOOST_TEST(c.blocking_hop->ttl == 4);
  BOOST_TEST(c.blocking_hop->address == public_address);
  BOOST_TEST(says(c, "forwards nothing on port 25"));
}

// Behind carrier-grade NAT the public address is the ISP's NAT: its refusal is the ISP's
// (upstream), and never "your router".
BOOST_AUTO_TEST_CASE(behind_cgnat_the_refusal_at_the_public_address_is_the_isps) {
  auto a = attempt(ConnectOutcome::refused);
  a.trace = trace({te(1, provider), te(2, isp_a), te(3, isp_b), rst(4)},
                  {te(1, provider), te(2, isp_a), te(3, isp_b), rst(4)});
  auto e = evidence(a);
  e.public_address_is_isp_nat = true;
  const auto c = judge_inbound(e);
  BOOST_TEST((c.verdict == Verdict::not_listening));
  BOOST_TEST((c.location == Location::path));
  BOOST_TEST((c.segment == Segment::upstream));
  BOOST_TEST_REQUIRE(c.blocking_hop.has_value());
  BOOST_TEST(c.blocking_hop->address == public_address);
  BOOST_TEST(c.blocking_hop->role.find("carrier-grade NAT") != std::string::npos);
  BOOST_TEST(says(c, "your ISP's carrier-grade NAT forwards nothing on port 25"));
  BOOST_TEST(!says(c, "your router"));
}

BOOST_AUTO_TEST_CASE(without_nat_the_refusal_is_this_computers) {
  auto a = attempt(ConnectOutcome::refused);
  a.trace = trace({te(1, provider), te(2, isp_a), rst(3)}, {te(1, provider), te(2, isp_a), rst(3)});
  auto e = evidence(a);
  e.local_addresses = {public_address};
  const auto c = judge_inbound(e);
  BOOST_TEST((c.verdict == Verdict::not_listening));
  BOOST_TEST((c.location == Location::client_host));
}

BOOST_AUTO_TEST_CASE(a_forward_to_a_machine_that_refuses) {
  // The public address expired the SYN at TTL 4 (it forwarded it); hop 5 refused.
  auto a = attempt(ConnectOutcome::refused);
  a.trace = trace({te(1, provider), te(2, isp_a), te(3, isp_b), te(4, public_address), rst(5)},
                  {te(1, provider), te(2, isp_a), te(3, isp_b), rst(4)});
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.verdict == Verdict::not_listening));
  BOOST_TEST((c.location == Location::client_host));
  BOOST_TEST(says(c, "forwards it to a machine behind it"));
}

std::string candidates_text(const Classification& c) {
  std::string out;
  for (const auto& h : c.blocking_candidates)
    out += (out.empty() ? "" : ",") + std::to_string(h.ttl) + "@" + h.address;
  return out;
}

BOOST_AUTO_TEST_CASE(a_reset_by_a_filter_on_the_way) {
  // Reset first seen at TTL 3 while the reference port went on: hop 2's way out or hop
  // 3's inbound filter, both the ISP's.
  auto a = attempt(ConnectOutcome::refused);
  a.trace = trace({te(1, provider), te(2, isp_a), rst(3)},
                  {te(1, provider), te(2, isp_a), te(3, isp_b), rst(4)});
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.verdict == Verdict::reset));
  BOOST_TEST(!c.blocking_hop.has_value());
  BOOST_TEST(candidates_text(c) == "2@" + isp_a + ",3@" + isp_b);
  BOOST_TEST((c.segment == Segment::upstream));
  BOOST_TEST(says(c, "inbound filter"));
}

BOOST_AUTO_TEST_CASE(the_isp_dropping_inbound_25_names_its_routers) {
  // Answered up to hop 2, the reference at hop 3: hop 2's forwarding filter or hop 3's
  // inbound one; both the ISP's, so the ISP is named, but no single hop.
  auto a = attempt(ConnectOutcome::timed_out);
  a.trace = trace({te(1, provider), te(2, isp_a), quiet(3)},
                  {te(1, provider), te(2, isp_a), te(3, isp_b), rst(4)});
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.verdict == Verdict::dropped));
  BOOST_TEST((c.location == Location::path));
  BOOST_TEST((c.segment == Segment::upstream));
  BOOST_TEST(!c.blocking_hop.has_value());
  BOOST_TEST(candidates_text(c) == "2@" + isp_a + ",3@" + isp_b);
}

BOOST_AUTO_TEST_CASE(the_last_isp_router_or_the_public_address) {
  // Answered up to the ISP's last router, the reference by the public address: the ISP's
  // forwarding filter or the router's own inbound one, two segments.
  auto a = attempt(ConnectOutcome::timed_out);
  a.trace = trace({te(1, provider), te(2, isp_a), te(3, isp_b), quiet(4)},
                  {te(1, provider), te(2, isp_a), te(3, isp_b), rst(4)});
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.location == Location::path));
  BOOST_TEST((c.segment == Segment::unknown));
  BOOST_TEST(candidates_text(c) == "3@" + isp_b + ",4@" + public_address);
  BOOST_TEST(c.blocking_candidates[1].role == "your router (your public address)");
}

BOOST_AUTO_TEST_CASE(the_reflectors_provider_or_the_next_network) {
  // Answered at the reflector's gateway and no further: its forwarding filter, or the
  // inbound filter of the ISP's router after it. Not the provider alone.
  auto a = attempt(ConnectOutcome::timed_out);
  a.trace = trace({te(1, provider), quiet(2)}, {te(1, provider), te(2, isp_a), te(3, isp_b)});
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.verdict == Verdict::dropped));
  BOOST_TEST((c.segment == Segment::unknown));
  BOOST_TEST(!c.blocking_hop.has_value());
  BOOST_TEST(candidates_text(c) == "1@" + provider + ",2@" + isp_a);
}

BOOST_AUTO_TEST_CASE(the_reflector_host_or_its_gateway) {
  // Not even TTL 1 answered: the reflector host's own firewall, or its provider's first
  // router filtering as the packet arrives. The reflector's side either way.
  auto a = attempt(ConnectOutcome::timed_out);
  a.trace = trace({quiet(1)}, {te(1, provider), te(2, isp_a)});
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.verdict == Verdict::dropped));
  BOOST_TEST((c.location == Location::path));
  BOOST_TEST((c.segment == Segment::reflector_network));
  BOOST_TEST(candidates_text(c) == "0@,1@" + provider);
  BOOST_TEST(says(c, "the reflector host itself or its provider's first router"));
}

BOOST_AUTO_TEST_CASE(the_reflectors_kernel_tells_its_host_from_its_gateway) {
  // Not even TTL 1 answered; the reflector's TCP_INFO says whether the SYN left it.
  auto a = attempt(ConnectOutcome::timed_out);
  a.trace = trace({quiet(1)}, {te(1, provider), te(2, isp_a)});
  a.syn_left_host = false;
  auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.location == Location::reflector_host));
  BOOST_TEST(c.blocking_candidates.empty());
  BOOST_TEST(says(c, "its own firewall stops outbound port 25"));
  a.syn_left_host = true;
  c = judge_inbound(evidence(a));
  BOOST_TEST((c.location == Location::path));
  BOOST_TEST((c.segment == Segment::reflector_network));
  BOOST_TEST_REQUIRE(c.blocking_hop.has_value());
  BOOST_TEST(c.blocking_hop->ttl == 1);
  BOOST_TEST(says(c, "its provider's first router stops outbound port 25"));
}

BOOST_AUTO_TEST_CASE(both_ports_dying_at_the_same_place_gives_candidates) {
  // A router that drops everything unsolicited: no hop can be pinned.
  auto a = attempt(ConnectOutcome::timed_out);
  a.trace = trace({te(1, provider), te(2, isp_a), te(3, isp_b), quiet(4)},
                  {te(1, provider), te(2, isp_a), te(3, isp_b), quiet(4)});
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.verdict == Verdict::dropped));
  BOOST_TEST(!c.blocking_hop.has_value());
  BOOST_TEST_REQUIRE(c.blocking_candidates.size() == 2u);
  BOOST_TEST(c.blocking_candidates[0].ttl == 3);
  BOOST_TEST(c.blocking_candidates[1].ttl == 4);
  BOOST_TEST((c.segment == Segment::unknown));
}

BOOST_AUTO_TEST_CASE(silence_without_a_trace_is_not_placed) {
  const auto c = judge_inbound(evidence(attempt(ConnectOutcome::timed_out)));
  BOOST_TEST((c.verdict == Verdict::dropped));
  BOOST_TEST((c.location == Location::unknown));
  BOOST_TEST(!c.blocking_hop.has_value());
}

BOOST_AUTO_TEST_CASE(an_icmp_error_names_its_sender) {
  auto a = attempt(ConnectOutcome::icmp_error);
  a.icmp = IcmpReport{isp_b, 3, 13, "communication administratively prohibited"};
  a.trace = trace({te(1, provider), te(2, isp_a), {3, isp_b, HopKind::unreachable, 3, 13}},
                  {te(1, provider), te(2, isp_a), te(3, isp_b), rst(4)});
  const auto c = judge_inbound(evidence(a));
  BOOST_TEST((c.verdict == Verdict::icmp_unreachable));
  BOOST_TEST_REQUIRE(c.blocking_hop.has_value());
  BOOST_TEST(c.blocking_hop->address == isp_b);
  BOOST_TEST(says(c, isp_b));
}

BOOST_AUTO_TEST_CASE(a_refusal_by_the_reflector_is_inconclusive_and_says_so) {
  InboundEvidence e;
  e.port = 25;
  e.unavailable = "the reflector refused: already connected back";
  e.refused_by_reflector = true;
  const auto c = judge_inbound(e);
  BOOST_TEST((c.verdict == Verdict::inconclusive));
  BOOST_TEST(c.refused_by_reflector);
  BOOST_TEST(says(c, "already connected back"));
}

BOOST_AUTO_TEST_SUITE_END()
