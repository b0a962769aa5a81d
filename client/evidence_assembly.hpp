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

// Adds to a verdict's reasons what the classifier cannot know: that the reflector
// dropped some of this session's records, so this probe's may be among them.
void note_evidence_limits(const ProbeEvidence& evidence, Classification& classification);

}  // namespace egress25::client
