// Unit tests for the check's planning (families, ports, what is not probed) and judging
// (evidence → verdicts → summary inputs), the pure halves of run_check.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "check_plan.hpp"

using namespace egress25;
using namespace egress25::client;
using net::ip::make_address;
using net::ip::tcp;
using std::chrono::milliseconds;

namespace {

tcp::endpoint at(const char* address, std::uint16_t port = 2525) {
  return tcp::endpoint(make_address(address), port);
}

ProbeTimeouts some_timeouts() {
  return probe_timeouts(milliseconds(1000), milliseconds(3000));
}

ProbeResult judged(std::uint16_t port, std::string service, Family family, Verdict verdict) {
  ProbeResult r;
  r.evidence.client.port = port;
  r.evidence.client.service = std::move(service);
  r.evidence.client.family = family;
  r.classification.verdict = verdict;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(check_plan)

BOOST_AUTO_TEST_CASE(families_split_in_resolver_order_without_mapped_or_repeated) {
  const std::vector<tcp::endpoint> resolved{at("2001:db8::5"), at("192.0.2.5"),
                                            at("::ffff:192.0.2.9"), at("2001:db8::5"),
                                            at("2001:db8::6")};
  auto s = select_families(resolved, FamilyChoice::automatic);
  BOOST_TEST_REQUIRE(s.families.size() == 2u);
  BOOST_TEST((s.families[0].family == Family::ipv6));  // the resolver's preference first
  BOOST_TEST_REQUIRE(s.families[0].endpoints.size() == 2u);
  BOOST_TEST(s.families[0].endpoints[1].address().to_string() == "2001:db8::6");
  BOOST_TEST((s.families[1].family == Family::ipv4));
  BOOST_TEST(s.families[1].endpoints.size() == 1u);  // the v4-mapped one is not IPv4's
  BOOST_TEST(s.unwanted_addresses.empty());
}

BOOST_AUTO_TEST_CASE(family_choice_keeps_what_is_asked_and_names_the_rest) {
  const std::vector<tcp::endpoint> resolved{at("2001:db8::5"), at("192.0.2.5")};
  auto v4 = select_families(resolved, FamilyChoice::ipv4);
  BOOST_TEST_REQUIRE(v4.families.size() == 1u);
  BOOST_TEST((v4.families[0].family == Family::ipv4));
  BOOST_TEST(v4.unwanted_addresses == std::vector<std::string>{"2001:db8::5"});

  // `both` keeps a family the name lacks, empty, so that it is named as not probed.
  const std::vector<tcp::endpoint> only_v4{at("192.0.2.5")};
  auto both = select_families(only_v4, FamilyChoice::both);
  BOOST_TEST_REQUIRE(both.families.size() == 2u);
  BOOST_TEST((both.families[1].family == Family::ipv6));
  BOOST_TEST(both.families[1].endpoints.empty());
  BOOST_TEST(select_families(only_v4, FamilyChoice::automatic).families.size() == 1u);
}

BOOST_AUTO_TEST_CASE(unusable_families_are_one_line_each_not_probes) {
  std::vector<ResolvedFamily> families{{Family::ipv4, {at("192.0.2.5")}},
                                       {Family::ipv6, {at("2001:db8::5")}}};
  const UnusableFamily no_ipv6_route = [](const net::ip::address& a) -> std::optional<std::string> {
    if (a.is_v6()) return "this computer has no IPv6 route";
    return std::nullopt;
  };
  auto not_probed = drop_unusable(families, "reflector.example", {25}, no_ipv6_route);
  BOOST_TEST_REQUIRE(families.size() == 1u);
  BOOST_TEST((families[0].family == Family::ipv4));
  BOOST_TEST_REQUIRE(not_probed.size() == 1u);
  BOOST_TEST((not_probed[0].family == Family::ipv6));
  BOOST_TEST((not_probed[0].target == Target::reflector));
  BOOST_TEST(not_probed[0].reason == "this computer has no IPv6 route");
  BOOST_TEST(not_probed[0].ports == std::vector<std::uint16_t>{25});

  std::vector<ResolvedFamily> nameless{{Family::ipv6, {}}};
  const UnusableFamily all_usable = [](const net::ip::address&) {
    return std::optional<std::string>{};
  };
  not_probed = drop_unusable(nameless, "reflector.example", {}, all_usable);
  BOOST_TEST(nameless.empty());
  BOOST_TEST_REQUIRE(not_probed.size() == 1u);
  BOOST_TEST(not_probed[0].reason == "the reflector's name reflector.example has no IPv6 address");
}

BOOST_AUTO_TEST_CASE(a_live_dialogue_gets_at_least_the_control_timeout_per_step) {
  auto t = probe_timeouts(milliseconds(1000), milliseconds(3000));
  BOOST_TEST(t.connect.count() == 1000);
  BOOST_TEST(t.step.count() == 3000);
  BOOST_TEST(t.budget.count() == 1000 + 6 * 3000);
  t = probe_timeouts(milliseconds(8000), milliseconds(3000));
  BOOST_TEST(t.step.count() == 8000);
  BOOST_TEST(t.budget.count() == 8000 + 6 * 8000);
}

BOOST_AUTO_TEST_CASE(ports_asked_for_else_those_advertised) {
  const std::vector<control::Service> services{{2525, ServiceKind::smtp, "smtp"},
                                               {2465, ServiceKind::smtps, "smtps"}};
  BOOST_TEST(ports_to_probe({587}, services) == std::vector<std::uint16_t>{587});
  BOOST_TEST(ports_to_probe({}, services) == (std::vector<std::uint16_t>{2525, 2465}));

  std::vector<NotProbed> not_probed(2);
  not_probed[1].ports = {25};
  fill_not_probed_ports(not_probed, {2525, 2465});
  BOOST_TEST(not_probed[0].ports == (std::vector<std::uint16_t>{2525, 2465}));
  BOOST_TEST(not_probed[1].ports == std::vector<std::uint16_t>{25});  // its own, kept
}

BOOST_AUTO_TEST_CASE(reflector_probes_every_port_in_every_family_tagged_in_order) {
  control::HelloResponse hello;
  hello.probe_id = "p1d";
  hello.services = {{2525, ServiceKind::smtp, "smtp"}, {2465, ServiceKind::smtps, "smtps"}};
  const std::vector<ProbeFamily> families{{Family::ipv4, make_address("192.0.2.5")},
                                          {Family::ipv6, make_address("2001:db8::5")}};
  const auto timeouts = some_timeouts();
  auto planned =
      plan_reflector_probes("reflector.example", {2525, 2465, 465}, families, hello, timeouts);
  BOOST_TEST_REQUIRE(planned.size() == 6u);
  // Ports outermost, families inside, tags numbered from 1 in that order.
  BOOST_TEST(planned[0].probe.port == 2525);
  BOOST_TEST((planned[0].probe.family == Family::ipv4));
  BOOST_TEST((planned[1].probe.family == Family::ipv6));
  BOOST_TEST(planned[1].probe.port == 2525);
  BOOST_TEST(planned[0].probe.probe_tag == control::make_probe_tag("p1d", 1));
  BOOST_TEST(planned[5].probe.probe_tag == control::make_probe_tag("p1d", 6));
  // The reflector's names under a port offset; 465 unadvertised is still implicit TLS.
  BOOST_TEST(planned[0].probe.service == "smtp");
  BOOST_TEST((planned[2].probe.kind == ServiceKind::smtps));
  BOOST_TEST((planned[4].probe.kind == ServiceKind::smtps));
  BOOST_TEST(planned[4].probe.service == service_name(465, ServiceKind::smtps));
  for (const auto& p : planned) {
    BOOST_TEST_REQUIRE(p.spec.has_value());
    BOOST_TEST(p.spec->address.to_string() == p.probe.address);
    BOOST_TEST(p.spec->probe_tag == p.probe.probe_tag);
    BOOST_TEST(p.spec->ehlo_name.empty());  // the tag's own hostname
    BOOST_TEST(p.spec->connect_timeout.count() == timeouts.connect.count());
    BOOST_TEST(p.spec->step_timeout.count() == timeouts.step.count());
    BOOST_TEST(p.spec->budget.count() == timeouts.budget.count());
  }
  BOOST_TEST(planned[1].probe.address == "2001:db8::5");
}

BOOST_AUTO_TEST_CASE(destination_hosts_without_a_family_are_named_not_failed) {
  Destination resolved;
  resolved.hosts = {{"mx1.example.org", {make_address("192.0.2.25")}, ""},
                    {"mx2.example.org", {}, "mx2.example.org does not resolve"}};
  const std::vector<Family> families{Family::ipv4, Family::ipv6};
  auto plan = plan_destination_probes({"example.org", false}, 25, resolved, families,
                                      FamilyChoice::both, some_timeouts());
  BOOST_TEST_REQUIRE(plan.probes.size() == 3u);
  // mx1 over IPv4: a probe, with a neutral EHLO name and no tag of the session.
  BOOST_TEST(plan.probes[0].probe.host == "mx1.example.org");
  BOOST_TEST_REQUIRE(plan.probes[0].spec.has_value());
  BOOST_TEST(plan.probes[0].spec->ehlo_name == destination_ehlo_name);
  BOOST_TEST(plan.probes[0].spec->probe_tag.empty());
  BOOST_TEST(plan.probes[0].spec->port == 25);
  // mx2 does not resolve: a probe per family that failed before sending, with the reason.
  for (std::size_t i = 1; i < 3; ++i) {
    BOOST_TEST(!plan.probes[i].spec.has_value());
    BOOST_TEST((plan.probes[i].probe.connect == ConnectOutcome::not_attempted));
    BOOST_TEST(plan.probes[i].probe.connect_error == "mx2.example.org does not resolve");
  }
  // mx1 has no IPv6 address: one line, not a probe.
  BOOST_TEST_REQUIRE(plan.not_probed.size() == 1u);
  BOOST_TEST((plan.not_probed[0].target == Target::destination));
  BOOST_TEST((plan.not_probed[0].family == Family::ipv6));
  BOOST_TEST(plan.not_probed[0].reason == "mx1.example.org has no IPv6 address");
}

BOOST_AUTO_TEST_CASE(destination_literal_in_its_own_family_or_excluded) {
  Destination literal;
  literal.hosts = {{"2001:db8::25", {make_address("2001:db8::25")}, ""}};
  const std::vector<Family> v4{Family::ipv4};
  auto plan = plan_destination_probes({"2001:db8::25", true}, 25, literal, v4, FamilyChoice::ipv4,
                                      some_timeouts());
  BOOST_TEST(plan.probes.empty());
  BOOST_TEST_REQUIRE(plan.not_probed.size() == 1u);
  BOOST_TEST(plan.not_probed[0].reason ==
             "2001:db8::25 is an IPv6 address, which --family excludes");

  plan = plan_destination_probes({"2001:db8::25", true}, 25, literal, v4, FamilyChoice::automatic,
                                 some_timeouts());
  BOOST_TEST_REQUIRE(plan.probes.size() == 1u);
  BOOST_TEST((plan.probes[0].probe.family == Family::ipv6));
  BOOST_TEST(plan.probes[0].spec.has_value());

  // No host at all: one failed probe named after the target, with the lookup's error.
  Destination none;
  none.error = "example.org has no MX and no address";
  plan = plan_destination_probes({"example.org", false}, 25, none, v4, FamilyChoice::automatic,
                                 some_timeouts());
  BOOST_TEST_REQUIRE(plan.probes.size() == 1u);
  BOOST_TEST(plan.probes[0].probe.host == "example.org");
  BOOST_TEST(plan.probes[0].probe.connect_error == none.error);
}

BOOST_AUTO_TEST_CASE(unreachable_reflector_every_port_inconclusive_exit_3) {
  CheckOptions options;
  options.reflector_host = "reflector.example";
  options.family = FamilyChoice::both;
  CheckReport report;
  report.not_probed.push_back(
      NotProbed{Target::reflector, "reflector.example", Family::ipv6, {}, "no IPv6 route"});
  auto r = unreachable_report(report, options, {}, "cannot reach it", false);
  BOOST_TEST(!r.control_reached);
  BOOST_TEST(exit_status(r) == 3);
  // IPv6 is named once, not probed: the standard ports over IPv4 only.
  BOOST_TEST_REQUIRE(r.probes.size() == standard_ports.size());
  for (std::size_t i = 0; i < r.probes.size(); ++i) {
    BOOST_TEST(r.probes[i].evidence.client.port == standard_ports[i]);
    BOOST_TEST((r.probes[i].evidence.client.family == Family::ipv4));
    BOOST_TEST((r.probes[i].classification.verdict == Verdict::inconclusive));
    BOOST_TEST(r.probes[i].classification.reasons.at(0) == "Nothing was probed: cannot reach it.");
  }
  BOOST_TEST((r.probes[1].evidence.client.kind == ServiceKind::smtps));
  BOOST_TEST(r.not_probed[0].ports == standard_ports);
  BOOST_TEST(!r.summary.empty());

  // Resolved families are reported with the address that was tried.
  std::vector<ResolvedFamily> resolved{{Family::ipv4, {at("192.0.2.5")}}};
  options.ports = {25};
  r = unreachable_report(CheckReport{}, options, resolved, "refused", false);
  BOOST_TEST_REQUIRE(r.probes.size() == 1u);
  BOOST_TEST(r.probes[0].evidence.client.address == "192.0.2.5");
}

BOOST_AUTO_TEST_CASE(families_when_unreachable_by_choice_less_unusable) {
  const std::vector<Family> none;
  BOOST_TEST(families_when_unreachable(none, FamilyChoice::automatic, {}) ==
             std::vector<Family>{Family::ipv4});
  BOOST_TEST(families_when_unreachable(none, FamilyChoice::ipv6, {}) ==
             std::vector<Family>{Family::ipv6});
  BOOST_TEST(families_when_unreachable(none, FamilyChoice::both, {}) ==
             (std::vector<Family>{Family::ipv4, Family::ipv6}));
  std::vector<NotProbed> no_v4(1);
  no_v4[0].family = Family::ipv4;
  BOOST_TEST(families_when_unreachable(none, FamilyChoice::both, no_v4) ==
             std::vector<Family>{Family::ipv6});
  const std::vector<Family> resolved{Family::ipv6};
  BOOST_TEST(families_when_unreachable(resolved, FamilyChoice::both, no_v4) == resolved);
}

BOOST_AUTO_TEST_CASE(nothing_to_trace_when_open_unchanged_or_nothing_left) {
  ClientProbe probe;
  probe.connect = ConnectOutcome::connected;
  ProbeResult open = judged(25, "smtp", Family::ipv4, Verdict::open);
  open.evidence.reflector.client_public_address = "198.51.100.7";
  BOOST_TEST(no_trace_reason(probe, open, true).has_value());
  // Open, but it arrived from another address (a proxy): trace it.
  ConnectionRecord relayed;
  relayed.peer_address = "203.0.113.9";
  open.evidence.reflector.tagged.push_back(relayed);
  BOOST_TEST(!no_trace_reason(probe, open, true).has_value());
  BOOST_TEST(*no_trace_reason(probe, open, false) == "tracing was turned off (--no-trace)");

  ProbeResult blocked = judged(25, "smtp", Family::ipv4, Verdict::dropped);
  probe.connect = ConnectOutcome::timed_out;
  BOOST_TEST(!no_trace_reason(probe, blocked, true).has_value());
  probe.connect = ConnectOutcome::local_error;
  BOOST_TEST(*no_trace_reason(probe, blocked, true) ==
             "nothing left this host, so there is no path to trace");
  blocked.classification.refused_by_reflector = true;
  probe.connect = ConnectOutcome::refused;
  BOOST_TEST(no_trace_reason(probe, blocked, true).has_value());
}

BOOST_AUTO_TEST_CASE(judging_joins_trace_and_host_network) {
  ClientProbe probe;
  probe.port = 25;
  probe.connect = ConnectOutcome::timed_out;
  PathTrace trace;
  const HostNetwork host{{"192.0.2.10"}, "192.0.2.1", ""};
  auto r = judge(probe, SessionFacts{}, ReportOutcome{}, TraceOutcome{trace, ""}, host);
  BOOST_TEST(r.evidence.trace.has_value());
  BOOST_TEST(r.evidence.host.gateway == "192.0.2.1");
  BOOST_TEST(r.evidence.client.port == 25);
  r = judge(probe, SessionFacts{}, ReportOutcome{}, TraceOutcome{std::nullopt, "off"}, host);
  BOOST_TEST(!r.evidence.trace.has_value());
  BOOST_TEST(r.evidence.trace_unavailable == "off");
}

BOOST_AUTO_TEST_CASE(destinations_are_judged_against_port_25_in_their_family) {
  const std::vector<ProbeResult> reflector{judged(2525, "smtp", Family::ipv4, Verdict::dropped),
                                           judged(25, "smtp", Family::ipv4, Verdict::open),
                                           judged(2525, "smtp", Family::ipv6, Verdict::dropped),
                                           judged(587, "submission", Family::ipv6, Verdict::open)};
  // Port 25 by number first; under a port offset the service the reflector calls smtp.
  BOOST_TEST((reference_verdict(reflector, Family::ipv4) == Verdict::open));
  BOOST_TEST((reference_verdict(reflector, Family::ipv6) == Verdict::dropped));
  const std::vector<ProbeResult> only_submission{
      judged(587, "submission", Family::ipv4, Verdict::open)};
  BOOST_TEST(!reference_verdict(only_submission, Family::ipv4).has_value());

  ClientProbe mx;
  mx.host = "mx1.example.org";
  mx.family = Family::ipv6;
  mx.port = 25;
  auto r = judge_destination(mx, reflector, HostNetwork{{}, "fe80::1", ""});
  BOOST_TEST((r.evidence.target == Target::destination));
  BOOST_TEST((r.evidence.reference_verdict == Verdict::dropped));
  BOOST_TEST(r.evidence.host.gateway == "fe80::1");
  BOOST_TEST(!r.evidence.trace_unavailable.empty());
  auto row = destination_row(r);
  BOOST_TEST(row.host == "mx1.example.org");
  BOOST_TEST((row.verdict == r.classification.verdict));
}

BOOST_AUTO_TEST_CASE(summary_input_rows_in_order_and_only_the_reflectors_not_probed) {
  std::vector<ProbeResult> results{judged(25, "smtp", Family::ipv4, Verdict::dropped),
                                   judged(587, "submission", Family::ipv4, Verdict::open)};
  results[1].evidence.reflector.client_public_address = "198.51.100.7";
  ConnectionRecord via_proxy;
  via_proxy.peer_address = "203.0.113.9";
  results[1].evidence.reflector.tagged.push_back(via_proxy);
  std::vector<NotProbed> not_probed{
      {Target::reflector, "r.example", Family::ipv6, {25}, "no IPv6 route"},
      {Target::destination, "mx.example.org", Family::ipv6, {25}, "no IPv6 address"}};
  auto input = summary_input("r.example", results, not_probed);
  BOOST_TEST(input.reflector_host == "r.example");
  BOOST_TEST(input.control_reached);
  BOOST_TEST_REQUIRE(input.rows.size() == 2u);
  BOOST_TEST(input.rows[0].port == 25);
  BOOST_TEST((input.rows[0].verdict == Verdict::dropped));
  BOOST_TEST(input.rows[1].service == "submission");
  BOOST_TEST(input.rows[1].arrived_from == "203.0.113.9");
  BOOST_TEST(input.not_probed == std::vector<std::string>{"no IPv6 route"});
}

BOOST_AUTO_TEST_SUITE_END()
