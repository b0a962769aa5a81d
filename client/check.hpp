// `egress25 check`: control HELLO, concurrent probes, traces, REPORT, verdicts.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <vector>

#include "evidence.hpp"
#include "options.hpp"

namespace egress25::client {

namespace net = boost::asio;

struct ProbeResult {
  ProbeEvidence evidence;
  Classification classification;
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
  std::string summary;
};

net::awaitable<CheckReport> run_check(CheckOptions options, std::optional<std::string> secret);

// The contract's exit status: 0 every probe open; 1 one is not; 3 no control connection.
int exit_status(const CheckReport& report);

// The per-probe budget for a silent path: max(limits::min_probe_timeout, 4 × RTT + 1 s),
// at most limits::max_probe_timeout.
std::chrono::milliseconds timeout_from_rtt(double rtt_ms);

}  // namespace egress25::client
