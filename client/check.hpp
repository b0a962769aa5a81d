// `egress25 check`: control HELLO, concurrent probes, traces, REPORT, verdicts.
// run_check does the I/O phase by phase; planning and judging are check_plan.hpp's.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "evidence.hpp"
#include "nat.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "summary.hpp"

namespace egress25::client {

namespace net = boost::asio;

struct ProbeResult {
  ProbeEvidence evidence;
  Classification classification;
  // An inbound probe (check --inbound, `"target": "inbound"`): what the reflector met
  // when it connected back to this line's public address (its trace counts hops from the
  // reflector), or why it did not, and this computer's listener on the port. nullopt for
  // a probe this host sent.
  struct Inbound {
    std::optional<InboundAttempt> attempt;
    std::string unavailable;
    std::string listener;
  };
  std::optional<Inbound> inbound;
};

// What was not probed for a reason that is not a block: an address family this host
// cannot use at all (no route, no address), a reflector or destination name with no
// address in a family. One line in the report; no effect on the exit status.
struct NotProbed {
  Target target = Target::reflector;
  std::string host;
  Family family = Family::ipv4;
  std::vector<std::uint16_t> ports;
  std::string reason;
};

// Everything the report renderers need; no sockets in it.
struct CheckReport {
  std::string reflector_host;    // as the user named it
  std::string control_endpoint;  // "ADDR:PORT" connected to, or the last one tried
  std::string reflector_version;
  bool witness_active = false;
  std::string witness_reason;  // why not, when not active
  std::string local_address;   // our end of the control connection
  std::string public_address;  // as the reflector saw the first control connection
  std::optional<std::string> public_ipv4;
  std::optional<std::string> public_ipv6;
  double control_rtt_ms = 0;
  double probe_timeout_ms = 0;

  // false: the control port could not be reached or refused us, and `control_error`
  // is the sentence that says so (printed on stderr, exit 3).
  bool control_reached = false;
  std::string control_error;

  std::vector<ProbeResult> probes;
  std::vector<NotProbed> not_probed;
  // This host's own network per family probed (gateway, addresses), as used to place
  // blocks.
  std::optional<HostNetwork> host_ipv4;
  std::optional<HostNetwork> host_ipv6;
  // Carrier-grade NAT in front of this line (IPv4), and the home router's own external
  // address where it gave it (asked only with --inbound).
  NatFinding nat;
  std::string summary;
};

// `progress` hears of each phase and each probe's end as they happen (the display on a
// terminal); it is not needed for the report.
net::awaitable<CheckReport> run_check(CheckOptions options, std::optional<std::string> secret,
                                      ProgressHook progress = {});

// Defined in check_plan.cpp (pure) with the rest of the planning and judging.

// Why a probe needs no trace (it reached the reflector unchanged from this client's own
// address, nothing left this host, tracing is off); nullopt: trace it. `untraced` is
// its judgement before any trace.
std::optional<std::string> no_trace_reason(const ClientProbe& probe, const ProbeResult& untraced,
                                           bool tracing);

// The summary's view of one judged probe.
SummaryRow summary_row(const ProbeResult& result);

// The contract's exit status: 0 every probe open; 1 one is not; 3 no control connection.
int exit_status(const CheckReport& report);

// The per-probe budget for a silent path: max(limits::min_probe_timeout, 4 × RTT + 1 s),
// at most limits::max_probe_timeout.
std::chrono::milliseconds timeout_from_rtt(double rtt_ms);

}  // namespace egress25::client
