// Evidence assembly: a probe's own view, the reflector's REPORT and the trace, joined
// into the ProbeEvidence the classifier reads. Pure: no I/O.
#include "evidence_assembly.hpp"

#include <algorithm>

#include "limits.hpp"
#include "witness_match.hpp"

namespace egress25::client {

std::optional<std::string> public_address_for(Family family, const SessionFacts& session,
                                              const ReportOutcome& report) {
  if (report.report) {
    const auto& from_report =
        family == Family::ipv4 ? report.report->public_ipv4 : report.report->public_ipv6;
    if (from_report && !from_report->empty()) return from_report;
  }
  const auto& from_hello = family == Family::ipv4 ? session.public_ipv4 : session.public_ipv6;
  if (from_hello && !from_hello->empty()) return from_hello;
  return std::nullopt;
}

std::int64_t witness_slack_ms(double rtt_ms) {
  constexpr std::int64_t margin_ms =
      std::chrono::milliseconds(limits::witness_slack_margin).count();
  constexpr std::int64_t max_ms = std::chrono::milliseconds(limits::max_witness_slack).count();
  return std::clamp<std::int64_t>(static_cast<std::int64_t>(std::max(rtt_ms, 0.0)) + margin_ms,
                                  margin_ms, max_ms);
}

void set_witness_window(SessionFacts& session, const HelloTiming& hello,
                        std::int64_t probes_started_unix_ms, std::int64_t probes_ended_unix_ms) {
  // The reflector read its clock about half a round trip after HELLO left.
  const std::int64_t offset_ms =
      hello.server_time_unix_ms
          ? hello.server_time_unix_ms -
                (hello.sent_unix_ms + static_cast<std::int64_t>(hello.rtt_ms / 2))
          : 0;
  const std::int64_t slack_ms = witness_slack_ms(hello.rtt_ms);
  session.window_start_unix_ms = probes_started_unix_ms + offset_ms - slack_ms;
  session.window_end_unix_ms = probes_ended_unix_ms + offset_ms + slack_ms;
}

namespace {

// The REPORT's records of this probe's own connections, and where this session's probes
// of the same family to other ports arrived from.
void add_tagged_records(ReflectorEvidence& reflector, const ClientProbe& probe,
                        const control::ReportResponse& response) {
  // The tag alone is not enough: a middlebox may replay or redirect a tagged dialogue to
  // another port, so a record counts for this probe only on the port it probed.
  for (const auto& record : response.connections)
    if (!probe.probe_tag.empty() && record.probe_tag == probe.probe_tag &&
        record.local_port == probe.port)
      reflector.tagged.push_back(record);

  // A probe that alone arrives from another address than its siblings was relayed.
  for (const auto& record : response.connections)
    if (record.family == probe.family && record.local_port != probe.port &&
        std::find(reflector.sibling_sources.begin(), reflector.sibling_sources.end(),
                  record.peer_address) == reflector.sibling_sources.end())
      reflector.sibling_sources.push_back(record.peer_address);
}

// What else arrived from our public address on this port: untagged connections, and the
// reflector's own refusals.
void add_untagged_and_refused(ReflectorEvidence& reflector, const ClientProbe& probe,
                              const SessionFacts& session, const control::ReportResponse& response,
                              const std::string& public_address) {
  // Untagged arrivals: something got through, but its EHLO or SNI no longer carried our
  // tag (or it was someone else behind our NAT). Only those since our probes began: the
  // reflector's lists reach back before the session (its probes may start before HELLO),
  // to arrivals that may be an earlier check's.
  for (const auto& u : response.untagged)
    if (u.local_port == probe.port && u.family == probe.family &&
        u.peer_address == public_address && u.started_unix_ms >= session.window_start_unix_ms) {
      ++reflector.untagged_from_client;
      if (!u.end_reason.empty()) reflector.untagged_end_reasons.push_back(u.end_reason);
    }
  // The reflector's own refusals of our address on this port: its limits, not a block.
  for (const auto& refused : response.refused)
    if (refused.local_port == probe.port && refused.family == probe.family &&
        refused.peer_address == public_address &&
        refused.last_unix_ms >= session.window_start_unix_ms)
      reflector.refusals.push_back(refused.reason +
                                   (refused.count > 1
                                        ? " (" + std::to_string(refused.count) + " connections)"
                                        : std::string()));
}

// The packet witness's view of this probe's SYNs, or why there is none.
void add_witness(ReflectorEvidence& reflector, const ClientProbe& probe,
                 const SessionFacts& session, const control::ReportResponse& response,
                 const std::optional<std::string>& public_address) {
  if (!response.witness.active) {
    reflector.witness_unavailable = response.witness.reason.empty()
                                        ? "the reflector runs without a packet witness"
                                        : response.witness.reason;
    return;
  }
  if (!public_address) {
    reflector.witness_unavailable = "the reflector never saw our " +
                                    std::string(to_string(probe.family)) +
                                    " address, so its packet witness cannot be matched";
    return;
  }
  // The witness is matched by our public address. Probes that reached the reflector
  // from another address of this family (a NAT pool that is not "paired", RFC 4787
  // REQ-2) show that a silent probe may have left from yet another one: its absence
  // from the witness would prove nothing.
  std::optional<std::string> other_source;
  for (const auto& record : response.connections)
    if (record.family == probe.family && record.peer_address != *public_address)
      other_source = record.peer_address;
  if (other_source) {
    reflector.witness_unavailable =
        "probes reached the reflector from " + *other_source + ", not from " + *public_address +
        " as the control connection did (a NAT pool), so the packet witness cannot tell "
        "which SYNs were ours";
    return;
  }
  WitnessQuery query;
  query.family = probe.family;
  query.public_address = *public_address;
  query.port = probe.port;
  query.window_start_unix_ms = session.window_start_unix_ms;
  query.window_end_unix_ms = session.window_end_unix_ms;
  reflector.witness = match_witness(response.witness_flows, query);
}

}  // namespace

ProbeEvidence assemble_evidence(const ClientProbe& probe, const SessionFacts& session,
                                const ReportOutcome& report, TraceOutcome trace) {
  ProbeEvidence evidence;
  evidence.target = Target::reflector;
  evidence.client = probe;
  evidence.trace = std::move(trace.trace);
  if (!evidence.trace) evidence.trace_unavailable = std::move(trace.unavailable);

  ReflectorEvidence& reflector = evidence.reflector;
  reflector.expected_fingerprint = session.expected_fingerprint;
  reflector.banner_identity = session.banner_identity;
  reflector.port_advertised =
      std::any_of(session.services.begin(), session.services.end(),
                  [&](const control::Service& s) { return s.port == probe.port; });
  const auto public_address = public_address_for(probe.family, session, report);
  reflector.client_public_address = public_address.value_or("");

  if (!report.report) {
    reflector.report_available = false;
    reflector.report_error = report.error.empty() ? "no report from the reflector" : report.error;
    reflector.witness_unavailable = "no report from the reflector";
    return evidence;
  }
  const control::ReportResponse& response = *report.report;
  reflector.report_available = true;
  reflector.connections_dropped = response.connections_dropped;
  add_tagged_records(reflector, probe, response);
  if (public_address)
    add_untagged_and_refused(reflector, probe, session, response, *public_address);
  add_witness(reflector, probe, session, response, public_address);
  return evidence;
}

}  // namespace egress25::client
