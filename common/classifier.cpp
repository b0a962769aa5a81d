// The classifier: one pure function from a probe's evidence to a verdict with reasons.
//
// Read it top to bottom as a decision table: the connect outcome picks a branch, and in
// each branch the strongest source of evidence present decides (the reflector's own
// record, then the packet witness, then the hop trace). A branch that runs out of
// evidence says so instead of guessing.
#include "classifier.hpp"

#include "attribution.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <string>

namespace egress25 {
namespace {

struct Context {
  const ProbeEvidence& evidence;
  const ClientProbe& client;
  const ReflectorEvidence& reflector;
  std::optional<int> distance;  // reflector's hop distance, from the reference trace
};

Classification make(Verdict v, Location l, std::vector<std::string> reasons) {
  Classification c;
  c.verdict = v;
  c.location = l;
  if (l == Location::path) c.segment = Segment::unknown;
  c.reasons = std::move(reasons);
  return c;
}

// The verdict placed where the evidence puts it: location, segment, hop or candidates,
// and the observations that place it after the verdict's own reasons.
Classification placed(Verdict v, const Place& place, std::vector<std::string> reasons) {
  Classification c = make(v, place.location, std::move(reasons));
  if (place.location == Location::path) c.segment = place.segment.value_or(Segment::unknown);
  c.blocking_hop = place.hop;
  c.blocking_candidates = place.candidates;
  c.reasons.insert(c.reasons.end(), place.reasons.begin(), place.reasons.end());
  return c;
}

// On the path, with nothing in the traces to say where.
Place somewhere_on_path() {
  Place place;
  place.location = Location::path;
  place.segment = Segment::unknown;
  return place;
}

// Between this computer and the reflector host, with nothing to say which side of the
// first router: a local firewall and the path look the same without a trace.
Place between_here_and_the_reflector() {
  Place place;
  place.location = Location::unknown;
  place.reasons.push_back(
      "without a hop trace, this computer's own firewall and the path cannot be told apart");
  return place;
}

std::string seconds(double ms) {
  return fmt::format("{:.1f} s", ms / 1000.0);
}

std::string short_fp(const std::string& fp) {
  return fp.size() > 16 ? fp.substr(0, 16) + "..." : fp;
}

std::string end_words(const ClientProbe& c) {
  return c.end_detail.empty() ? std::string(to_string(c.end)) : c.end_detail;
}

// The reason a missing source would have given, to close a fallback honestly.
std::string missing_sources(const Context& x) {
  std::string why;
  if (!x.reflector.witness)
    why += "no packet witness on the reflector (" +
           (x.reflector.witness_unavailable.empty() ? std::string("not reported")
                                                    : x.reflector.witness_unavailable) +
           ")";
  if (!x.evidence.trace) {
    if (!why.empty()) why += "; ";
    why += "no hop trace (" +
           (x.evidence.trace_unavailable.empty() ? std::string("not run")
                                                 : x.evidence.trace_unavailable) +
           ")";
  }
  return why;
}

// The first TTL at which the probed port met a reset, if any.
std::optional<int> first_reset_ttl(const PortTrace& t) {
  for (const auto& h : t.hops)
    if (h.kind == HopKind::reset) return h.ttl;
  return std::nullopt;
}

// Where the trace shows the probe's handshake answered in the reflector's place, else
// somewhere on the path.
Place answering_place(const Context& x) {
  if (x.evidence.trace)
    if (auto p = locate_handshake(*x.evidence.trace, x.evidence.host, x.client.port)) return *p;
  return somewhere_on_path();
}

bool sent_ehlo(const ClientProbe& c) {
  for (const auto* phase : {&c.transcript.plain, &c.transcript.tls})
    if (phase->to_server.kept.starts_with("EHLO ")) return true;
  return false;
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// The reflector's own refusal of this connection (its per-source cap, a full table),
// from its 421 greeting or its REPORT: not evidence about the path at all.
std::optional<Classification> refused_by_reflector(const Context& x) {
  const auto& c = x.client;
  const auto& r = x.reflector;
  if (!r.tagged.empty()) return std::nullopt;
  std::vector<std::string> reasons;
  if (c.banner_code == 421 && !r.banner_identity.empty() &&
      c.banner.find(r.banner_identity) != std::string::npos)
    reasons.push_back(fmt::format("the reflector itself refused the connection: '{} {}'",
                                  *c.banner_code, printable(c.banner, 100)));
  for (const auto& why : r.refusals)
    reasons.push_back("the reflector's report says it refused your address on this port: " +
                      printable(why, 120));
  if (reasons.empty()) return std::nullopt;
  reasons.push_back(
      "a refusal for the reflector's own limits says nothing about your network: run the check "
      "again when fewer connections from your address are open");
  auto result = make(Verdict::inconclusive, Location::unknown, std::move(reasons));
  result.refused_by_reflector = true;
  return result;
}

// A reset after the reflector had accepted the connection but before the probe's EHLO
// reached it. The reflector never resets a live session itself: unless its record says
// it ended the connection for its own reasons, something on the path did.
Classification reset_before_ehlo(const Context& x) {
  const auto& ends = x.reflector.untagged_end_reasons;
  // The endings the reflector itself decides (reflector/smtp_session.cpp): its timeouts
  // and its limits. Anything else ("reset by peer", "peer closed") came from the other end.
  const bool reflector_closed = std::any_of(ends.begin(), ends.end(), [](const std::string& e) {
    return e == "idle timeout" || e == "session time limit" || e == "write timeout" ||
           e.starts_with("too many") || e.starts_with("shutting down");
  });
  const std::string when =
      std::string(x.client.banner_code ? " after the reflector's greeting" : "") +
      (sent_ehlo(x.client) ? ", once the EHLO was sent" : "");
  if (reflector_closed)
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the connection was reset{}; the reflector saw a connection from "
                             "your address on this port and ended it itself ('{}')",
                             when, printable(ends.front(), 80))});
  std::string seen =
      x.reflector.untagged_from_client > 0
          ? "the reflector saw a connection from your address on this port, but never this "
            "probe's EHLO"
          : "the reflector saw no connection carrying this probe's tag: what greeted you "
            "relayed its greeting";
  if (!ends.empty())
    seen += fmt::format(", and saw it end as '{}': it did not send that reset",
                        printable(ends.front(), 80));
  return placed(Verdict::reset, answering_place(x),
                {fmt::format("the connection was reset{}", when), seen});
}

// ---- Connected: the reflector's record decides ------------------------------------

Classification connected_without_record(const Context& x, bool cert_mismatch,
                                        const std::string& cert_reason) {
  const auto& c = x.client;
  const auto& r = x.reflector;
  if (cert_mismatch)
    return placed(Verdict::tls_intercepted, answering_place(x),
                  {cert_reason, "the reflector never saw this probe: TLS ended in the middle"});
  const bool banner_is_reflectors =
      !r.banner_identity.empty() && c.banner.find(r.banner_identity) != std::string::npos;
  if (c.banner_code && !banner_is_reflectors)
    return placed(Verdict::intercepted, answering_place(x),
                  {fmt::format("a server that is not the reflector answered: its greeting was "
                               "'{} {}'",
                               *c.banner_code, printable(c.banner, 100)),
                   "the reflector saw no connection carrying this probe's tag"});
  if (r.connections_dropped > 0)
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the reflector kept no record of this probe, but it dropped {} "
                             "records of this check over its cap: this one may be among them",
                             r.connections_dropped)});
  // The reflector's own greeting came through, then a reset, and the reflector never got
  // the EHLO: whatever relayed the greeting (or the path) cut the connection.
  if (c.end == DialogueEnd::reset && (banner_is_reflectors || r.untagged_from_client > 0))
    return reset_before_ehlo(x);
  if (r.untagged_from_client > 0) {
    if (c.end == DialogueEnd::completed)
      return placed(Verdict::tampered, answering_place(x),
                    {"the dialogue completed, but the connection the reflector saw from your "
                     "address on this port never carried this probe's tag: the EHLO name "
                     "arrived changed"});
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the reflector accepted a connection from your address on this "
                             "port, but the dialogue did not get as far as EHLO ({})",
                             end_words(c))});
  }
  if (c.banner_code)
    return placed(Verdict::intercepted, answering_place(x),
                  {fmt::format("a server greeted with the reflector's name ('{} {}'), but the "
                               "reflector saw no connection from you on this port",
                               *c.banner_code, printable(c.banner, 100))});
  return placed(Verdict::intercepted, answering_place(x),
                {"the TCP connection was accepted, but the reflector saw no connection from "
                 "your address on this port",
                 fmt::format("no greeting arrived ({})", end_words(c))});
}

// The probe arrived from another address than the control connection. A relay that
// re-originates it answers the handshake before the reflector's distance; translation
// (a NAT) does not. Without a trace, only a difference from this session's other ports
// says it was this port alone. A NAT pool that is not paired (RFC 4787 REQ-2) gives
// each connection any address of the pool: every port would then differ at random.
Classification arrived_from_elsewhere(const Context& x, const ConnectionRecord& rec,
                                      std::vector<std::string> reasons) {
  const auto& r = x.reflector;
  const std::string& ours = r.client_public_address;
  reasons.push_back(
      fmt::format("it arrived at the reflector from {}, not from {} as the "
                  "control connection did",
                  rec.peer_address, ours));
  std::optional<int> handshake_ttl;
  if (x.evidence.trace)
    for (const auto& h : x.evidence.trace->probed.hops)
      if (h.kind == HopKind::reached) {
        handshake_ttl = h.ttl;
        break;
      }
  if (x.evidence.trace)
    if (auto place = locate_handshake(*x.evidence.trace, x.evidence.host, x.client.port)) {
      reasons.push_back("mail sent on this port leaves from the relay's address, not from yours");
      return placed(Verdict::proxied, *place, std::move(reasons));
    }
  const bool siblings_ours = contains(r.sibling_sources, ours);
  if (siblings_ours) {
    reasons.push_back("this session's probes of the other ports arrived from " + ours +
                      ": only this port is sent from another address, so mail sent on it "
                      "leaves from someone else's address");
    if (handshake_ttl && x.distance && *handshake_ttl == *x.distance)
      reasons.push_back(
          "its handshake was answered at the reflector's own distance: the address was "
          "translated on the way, not relayed by a server");
    return placed(Verdict::proxied, somewhere_on_path(), std::move(reasons));
  }
  if (handshake_ttl && x.distance && *handshake_ttl == *x.distance) {
    reasons.push_back(
        "its handshake was answered at the reflector's own distance, so nothing on the path "
        "answered in its place: an address translation (a NAT pool), not a relay");
    return make(Verdict::open, Location::none, std::move(reasons));
  }
  reasons.push_back(
      "no other probe of this family arrived from " + ours +
      " either: a NAT pool that gives each connection another address and a relay on every "
      "probed port look the same without a trace of this port");
  return make(Verdict::inconclusive, Location::unknown, std::move(reasons));
}

Classification classify_connected(const Context& x) {
  const auto& c = x.client;
  const auto& r = x.reflector;
  if (auto refused = refused_by_reflector(x)) return *refused;
  const bool cert_mismatch = c.tls_completed && !r.expected_fingerprint.empty() &&
                             c.peer_cert_sha256 != r.expected_fingerprint;
  const std::string cert_reason = fmt::format(
      "TLS completed with a certificate that is not the reflector's: sha256 {} "
      "(subject '{}'), where the control connection pinned {}",
      short_fp(c.peer_cert_sha256), printable(c.peer_cert_subject, 80),
      short_fp(r.expected_fingerprint));
  if (r.tagged.empty()) return connected_without_record(x, cert_mismatch, cert_reason);

  const ConnectionRecord& rec = r.tagged.front();
  if (cert_mismatch)
    return placed(Verdict::tls_intercepted, answering_place(x),
                  {cert_reason, fmt::format("the reflector saw the probe arrive from {}, relayed "
                                            "by a TLS-terminating middlebox",
                                            rec.peer_address)});

  std::vector<std::string> reasons;
  const auto differences = compare_transcripts(c.transcript, rec.transcript);
  if (!differences.empty()) {
    for (const auto& d : differences) reasons.push_back(d.detail);
    reasons.push_back(
        fmt::format("the reflector saw this probe arrive from {}, with bytes "
                    "changed in flight",
                    rec.peer_address));
    return placed(Verdict::tampered, answering_place(x), std::move(reasons));
  }

  if (c.end == DialogueEnd::reset)
    return placed(Verdict::reset, answering_place(x),
                  {fmt::format("the connection was reset in the middle of the dialogue, after "
                               "the reflector had seen it; the reflector ended it as '{}'",
                               printable(rec.end_reason, 80))});
  if (c.end != DialogueEnd::completed)
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the reflector saw this probe and what arrived was unchanged, but "
                             "the dialogue did not complete: {}",
                             end_words(c))});

  reasons.push_back(
      fmt::format("the reflector saw this connection from {} and both ends "
                  "recorded the same dialogue",
                  rec.peer_address));
  if (c.tls_completed)
    reasons.push_back(fmt::format("TLS {} with the reflector's own certificate ({})",
                                  c.tls_version.empty() ? std::string("completed") : c.tls_version,
                                  short_fp(c.peer_cert_sha256)));
  else if (c.kind == ServiceKind::smtp)
    reasons.push_back("STARTTLS was not completed; the cleartext dialogue was unchanged");
  if (!r.client_public_address.empty() && rec.peer_address != r.client_public_address)
    return arrived_from_elsewhere(x, rec, std::move(reasons));
  return make(Verdict::open, Location::none, std::move(reasons));
}

// ---- Refused: who sent the reset? ---------------------------------------------------

Classification host_reset(const Context& x, std::vector<std::string> reasons) {
  if (x.reflector.port_advertised) {
    reasons.push_back(
        "the reflector listens on this port, so the host's own firewall "
        "refused the connection");
    return make(Verdict::firewalled_at_reflector, Location::reflector_host, std::move(reasons));
  }
  reasons.push_back("the reflector does not listen on this port: nothing is there to answer");
  return make(Verdict::not_listening, Location::reflector_host, std::move(reasons));
}

// A reset the reflector host did not send, placed by the trace when it shows where.
Classification forged_reset(const Context& x, std::string observed, bool syn_left_this_host) {
  if (x.evidence.trace)
    if (auto place = locate_reset(*x.evidence.trace, x.evidence.host, x.client.port))
      return placed(Verdict::reset, *place, {std::move(observed)});
  return placed(Verdict::reset,
                syn_left_this_host ? somewhere_on_path() : between_here_and_the_reflector(),
                {std::move(observed)});
}

Classification classify_refused(const Context& x) {
  if (const auto& w = x.reflector.witness) {
    if (w->syn_seen && w->rst_sent)
      return host_reset(x, {"the packet witness saw the SYN arrive and the reflector host "
                            "answer it with a reset"});
    if (w->syn_seen)
      return forged_reset(x,
                          "a reset answered the SYN, but the packet witness saw the SYN "
                          "arrive and the reflector host send no reset",
                          true);
    return forged_reset(x,
                        "a reset answered the SYN, and the packet witness never saw the SYN "
                        "reach the reflector host",
                        false);
  }
  if (x.evidence.trace && x.distance) {
    if (auto k = first_reset_ttl(x.evidence.trace->probed)) {
      if (*x.distance == 1)  // nothing stands between: the reflector is the first hop
        return host_reset(x, {"a reset answered the SYN, and the reflector is the first hop: "
                              "no router stands between you and it, so its host sent it"});
      auto place = locate_reset(*x.evidence.trace, x.evidence.host, x.client.port);
      if (place && !place->reflector_host_possible)
        return placed(Verdict::reset, *place,
                      {fmt::format("a reset answered the SYN before the reflector's distance "
                                   "({} hops)",
                                   *x.distance)});
      return make(Verdict::inconclusive, Location::unknown,
                  {fmt::format("a reset answered the SYN; it first comes back at hop {}, the "
                               "reflector's own distance, so it was sent by the reflector host "
                               "or the router just before it",
                               *k),
                   missing_sources(x)});
    }
  }
  return make(Verdict::inconclusive, Location::unknown,
              {"a TCP reset answered the SYN, but nothing shows whether your path or the "
               "reflector host sent it",
               missing_sources(x)});
}

// ---- Timed out: where did the SYN die? ----------------------------------------------

Classification classify_timed_out(const Context& x) {
  const std::string silent =
      fmt::format("no answer to the SYN within {}", seconds(x.client.elapsed_ms));
  std::optional<Place> place;
  if (x.evidence.trace)
    place = locate_silent_drop(*x.evidence.trace, x.evidence.host, x.client.port);
  // The decisive observation comes first: the report's one-line reason is the first.
  if (const auto& w = x.reflector.witness) {
    if (!w->syn_seen)
      return placed(Verdict::dropped, place.value_or(between_here_and_the_reflector()),
                    {"the packet witness never saw the SYN reach the reflector host", silent});
    if (w->rst_sent)
      return host_reset(x, {"the packet witness saw the reflector host answer the SYN with a "
                            "reset, which never came back to you",
                            silent});
    if (w->synack_sent && !w->handshake_completed)
      return make(
          Verdict::reply_dropped, Location::path,
          {fmt::format("the packet witness saw the SYN arrive{} and the reflector answer with "
                       "SYN-ACK, but the handshake never completed: the answer was lost on its "
                       "way back to you",
                       w->syn_count > 1 ? fmt::format(" ({} times)", w->syn_count) : ""),
           silent});
    if (!w->synack_sent)
      return make(Verdict::firewalled_at_reflector, Location::reflector_host,
                  {"the packet witness saw the SYN reach the reflector host, which never "
                   "answered: its own firewall discarded it",
                   silent});
    return make(Verdict::inconclusive, Location::unknown,
                {silent,
                 "yet the packet witness saw the handshake complete: something between "
                 "you and the reflector answered differently to each side"});
  }
  if (place && !place->reflector_host_possible) return placed(Verdict::dropped, *place, {silent});
  if (place)
    return make(Verdict::inconclusive, Location::unknown,
                {silent,
                 "the probe travels as far as the last router before the reflector: the "
                 "reflector host's firewall, that router or the way back dropped it",
                 missing_sources(x)});
  return make(Verdict::dropped, Location::unknown,
              {silent, "the reflector recorded no connection for it",
               "where it was dropped is unknown: " + missing_sources(x)});
}

// ---- ICMP: the sender is named -------------------------------------------------------

Classification classify_icmp(const Context& x) {
  const IcmpReport icmp = x.client.icmp.value_or(IcmpReport{});
  const std::string what =
      fmt::format("ICMP {} (type {} code {}) from {}",
                  icmp.description.empty() ? std::string("error") : icmp.description, icmp.type,
                  icmp.code, icmp.sender.empty() ? std::string("an unnamed sender") : icmp.sender);
  if (icmp.sender.empty()) return make(Verdict::icmp_unreachable, Location::unknown, {what});
  if (x.evidence.target == Target::destination && icmp.sender == x.client.address)
    return make(Verdict::icmp_unreachable, Location::destination,
                {what, "the destination host itself sent it"});
  Place place = locate_sender(icmp.sender, x.evidence.trace, x.evidence.host, x.client.address);
  return placed(Verdict::icmp_unreachable, place, {what});
}

// ---- Destination probes: judged against the reflector probe of the same port --------

Classification classify_destination(const Context& x) {
  const auto& c = x.client;
  const bool own_path_open = x.evidence.reference_verdict == Verdict::open;
  const std::string ref =
      x.evidence.reference_verdict
          ? fmt::format("your path to the reflector's SMTP port is {}",
                        to_string(*x.evidence.reference_verdict))
          : std::string("there is no reflector probe of port 25 to compare with");
  switch (c.connect) {
    case ConnectOutcome::connected:
      if (c.banner_code && *c.banner_code == 220)
        return make(Verdict::open, Location::none,
                    {fmt::format("the destination greeted with '{} {}'", *c.banner_code,
                                 printable(c.banner, 100))});
      return make(Verdict::inconclusive, Location::unknown,
                  {fmt::format("connected, but no SMTP greeting arrived ({})", to_string(c.end))});
    case ConnectOutcome::icmp_error:
      return classify_icmp(x);
    case ConnectOutcome::refused:
    case ConnectOutcome::timed_out:
      if (own_path_open)
        return make(
            c.connect == ConnectOutcome::refused ? Verdict::not_listening : Verdict::dropped,
            Location::destination,
            {c.connect == ConnectOutcome::refused ? "the destination refused with a reset"
                                                  : "no answer from the destination",
             ref + ", so your own network lets this port through"});
      return make(Verdict::inconclusive, Location::unknown,
                  {c.connect == ConnectOutcome::refused ? "the destination refused with a reset"
                                                        : "no answer from the destination",
                   ref + ", so this cannot be blamed on the destination"});
    default:
      break;
  }
  return make(Verdict::inconclusive, Location::unknown,
              {"the probe could not be sent: " + c.connect_error});
}

// When the reflector dropped records of this check over its cap, its silence about a
// probe may be one of those: every verdict that rests on that silence says so.
Classification with_dropped_records_noted(const Context& x, Classification c) {
  const auto& r = x.reflector;
  if (r.connections_dropped == 0 || !r.tagged.empty() || c.verdict == Verdict::inconclusive)
    return c;
  c.reasons.push_back(fmt::format(
      "the reflector recorded more connections for this check than it keeps and dropped {}, so "
      "its silence about this probe may be one of those, not a connection that never arrived",
      r.connections_dropped));
  return c;
}

}  // namespace

std::optional<int> destination_distance(const PortTrace& reference) {
  for (const auto& h : reference.hops)
    if (h.kind == HopKind::reached || h.kind == HopKind::reset) return h.ttl;
  return std::nullopt;
}

Classification classify(const ProbeEvidence& e) {
  Context x{e, e.client, e.reflector, std::nullopt};
  if (e.trace) x.distance = destination_distance(e.trace->reference);
  if (e.target == Target::destination) return classify_destination(x);

  // The outcomes that need the reflector's report go through one gate.
  auto with_report = [&](Classification (*decide)(const Context&)) {
    if (e.reflector.report_available) return with_dropped_records_noted(x, decide(x));
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the probe {}", e.client.connect == ConnectOutcome::connected
                                                 ? "connected"
                                                 : to_string(e.client.connect)),
                 "the reflector's report is unavailable (" +
                     (e.reflector.report_error.empty() ? std::string("no control connection")
                                                       : e.reflector.report_error) +
                     "), so what arrived there cannot be checked"});
  };
  switch (e.client.connect) {
    case ConnectOutcome::not_attempted:
      return make(Verdict::inconclusive, Location::unknown,
                  {e.client.connect_error.empty() ? std::string("the probe was not sent")
                                                  : e.client.connect_error});
    case ConnectOutcome::local_error:
      return make(Verdict::inconclusive, Location::unknown,
                  {"this host could not send the probe: " + e.client.connect_error});
    case ConnectOutcome::icmp_error:
      // An ICMP error names its sender: what the reflector saw cannot change who that is.
      return classify_icmp(x);
    case ConnectOutcome::connected:
      return with_report(classify_connected);
    case ConnectOutcome::refused:
      return with_report(classify_refused);
    case ConnectOutcome::timed_out:
      return with_report(classify_timed_out);
  }
  return make(Verdict::inconclusive, Location::unknown, {"unexpected probe outcome"});
}

}  // namespace egress25
