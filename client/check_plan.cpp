// The check's pure parts: planning the probes and judging their evidence.
#include "check_plan.hpp"

#include <algorithm>
#include <array>

#include "classifier.hpp"
#include "control_errors.hpp"
#include "limits.hpp"

namespace egress25::client {

using net::ip::tcp;
using std::chrono::milliseconds;

namespace {

// The name the reflector gave a port (it knows it under --port-offset), else the usual one.
std::string name_for(std::uint16_t port, ServiceKind kind,
                     const std::vector<control::Service>& services) {
  for (const auto& s : services)
    if (s.port == port && !s.name.empty()) return s.name;
  return service_name(port, kind);
}

ServiceKind kind_for(std::uint16_t port, const std::vector<control::Service>& services) {
  for (const auto& s : services)
    if (s.port == port) return s.kind;
  // Not advertised: RFC 8314 implicit TLS on 465, plain SMTP with STARTTLS elsewhere.
  return port == 465 ? ServiceKind::smtps : ServiceKind::smtp;
}

}  // namespace

Family family_of(const net::ip::address& address) {
  return address.is_v4() ? Family::ipv4 : Family::ipv6;
}

bool family_wanted(FamilyChoice choice, Family family) {
  switch (choice) {
    case FamilyChoice::ipv4:
      return family == Family::ipv4;
    case FamilyChoice::ipv6:
      return family == Family::ipv6;
    default:
      return true;
  }
}

FamilySelection select_families(const std::vector<tcp::endpoint>& resolved, FamilyChoice choice) {
  std::vector<ResolvedFamily> families;
  for (const auto& endpoint : resolved) {
    if (endpoint.address().is_v6() && endpoint.address().to_v6().is_v4_mapped()) continue;
    Family family = family_of(endpoint.address());
    auto it = std::find_if(families.begin(), families.end(),
                           [&](const ResolvedFamily& rf) { return rf.family == family; });
    if (it == families.end()) {
      families.push_back(ResolvedFamily{family, {}});
      it = families.end() - 1;
    }
    if (std::find(it->endpoints.begin(), it->endpoints.end(), endpoint) == it->endpoints.end())
      it->endpoints.push_back(endpoint);
  }
  FamilySelection selection;
  for (auto& rf : families) {
    if (family_wanted(choice, rf.family)) {
      selection.families.push_back(std::move(rf));
    } else {
      for (const auto& e : rf.endpoints)
        selection.unwanted_addresses.push_back(e.address().to_string());
    }
  }
  if (choice == FamilyChoice::both)
    for (Family f : std::array<Family, 2>{Family::ipv4, Family::ipv6})
      if (std::none_of(selection.families.begin(), selection.families.end(),
                       [&](const ResolvedFamily& rf) { return rf.family == f; }))
        selection.families.push_back(ResolvedFamily{f, {}});
  return selection;
}

std::vector<NotProbed> drop_unusable(std::vector<ResolvedFamily>& families,
                                     const std::string& reflector_host,
                                     const std::vector<std::uint16_t>& ports,
                                     const UnusableFamily& unusable) {
  std::vector<NotProbed> not_probed;
  std::erase_if(families, [&](const ResolvedFamily& rf) {
    std::optional<std::string> why;
    if (rf.endpoints.empty())
      why = "the reflector's name " + reflector_host + " has no " + family_label(rf.family) +
            " address";
    else
      why = unusable(rf.endpoints.front().address());
    if (!why) return false;
    not_probed.push_back(NotProbed{Target::reflector, reflector_host, rf.family, ports, *why});
    return true;
  });
  return not_probed;
}

ProbeTimeouts probe_timeouts(milliseconds timeout, milliseconds control_timeout) {
  const milliseconds step = std::max(timeout, control_timeout);
  return ProbeTimeouts{timeout, step, timeout + 6 * step};
}

std::vector<std::uint16_t> ports_to_probe(const std::vector<std::uint16_t>& asked,
                                          const std::vector<control::Service>& services) {
  if (!asked.empty()) return asked;
  std::vector<std::uint16_t> ports;
  for (const auto& s : services) ports.push_back(s.port);
  return ports;
}

void fill_not_probed_ports(std::vector<NotProbed>& not_probed,
                           const std::vector<std::uint16_t>& ports) {
  for (auto& skipped : not_probed)
    if (skipped.ports.empty()) skipped.ports = ports;
}

std::vector<PlannedProbe> plan_reflector_probes(const std::string& reflector_host,
                                                const std::vector<std::uint16_t>& ports,
                                                const std::vector<ProbeFamily>& families,
                                                const control::HelloResponse& hello,
                                                const ProbeTimeouts& timeouts) {
  std::vector<PlannedProbe> planned;
  int tag_index = 0;
  for (auto port : ports)
    for (const auto& pf : families) {
      PlannedProbe p;
      p.probe.host = reflector_host;
      p.probe.port = port;
      p.probe.kind = kind_for(port, hello.services);
      p.probe.service = name_for(port, p.probe.kind, hello.services);
      p.probe.family = pf.family;
      p.probe.probe_tag = control::make_probe_tag(hello.probe_id, ++tag_index);
      p.probe.address = pf.address.to_string();
      p.spec = ProbeSpec{reflector_host, pf.address,        port,
                         p.probe.kind,   p.probe.probe_tag, timeouts.connect,
                         timeouts.step,  timeouts.budget,   {}};
      planned.push_back(std::move(p));
    }
  return planned;
}

DestinationPlan plan_destination_probes(const DestinationTarget& target, std::uint16_t port,
                                        const Destination& resolved,
                                        const std::vector<Family>& families, FamilyChoice choice,
                                        const ProbeTimeouts& timeouts) {
  DestinationPlan plan;
  std::vector<DestinationHost> hosts = resolved.hosts;
  if (hosts.empty()) hosts.push_back(DestinationHost{target.name, {}, resolved.error});
  for (const auto& host : hosts) {
    std::vector<Family> host_families = families;
    if (target.is_address)  // a literal is probed in its own family
      host_families.assign(
          1, host.addresses.empty() ? families.front() : family_of(host.addresses.front()));
    for (Family family : host_families) {
      PlannedProbe p;
      p.probe.host = host.name;
      p.probe.port = port;
      p.probe.kind = ServiceKind::smtp;
      p.probe.service = service_name(port, ServiceKind::smtp);
      p.probe.family = family;
      auto address = std::find_if(host.addresses.begin(), host.addresses.end(),
                                  [&](const auto& a) { return family_of(a) == family; });
      if (address != host.addresses.end() && family_wanted(choice, family)) {
        p.probe.address = address->to_string();
        p.spec = ProbeSpec{host.name,
                           *address,
                           port,
                           ServiceKind::smtp,
                           "",
                           timeouts.connect,
                           timeouts.step,
                           timeouts.budget,
                           destination_ehlo_name};
      } else if (host.error.empty() && !host.addresses.empty()) {
        // Most MX hosts have no IPv6 address: not a failure, one line.
        plan.not_probed.push_back(NotProbed{
            Target::destination,
            host.name,
            family,
            {port},
            address != host.addresses.end()
                ? host.name + " is an " + family_label(family) + " address, which --family excludes"
                : host.name + " has no " + family_label(family) + " address"});
        continue;
      } else {
        p.probe.connect = ConnectOutcome::not_attempted;
        p.probe.connect_error = !host.error.empty() ? host.error : host.name + " has no address";
      }
      plan.probes.push_back(std::move(p));
    }
  }
  return plan;
}

std::vector<Family> families_when_unreachable(const std::vector<Family>& resolved,
                                              FamilyChoice choice,
                                              const std::vector<NotProbed>& not_probed) {
  if (!resolved.empty()) return resolved;
  std::vector<Family> families;
  if (choice != FamilyChoice::ipv6) families.push_back(Family::ipv4);
  if (choice == FamilyChoice::ipv6 || choice == FamilyChoice::both)
    families.push_back(Family::ipv6);
  // A family this host cannot use at all is named once, not probed.
  std::erase_if(families, [&](Family f) {
    return std::any_of(not_probed.begin(), not_probed.end(),
                       [&](const NotProbed& n) { return n.family == f; });
  });
  return families;
}

ProbeResult unprobed(ClientProbe probe, const std::string& why) {
  ProbeResult result;
  result.evidence.client = std::move(probe);
  result.evidence.reflector.report_error = why;
  result.evidence.trace_unavailable = "nothing was probed";
  result.classification.verdict = Verdict::inconclusive;
  result.classification.location = Location::unknown;
  std::string reason = "Nothing was probed: " + why;
  if (reason.back() != '.' && reason.back() != '?') reason += '.';
  result.classification.reasons.push_back(std::move(reason));
  return result;
}

CheckReport unreachable_report(CheckReport report, const CheckOptions& options,
                               const std::vector<ResolvedFamily>& families, std::string error,
                               bool self_explained) {
  report.control_reached = false;
  report.witness_reason = "unknown: the reflector could not be asked";
  report.control_error = std::move(error);
  std::vector<Family> resolved;
  for (const auto& rf : families) resolved.push_back(rf.family);
  const auto probed = families_when_unreachable(resolved, options.family, report.not_probed);
  const auto& ports = options.ports.empty() ? standard_ports : options.ports;
  fill_not_probed_ports(report.not_probed, ports);
  for (auto port : ports)
    for (Family family : probed) {
      ClientProbe probe;
      probe.host = options.reflector_host;
      for (const auto& rf : families)
        if (rf.family == family && !rf.endpoints.empty())
          probe.address = rf.endpoints.front().address().to_string();
      probe.port = port;
      probe.kind = kind_for(port, {});
      probe.service = service_name(port, probe.kind);
      probe.family = family;
      report.probes.push_back(unprobed(std::move(probe), report.control_error));
    }
  SummaryInput input;
  input.reflector_host = options.reflector_host;
  input.control_reached = false;
  for (const auto& skipped : report.not_probed) input.not_probed.push_back(skipped.reason);
  input.control_error = report.control_error;
  report.summary =
      self_explained ? nothing_measured(report.control_error, input.not_probed) : summarize(input);
  return report;
}

std::chrono::milliseconds timeout_from_rtt(double rtt_ms) {
  auto computed =
      milliseconds(static_cast<long long>(4 * std::max(rtt_ms, 0.0))) + limits::syn_retransmit_time;
  return std::clamp<milliseconds>(computed, limits::min_probe_timeout, limits::max_probe_timeout);
}

// ---- Judging ----------------------------------------------------------------------

std::optional<std::string> no_trace_reason(const ClientProbe& probe, const ProbeResult& untraced,
                                           bool tracing) {
  const Classification& c = untraced.classification;
  const bool relayed =
      std::any_of(untraced.evidence.reflector.tagged.begin(),
                  untraced.evidence.reflector.tagged.end(), [&](const ConnectionRecord& r) {
                    return r.peer_address != untraced.evidence.reflector.client_public_address;
                  });
  if (probe.connect == ConnectOutcome::connected && c.verdict == Verdict::open && !relayed)
    return "the probe reached the reflector unchanged: there was nothing to locate";
  if (c.refused_by_reflector)
    return "the reflector refused the connection for its own limits: there is nothing on the "
           "path to locate";
  if (probe.connect == ConnectOutcome::not_attempted ||
      probe.connect == ConnectOutcome::local_error)
    return "nothing left this host, so there is no path to trace";
  if (!tracing) return "tracing was turned off (--no-trace)";
  return std::nullopt;
}

ProbeResult judge(const ClientProbe& probe, const SessionFacts& session,
                  const ReportOutcome& report, TraceOutcome trace, const HostNetwork& host) {
  ProbeResult result;
  result.evidence = assemble_evidence(probe, session, report, std::move(trace));
  result.evidence.host = host;
  result.classification = classify(result.evidence);
  return result;
}

std::optional<Verdict> reference_verdict(const std::vector<ProbeResult>& reflector_results,
                                         Family family) {
  for (int pass = 0; pass < 2; ++pass)
    for (const auto& result : reflector_results) {
      const ClientProbe& r = result.evidence.client;
      if (r.family != family) continue;
      if (pass == 0 ? r.port == 25 : r.service == "smtp") return result.classification.verdict;
    }
  return std::nullopt;
}

ProbeResult judge_destination(ClientProbe probe, const std::vector<ProbeResult>& reflector_results,
                              const HostNetwork& host) {
  ProbeResult result;
  result.evidence.target = Target::destination;
  result.evidence.trace_unavailable = "not traced for destinations";
  result.evidence.host = host;
  result.evidence.reference_verdict = reference_verdict(reflector_results, probe.family);
  result.evidence.client = std::move(probe);
  result.classification = classify(result.evidence);
  return result;
}

DestinationRow destination_row(const ProbeResult& result) {
  const ClientProbe& p = result.evidence.client;
  const Classification& c = result.classification;
  return DestinationRow{p.host, p.family, c.verdict, c.location,
                        c.reasons.empty() ? "" : c.reasons.front()};
}

SummaryRow summary_row(const ProbeResult& result) {
  const ClientProbe& p = result.evidence.client;
  const Classification& c = result.classification;
  SummaryRow row;
  row.port = p.port;
  row.service = p.service;
  row.family = p.family;
  row.verdict = c.verdict;
  row.location = c.location;
  row.segment = c.segment;
  row.blocking_hop = c.blocking_hop;
  row.candidates = c.blocking_candidates;
  row.refused_by_reflector = c.refused_by_reflector;
  for (const auto& r : result.evidence.reflector.tagged)
    if (r.peer_address != result.evidence.reflector.client_public_address)
      row.arrived_from = r.peer_address;
  return row;
}

SummaryInput summary_input(const std::string& reflector_host,
                           const std::vector<ProbeResult>& results,
                           const std::vector<NotProbed>& not_probed) {
  SummaryInput input;
  input.reflector_host = reflector_host;
  for (const auto& result : results) input.rows.push_back(summary_row(result));
  for (const auto& skipped : not_probed)
    if (skipped.target == Target::reflector) input.not_probed.push_back(skipped.reason);
  return input;
}

int exit_status(const CheckReport& report) {
  if (!report.control_reached) return 3;
  for (const auto& p : report.probes)
    if (p.classification.verdict != Verdict::open) return 1;
  return 0;
}

}  // namespace egress25::client
