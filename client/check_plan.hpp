// The check's pure parts: which families and ports to probe and what is not probed
// (planning), and evidence → verdicts → summary inputs (judging). No I/O: run_check
// (check.cpp) does the resolving, connecting, probing and tracing between them.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "check.hpp"
#include "control_protocol.hpp"
#include "destination.hpp"
#include "evidence_assembly.hpp"
#include "options.hpp"
#include "smtp_probe.hpp"
#include "summary.hpp"

namespace egress25::client {

// When the reflector advertises nothing it could not say: a standard install.
inline const std::vector<std::uint16_t> standard_ports{25, 465, 587};

// ---- Planning ---------------------------------------------------------------------

Family family_of(const net::ip::address& address);

// Whether --family lets `family` be probed.
bool family_wanted(FamilyChoice choice, Family family);

// One family of the reflector as resolved: its endpoints, in the resolver's order.
struct ResolvedFamily {
  Family family = Family::ipv4;
  std::vector<net::ip::tcp::endpoint> endpoints;  // empty: the name has none of this family
};

struct FamilySelection {
  std::vector<ResolvedFamily> families;         // wanted, in the resolver's order
  std::vector<std::string> unwanted_addresses;  // the addresses --family left out
};

// The resolver's answer split by family (v4-mapped and repeated endpoints dropped),
// keeping the families --family asks for in the resolver's order (it knows the host's
// preference); with `both`, a family the name lacks is kept empty, to be named.
FamilySelection select_families(const std::vector<net::ip::tcp::endpoint>& resolved,
                                FamilyChoice choice);

// Why this host cannot use a family toward an address (no route, no address); nullopt:
// it can. host_network.hpp's family_unusable in a check, a fake in a test.
using UnusableFamily = std::function<std::optional<std::string>(const net::ip::address&)>;

// Removes the families that cannot be used at all (the name has no address of it, this
// host cannot use it) and says why, one NotProbed each: that says nothing about blocking.
std::vector<NotProbed> drop_unusable(std::vector<ResolvedFamily>& families,
                                     const std::string& reflector_host,
                                     const std::vector<std::uint16_t>& ports,
                                     const UnusableFamily& unusable);

// The three budgets of every probe of one check.
struct ProbeTimeouts {
  std::chrono::milliseconds connect{0};  // a silent path
  std::chrono::milliseconds step{0};     // one step of a live dialogue
  std::chrono::milliseconds budget{0};   // the whole probe
};

// `timeout`: the per-probe budget for a silent path (--timeout, or from the RTT). A step
// of a live dialogue is not a silent path: it gets at least the control timeout, and the
// whole probe room for banner, EHLO, STARTTLS, TLS, EHLO and QUIT.
ProbeTimeouts probe_timeouts(std::chrono::milliseconds timeout,
                             std::chrono::milliseconds control_timeout);

// The ports to probe: those asked for, else those the reflector advertises.
std::vector<std::uint16_t> ports_to_probe(const std::vector<std::uint16_t>& asked,
                                          const std::vector<control::Service>& services);

// Gives each NotProbed without ports the ports the check probes (known only once the
// reflector has advertised its services).
void fill_not_probed_ports(std::vector<NotProbed>& not_probed,
                           const std::vector<std::uint16_t>& ports);

// A probe as planned, then run, traced and judged: one per probe, in report order.
struct PlannedProbe {
  ClientProbe probe;              // what the report says of it; the run fills in the rest
  std::optional<ProbeSpec> spec;  // how to run it; nullopt: it cannot be sent (`probe` says why)
  TraceOutcome trace;             // its path, once traced (or why not)
  ProbeResult result;             // its evidence and verdict, once judged
};

// A family the reflector's probes go over, and the address they go to: the one the
// control connection reached, so that both measure the same host.
struct ProbeFamily {
  Family family = Family::ipv4;
  net::ip::address address;
};

// The reflector's probes: every port in every family, ports outermost, each with its tag
// (probe_id and a running index from 1) and the service name the reflector gave it.
std::vector<PlannedProbe> plan_reflector_probes(const std::string& reflector_host,
                                                const std::vector<std::uint16_t>& ports,
                                                const std::vector<ProbeFamily>& families,
                                                const control::HelloResponse& hello,
                                                const ProbeTimeouts& timeouts);

struct DestinationPlan {
  std::vector<PlannedProbe> probes;  // those without a spec carry the reason they fail
  std::vector<NotProbed> not_probed;
};

// EHLO name and SNI toward a --target destination: neutral, so that no third party
// learns the session's token or probe id.
inline const std::string destination_ehlo_name = "egress25-check.invalid";

// The probes of a --target destination on `port`: each host in each of `families` (a
// literal in its own family only). A host with no address of a family it has no reason
// to have (most MX hosts have no IPv6) is one NotProbed line, not a failure; a host
// with no address at all is a probe that failed before sending.
DestinationPlan plan_destination_probes(const DestinationTarget& target, std::uint16_t port,
                                        const Destination& resolved,
                                        const std::vector<Family>& families, FamilyChoice choice,
                                        const ProbeTimeouts& timeouts);

// The families to report as not probed when no control connection could be had: those
// resolved, else those --family asks for less those this host cannot use at all.
std::vector<Family> families_when_unreachable(const std::vector<Family>& resolved,
                                              FamilyChoice choice,
                                              const std::vector<NotProbed>& not_probed);

// A probe that was never sent because `why`: inconclusive, with that reason.
ProbeResult unprobed(ClientProbe probe, const std::string& why);

// The report when no control connection could be had: every port (asked for, else the
// standard ones) in every family inconclusive, `error` the reason. `self_explained`: the
// error names its own cause and next step (a name that does not resolve, a port that
// speaks SMTP), so the summary says just that, not "check that the reflector runs and
// its firewall lets the control port through".
CheckReport unreachable_report(CheckReport report, const CheckOptions& options,
                               const std::vector<ResolvedFamily>& families, std::string error,
                               bool self_explained);

// ---- Judging ----------------------------------------------------------------------

// Joins a probe's own view, the REPORT, its trace (if any) and this host's network in
// its family into evidence, and judges it.
ProbeResult judge(const ClientProbe& probe, const SessionFacts& session,
                  const ReportOutcome& report, TraceOutcome trace, const HostNetwork& host);

// The verdict a destination probe in `family` is judged against: the reflector probe of
// port 25 in that family, else of its "smtp" service (it runs with a port offset).
std::optional<Verdict> reference_verdict(const std::vector<ProbeResult>& reflector_results,
                                         Family family);

// A --target probe judged against the reflector's port 25 (destinations are not traced).
ProbeResult judge_destination(ClientProbe probe, const std::vector<ProbeResult>& reflector_results,
                              const HostNetwork& host);

DestinationRow destination_row(const ProbeResult& result);

// What summarize() reads of a check that reached the reflector.
SummaryInput summary_input(const std::string& reflector_host,
                           const std::vector<ProbeResult>& results,
                           const std::vector<NotProbed>& not_probed);

}  // namespace egress25::client
