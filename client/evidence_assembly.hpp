// Evidence assembly: a probe's own view, the reflector's REPORT and the trace, joined
// into the ProbeEvidence the classifier reads. Pure: no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control_protocol.hpp"
#include "evidence.hpp"

namespace egress25::client {

// What the control connection(s) established before the probes.
struct SessionFacts {
  std::string expected_fingerprint;
  std::string banner_identity;
  std::vector<control::Service> services;
  std::optional<std::string> public_ipv4;  // as the reflector saw our HELLO
  std::optional<std::string> public_ipv6;
  // When the probes ran, in the reflector's clock (for the packet witness).
  std::int64_t window_start_unix_ms = 0;
  std::int64_t window_end_unix_ms = 0;
};

// How far the witness window is widened on each side: the measured clock offset can be
// wrong by half the control RTT, and a SYN takes up to about that long to arrive; plus
// a margin, within bounds.
std::int64_t witness_slack_ms(double rtt_ms);

// When HELLO went out (this host's clock), its round trip, and the reflector's clock as
// it answered (0: not given).
struct HelloTiming {
  std::int64_t sent_unix_ms = 0;
  double rtt_ms = 0;
  std::int64_t server_time_unix_ms = 0;
};

// Sets the session's witness window: the probes' own span (this host's clock) moved into
// the reflector's clock, which stamped the witness's flows, and widened by
// witness_slack_ms. Traces send SYNs to the same ports: they must start only once this
// window has closed (witness_slack_ms after the probes ended), or pass for the probes'.
void set_witness_window(SessionFacts& session, const HelloTiming& hello,
                        std::int64_t probes_started_unix_ms, std::int64_t probes_ended_unix_ms);

struct ReportOutcome {
  std::optional<control::ReportResponse> report;
  std::string error;  // why there is none
};

struct TraceOutcome {
  std::optional<PathTrace> trace;
  std::string unavailable;  // why there is none
};

// The client's public address for `family`: the REPORT's word first, then HELLO's.
std::optional<std::string> public_address_for(Family family, const SessionFacts& session,
                                              const ReportOutcome& report);

ProbeEvidence assemble_evidence(const ClientProbe& probe, const SessionFacts& session,
                                const ReportOutcome& report, TraceOutcome trace);

}  // namespace egress25::client
