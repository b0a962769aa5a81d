// The classifier: one pure function from a probe's evidence to a verdict with reasons.
//
// Read it top to bottom as a decision table. `classify` (at the end) is one switch over
// what the client saw of its connection: nothing sent, an ICMP error, connected, a reset,
// silence. Each case goes to one function, and in each the strongest evidence present
// decides first: the reflector's own record, then the packet witness, then the hop
// trace. Every early return says why it comes where it does. A case that runs out of
// evidence says so instead of guessing.
#include "classifier.hpp"

#include "attribution.hpp"
#include "classification.hpp"
#include "end_reason.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <string>

namespace egress25 {
namespace {

// One probe's evidence, with the parts every rule reads named once.
struct Facts {
  const ProbeEvidence& evidence;
  HostNetwork host;          // this host's network, with the address the reflector saw it from
  const ClientProbe& probe;  // what the client saw
  const ReflectorEvidence& reflector;  // what the reflector recorded (and its witness)
  const std::optional<PathTrace>& trace;
  std::optional<int> distance;  // the reflector's hop distance, from the reference trace
};

using classification::make;

// The verdict placed where the evidence puts it: location, segment, hop or candidates,
// and the observations that place it after the verdict's own reasons.
Classification placed(Verdict verdict, const Place& place, std::vector<std::string> reasons) {
  Classification result = make(verdict, place.location, std::move(reasons));
  if (place.location == Location::path) result.segment = place.segment.value_or(Segment::unknown);
  result.blocking_hop = place.hop;
  result.blocking_candidates = place.candidates;
  result.reasons.insert(result.reasons.end(), place.reasons.begin(), place.reasons.end());
  return result;
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

std::string silence(const ClientProbe& probe) {
  return fmt::format("no answer to the SYN within {}", seconds(probe.elapsed_ms));
}

std::string short_fingerprint(const std::string& fingerprint) {
  return fingerprint.size() > 16 ? fingerprint.substr(0, 16) + "..." : fingerprint;
}

std::string end_words(const ClientProbe& probe) {
  return probe.end_detail.empty() ? std::string(to_string(probe.end)) : probe.end_detail;
}

// The reason a missing source would have given, to close a fallback honestly.
std::string missing_sources(const Facts& facts) {
  std::string why;
  if (!facts.reflector.witness)
    why += "no packet witness on the reflector (" +
           (facts.reflector.witness_unavailable.empty() ? std::string("not reported")
                                                        : facts.reflector.witness_unavailable) +
           ")";
  if (!facts.trace) {
    if (!why.empty()) why += "; ";
    why += "no hop trace (" +
           (facts.evidence.trace_unavailable.empty() ? std::string("not run")
                                                     : facts.evidence.trace_unavailable) +
           ")";
  }
  return why;
}

// The first TTL at which the probed port met a reset, if any.
std::optional<int> first_reset_ttl(const PortTrace& trace) {
  for (const auto& hop : trace.hops)
    if (hop.kind == HopKind::reset) return hop.ttl;
  return std::nullopt;
}

// Where the trace shows the probe's handshake answered in the reflector's place, else
// somewhere on the path.
Place answering_place(const Facts& facts) {
  if (facts.trace)
    if (auto place = locate_handshake(*facts.trace, facts.host, facts.probe.port)) return *place;
  return somewhere_on_path();
}

bool sent_ehlo(const ClientProbe& probe) {
  for (const auto* phase : {&probe.transcript.plain, &probe.transcript.tls})
    if (phase->to_server.kept.starts_with("EHLO ")) return true;
  return false;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

// ---- Nothing sent ----------------------------------------------------------------------

Classification not_sent(const Facts& facts) {
  const ClientProbe& probe = facts.probe;
  if (facts.evidence.target == Target::destination)
    return make(Verdict::inconclusive, Location::unknown,
                {"the probe could not be sent: " + probe.connect_error});
  if (probe.connect == ConnectOutcome::local_error)
    return make(Verdict::inconclusive, Location::unknown,
                {"this host could not send the probe: " + probe.connect_error});
  return make(
      Verdict::inconclusive, Location::unknown,
      {probe.connect_error.empty() ? std::string("the probe was not sent") : probe.connect_error});
}

// ---- ICMP: the sender is named ---------------------------------------------------------

Classification classify_icmp(const Facts& facts) {
  const ClientProbe& probe = facts.probe;
  const IcmpReport icmp = probe.icmp.value_or(IcmpReport{});
  const std::string what =
      fmt::format("ICMP {} (type {} code {}) from {}",
                  icmp.description.empty() ? std::string("error") : icmp.description, icmp.type,
                  icmp.code, icmp.sender.empty() ? std::string("an unnamed sender") : icmp.sender);
  // The kernel gave no sender: nothing to place.
  if (icmp.sender.empty()) return make(Verdict::icmp_unreachable, Location::unknown, {what});
  // Before the traces: a destination that answers for itself is placed by its address
  // alone (the traces go to the reflector, not to it).
  if (facts.evidence.target == Target::destination && icmp.sender == probe.address)
    return make(Verdict::icmp_unreachable, Location::destination,
                {what, "the destination host itself sent it"});
  // Anyone else: this computer, the reflector host, a hop of the traces, or a router
  // placed by its address alone.
  const Place place = locate_sender(icmp.sender, facts.trace, facts.host, probe.address);
  return placed(Verdict::icmp_unreachable, place, {what});
}

// ---- Connected to the reflector: its record decides -----------------------------------

// The reflector's own refusal of this connection (its per-source cap, a full table),
// from its 421 greeting or its REPORT: not evidence about the path at all.
std::optional<Classification> refused_by_reflector(const Facts& facts) {
  const ClientProbe& probe = facts.probe;
  const ReflectorEvidence& reflector = facts.reflector;
  // A tagged record means the reflector served this probe: whatever it refused was
  // another connection.
  if (!reflector.tagged.empty()) return std::nullopt;
  std::vector<std::string> reasons;
  if (probe.banner_code == 421 && !reflector.banner_identity.empty() &&
      probe.banner.find(reflector.banner_identity) != std::string::npos)
    reasons.push_back(fmt::format("the reflector itself refused the connection: '{} {}'",
                                  *probe.banner_code, printable(probe.banner, 100)));
  for (const auto& why : reflector.refusals)
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
Classification reset_before_ehlo(const Facts& facts) {
  const ClientProbe& probe = facts.probe;
  const auto& ends = facts.reflector.untagged_end_reasons;
  // The endings the reflector itself decides (common/end_reason.hpp): its timeouts, its
  // limits, its shutdown. Anything else ("reset by peer", "peer closed") came from the
  // other end.
  const bool reflector_closed = std::any_of(ends.begin(), ends.end(), [](const std::string& end) {
    return end_reason::decided_by_reflector(end);
  });
  const std::string when = std::string(probe.banner_code ? " after the reflector's greeting" : "") +
                           (sent_ehlo(probe) ? ", once the EHLO was sent" : "");
  // The reflector ended it itself: the reset is not evidence against the path.
  if (reflector_closed)
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the connection was reset{}; the reflector saw a connection from "
                             "your address on this port and ended it itself ('{}')",
                             when, printable(ends.front(), 80))});
  std::string seen =
      facts.reflector.untagged_from_client > 0
          ? "the reflector saw a connection from your address on this port, but never this "
            "probe's EHLO"
          : "the reflector saw no connection carrying this probe's tag: what greeted you "
            "relayed its greeting";
  if (!ends.empty())
    seen += fmt::format(", and saw it end as '{}': it did not send that reset",
                        printable(ends.front(), 80));
  return placed(Verdict::reset, answering_place(facts),
                {fmt::format("the connection was reset{}", when), seen});
}

// Connected, and the reflector kept no record carrying this probe's tag.
Classification connected_without_record(const Facts& facts, bool cert_mismatch,
                                        const std::string& cert_reason) {
  const ClientProbe& probe = facts.probe;
  const ReflectorEvidence& reflector = facts.reflector;
  // A certificate that is not the pinned one decides first: TLS ended at whatever
  // presented it, and the reflector's silence agrees.
  if (cert_mismatch)
    return placed(Verdict::tls_intercepted, answering_place(facts),
                  {cert_reason, "the reflector never saw this probe: TLS ended in the middle"});
  const bool banner_is_reflectors =
      !reflector.banner_identity.empty() &&
      probe.banner.find(reflector.banner_identity) != std::string::npos;
  // A greeting without the reflector's identity: another server answered. This rests on
  // the greeting, not on the reflector's silence, so it comes before the dropped records.
  if (probe.banner_code && !banner_is_reflectors)
    return placed(Verdict::intercepted, answering_place(facts),
                  {fmt::format("a server that is not the reflector answered: its greeting was "
                               "'{} {}'",
                               *probe.banner_code, printable(probe.banner, 100)),
                   "the reflector saw no connection carrying this probe's tag"});
  // Every rule below rests on the reflector's silence about this probe; a silence that
  // may be a record dropped over its cap decides nothing.
  if (reflector.connections_dropped > 0)
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the reflector kept no record of this probe, but it dropped {} "
                             "records of this check over its cap: this one may be among them",
                             reflector.connections_dropped)});
  // The reflector's own greeting came through (or it saw the connection), then a reset
  // before the EHLO reached it: whatever relayed the greeting, or the path, cut it.
  if (probe.end == DialogueEnd::reset &&
      (banner_is_reflectors || reflector.untagged_from_client > 0))
    return reset_before_ehlo(facts);
  if (reflector.untagged_from_client > 0) {
    // The connection arrived without the tag though the EHLO carrying it was answered:
    // the name was changed on the way.
    if (probe.end == DialogueEnd::completed)
      return placed(Verdict::tampered, answering_place(facts),
                    {"the dialogue completed, but the connection the reflector saw from your "
                     "address on this port never carried this probe's tag: the EHLO name "
                     "arrived changed"});
    // It stopped before the EHLO could carry the tag: no sign of a change either way.
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the reflector accepted a connection from your address on this "
                             "port, but the dialogue did not get as far as EHLO ({})",
                             end_words(probe))});
  }
  // The reflector's greeting, but no connection from this address reached the
  // reflector at all: something answered with a copy of it.
  if (probe.banner_code)
    return placed(Verdict::intercepted, answering_place(facts),
                  {fmt::format("a server greeted with the reflector's name ('{} {}'), but the "
                               "reflector saw no connection from you on this port",
                               *probe.banner_code, printable(probe.banner, 100))});
  // Accepted, never greeted, never seen by the reflector: something else took the handshake.
  return placed(Verdict::intercepted, answering_place(facts),
                {"the TCP connection was accepted, but the reflector saw no connection from "
                 "your address on this port",
                 fmt::format("no greeting arrived ({})", end_words(probe))});
}

// The probe arrived from another address than the control connection. A relay that
// re-originates it answers the handshake before the reflector's distance; translation
// (a NAT) does not. Without a trace, only a difference from this session's other ports
// says it was this port alone. A NAT pool that is not paired (RFC 4787 REQ-2) gives
// each connection any address of the pool: every port would then differ at random.
Classification arrived_from_elsewhere(const Facts& facts, const ConnectionRecord& record,
                                      std::vector<std::string> reasons) {
  const ReflectorEvidence& reflector = facts.reflector;
  const std::string& ours = reflector.client_public_address;
  reasons.push_back(
      fmt::format("it arrived at the reflector from {}, not from {} as the "
                  "control connection did",
                  record.peer_address, ours));
  std::optional<int> handshake_ttl;
  if (facts.trace)
    for (const auto& hop : facts.trace->probed.hops)
      if (hop.kind == HopKind::reached) {
        handshake_ttl = hop.ttl;
        break;
      }
  const bool answered_at_reflector =
      handshake_ttl && facts.distance && *handshake_ttl == *facts.distance;
  // The trace shows who answered in the reflector's place: a relay, and where it is.
  if (facts.trace)
    if (auto place = locate_handshake(*facts.trace, facts.host, facts.probe.port)) {
      reasons.push_back("mail sent on this port leaves from the relay's address, not from yours");
      return placed(Verdict::proxied, *place, std::move(reasons));
    }
  // The other ports arrived from our address: this port alone is sent from another, so
  // mail on it leaves from someone else's address, translated or relayed.
  if (contains(reflector.sibling_sources, ours)) {
    reasons.push_back("this session's probes of the other ports arrived from " + ours +
                      ": only this port is sent from another address, so mail sent on it "
                      "leaves from someone else's address");
    if (answered_at_reflector)
      reasons.push_back(
          "its handshake was answered at the reflector's own distance: the address was "
          "translated on the way, not relayed by a server");
    return placed(Verdict::proxied, somewhere_on_path(), std::move(reasons));
  }
  // Every port arrived from elsewhere and the reflector itself answered the handshake:
  // a NAT pool, the ordinary case of a carrier-grade NAT.
  if (answered_at_reflector) {
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

Classification classify_connected(const Facts& facts) {
  const ClientProbe& probe = facts.probe;
  const ReflectorEvidence& reflector = facts.reflector;
  // First the reflector's own refusal: it explains a missing record without saying
  // anything about the path, so no rule below may read that silence as a block.
  if (auto refusal = refused_by_reflector(facts)) return *refusal;
  const bool cert_mismatch = probe.tls_completed && !reflector.expected_fingerprint.empty() &&
                             probe.peer_cert_sha256 != reflector.expected_fingerprint;
  const std::string cert_reason = fmt::format(
      "TLS completed with a certificate that is not the reflector's: sha256 {} "
      "(subject '{}'), where the control connection pinned {}",
      short_fingerprint(probe.peer_cert_sha256), printable(probe.peer_cert_subject, 80),
      short_fingerprint(reflector.expected_fingerprint));
  // No record of this probe: who answered and what the reflector saw instead decide.
  if (reflector.tagged.empty()) return connected_without_record(facts, cert_mismatch, cert_reason);

  const ConnectionRecord& record = reflector.tagged.front();
  // A certificate that is not the pinned one: TLS was ended in the middle, even though
  // the transcripts (the decrypted bytes, relayed faithfully) may agree.
  if (cert_mismatch)
    return placed(Verdict::tls_intercepted, answering_place(facts),
                  {cert_reason, fmt::format("the reflector saw the probe arrive from {}, relayed "
                                            "by a TLS-terminating middlebox",
                                            record.peer_address)});
  // Bytes changed between the two ends: tampered, however the dialogue ended.
  std::vector<std::string> reasons;
  const auto differences = compare_transcripts(probe.transcript, record.transcript);
  if (!differences.empty()) {
    for (const auto& difference : differences) reasons.push_back(difference.detail);
    reasons.push_back(
        fmt::format("the reflector saw this probe arrive from {}, with bytes "
                    "changed in flight",
                    record.peer_address));
    return placed(Verdict::tampered, answering_place(facts), std::move(reasons));
  }
  // Unchanged so far, then a reset: the reflector never resets a session it serves.
  if (probe.end == DialogueEnd::reset)
    return placed(Verdict::reset, answering_place(facts),
                  {fmt::format("the connection was reset in the middle of the dialogue, after "
                               "the reflector had seen it; the reflector ended it as '{}'",
                               printable(record.end_reason, 80))});
  // Cut short another way: what arrived was unchanged, the rest was never seen.
  if (probe.end != DialogueEnd::completed)
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the reflector saw this probe and what arrived was unchanged, but "
                             "the dialogue did not complete: {}",
                             end_words(probe))});

  reasons.push_back(
      fmt::format("the reflector saw this connection from {} and both ends "
                  "recorded the same dialogue",
                  record.peer_address));
  if (probe.tls_completed)
    reasons.push_back(
        fmt::format("TLS {} with the reflector's own certificate ({})",
                    probe.tls_version.empty() ? std::string("completed") : probe.tls_version,
                    short_fingerprint(probe.peer_cert_sha256)));
  else if (probe.kind == ServiceKind::smtp)
    reasons.push_back("STARTTLS was not completed; the cleartext dialogue was unchanged");
  // Complete and unchanged, but from another address than ours: who changed it decides.
  if (!reflector.client_public_address.empty() &&
      record.peer_address != reflector.client_public_address)
    return arrived_from_elsewhere(facts, record, std::move(reasons));
  return make(Verdict::open, Location::none, std::move(reasons));
}

// ---- Refused by a reset: who sent it? -------------------------------------------------

Classification host_reset(const Facts& facts, std::vector<std::string> reasons) {
  // A listening port refused by its own host: the host's firewall, not an empty port.
  if (facts.reflector.port_advertised) {
    reasons.push_back(
        "the reflector listens on this port, so the host's own firewall "
        "refused the connection");
    return make(Verdict::firewalled_at_reflector, Location::reflector_host, std::move(reasons));
  }
  reasons.push_back("the reflector does not listen on this port: nothing is there to answer");
  return make(Verdict::not_listening, Location::reflector_host, std::move(reasons));
}

// A reset the reflector host did not send, placed by the trace when it shows where.
Classification forged_reset(const Facts& facts, std::string observed, bool syn_left_this_host) {
  if (facts.trace)
    if (auto place = locate_reset(*facts.trace, facts.host, facts.probe.port))
      return placed(Verdict::reset, *place, {std::move(observed)});
  // No trace to place it: past this host when the reflector saw the SYN, else this host's
  // firewall and the path cannot be told apart.
  return placed(Verdict::reset,
                syn_left_this_host ? somewhere_on_path() : between_here_and_the_reflector(),
                {std::move(observed)});
}

Classification classify_refused(const Facts& facts) {
  // The witness decides first: it saw whether the SYN arrived and whether the host reset it.
  if (const auto& witness = facts.reflector.witness) {
    if (witness->syn_seen && witness->rst_sent)
      return host_reset(facts, {"the packet witness saw the SYN arrive and the reflector host "
                                "answer it with a reset"});
    if (witness->syn_seen)
      return forged_reset(facts,
                          "a reset answered the SYN, but the packet witness saw the SYN "
                          "arrive and the reflector host send no reset",
                          true);
    return forged_reset(facts,
                        "a reset answered the SYN, and the packet witness never saw the SYN "
                        "reach the reflector host",
                        false);
  }
  // Without a witness, the trace places the reset by the TTL at which it comes back.
  if (facts.trace && facts.distance) {
    if (auto reset_ttl = first_reset_ttl(facts.trace->probed)) {
      // Nothing stands between: the reflector is the first hop, so its host sent it.
      if (*facts.distance == 1)
        return host_reset(facts, {"a reset answered the SYN, and the reflector is the first hop: "
                                  "no router stands between you and it, so its host sent it"});
      // Back before the reflector's distance: a router on the path sent it.
      auto place = locate_reset(*facts.trace, facts.host, facts.probe.port);
      if (place && !place->reflector_host_possible)
        return placed(Verdict::reset, *place,
                      {fmt::format("a reset answered the SYN before the reflector's distance "
                                   "({} hops)",
                                   *facts.distance)});
      // Back at the reflector's distance: its host or the router just before it, which
      // only a witness could tell apart.
      return make(Verdict::inconclusive, Location::unknown,
                  {fmt::format("a reset answered the SYN; it first comes back at hop {}, the "
                               "reflector's own distance, so it was sent by the reflector host "
                               "or the router just before it",
                               *reset_ttl),
                   missing_sources(facts)});
    }
  }
  return make(Verdict::inconclusive, Location::unknown,
              {"a TCP reset answered the SYN, but nothing shows whether your path or the "
               "reflector host sent it",
               missing_sources(facts)});
}

// ---- Timed out: where did the SYN die? ------------------------------------------------

Classification classify_timed_out(const Facts& facts) {
  const std::string silent = silence(facts.probe);
  const std::optional<bool> left = facts.probe.syn_left_host;
  std::optional<Place> place;
  if (facts.trace) {
    place = locate_silent_drop(*facts.trace, facts.host, facts.probe.port, left);
  } else if (left == false) {
    // No trace, but this computer's kernel says the SYN never left: its own firewall.
    place = Place{Location::client_host, {}, {}, {}, false, {syn_held_words}};
  }
  // The witness decides first, and its observation comes first among the reasons (the
  // report's one-line reason is the first).
  if (const auto& witness = facts.reflector.witness) {
    // The SYN never arrived: dropped on the way, where the trace says if it does; on the
    // path, somewhere, when the SYN is known to have left this computer.
    if (!witness->syn_seen) {
      Place where = place.value_or(between_here_and_the_reflector());
      if (!place && left == true)
        where = Place{Location::path, Segment::unknown, {}, {}, false, {syn_left_words}};
      return placed(Verdict::dropped, where,
                    {"the packet witness never saw the SYN reach the reflector host", silent});
    }
    // The host answered with a reset that never came back.
    if (witness->rst_sent)
      return host_reset(facts, {"the packet witness saw the reflector host answer the SYN with "
                                "a reset, which never came back to you",
                                silent});
    // The host answered with SYN-ACK and the handshake never completed: the way back.
    if (witness->synack_sent && !witness->handshake_completed)
      return make(
          Verdict::reply_dropped, Location::path,
          {fmt::format(
               "the packet witness saw the SYN arrive{} and the reflector answer with "
               "SYN-ACK, but the handshake never completed: the answer was lost on its "
               "way back to you",
               witness->syn_count > 1 ? fmt::format(" ({} times)", witness->syn_count) : ""),
           silent});
    // The SYN arrived and the host never answered: its own firewall.
    if (!witness->synack_sent)
      return make(Verdict::firewalled_at_reflector, Location::reflector_host,
                  {"the packet witness saw the SYN reach the reflector host, which never "
                   "answered: its own firewall discarded it",
                   silent});
    // The handshake completed at the reflector while the client saw nothing.
    return make(Verdict::inconclusive, Location::unknown,
                {silent,
                 "yet the packet witness saw the handshake complete: something between "
                 "you and the reflector answered differently to each side"});
  }
  // Without a witness, the trace places the drop, unless the reflector host is among
  // the candidates: only a witness can clear its firewall.
  if (place && !place->reflector_host_possible) return placed(Verdict::dropped, *place, {silent});
  if (place)
    return make(Verdict::inconclusive, Location::unknown,
                {silent,
                 "the probe travels as far as the last router before the reflector: the "
                 "reflector host's firewall, that router or the way back dropped it",
                 missing_sources(facts)});
  std::vector<std::string> reasons{silent, "the reflector recorded no connection for it"};
  if (left == true) reasons.push_back(syn_left_words);
  reasons.push_back("where it was dropped is unknown: " + missing_sources(facts));
  return make(Verdict::dropped, Location::unknown, std::move(reasons));
}

// ---- Destination probes: judged against the reflector probe of the same port ----------

// What the reflector probe of the same port and family says of this computer's own path.
std::string reference_words(const Facts& facts) {
  return facts.evidence.reference_verdict
             ? fmt::format("your path to the reflector's SMTP port is {}",
                           to_string(*facts.evidence.reference_verdict))
             : std::string("there is no reflector probe of port 25 to compare with");
}

Classification destination_connected(const Facts& facts) {
  const ClientProbe& probe = facts.probe;
  if (probe.banner_code == 220)
    return make(Verdict::open, Location::none,
                {fmt::format("the destination greeted with '{} {}'", *probe.banner_code,
                             printable(probe.banner, 100))});
  // A greeting other than 220: the path let the connection through, but the server
  // would not talk, so whether mail passes is not shown.
  if (probe.banner_code)
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("connected, but the destination greeted with '{} {}' instead of "
                             "220: it would not start an SMTP session",
                             *probe.banner_code, printable(probe.banner, 100))});
  return make(Verdict::inconclusive, Location::unknown,
              {fmt::format("connected, but no SMTP greeting arrived ({})", end_words(probe))});
}

// Refused or silent: the destination's doing only when this computer's own path to
// the reflector's port is open; otherwise the block may be on this side.
Classification destination_unanswered(const Facts& facts) {
  const bool refused = facts.probe.connect == ConnectOutcome::refused;
  const std::string what =
      refused ? "the destination refused with a reset" : "no answer from the destination";
  if (facts.evidence.reference_verdict == Verdict::open)
    return make(refused ? Verdict::not_listening : Verdict::dropped, Location::destination,
                {what, reference_words(facts) + ", so your own network lets this port through"});
  return make(Verdict::inconclusive, Location::unknown,
              {what, reference_words(facts) + ", so this cannot be blamed on the destination"});
}

// ---- The reflector's report -----------------------------------------------------------

// When the reflector dropped records of this check over its cap, its silence about a
// probe may be one of those: every verdict that rests on that silence says so.
Classification with_dropped_records_noted(const Facts& facts, Classification result) {
  const ReflectorEvidence& reflector = facts.reflector;
  if (reflector.connections_dropped == 0 || !reflector.tagged.empty() ||
      result.verdict == Verdict::inconclusive)
    return result;
  result.reasons.push_back(fmt::format(
      "the reflector recorded more connections for this check than it keeps and dropped {}, so "
      "its silence about this probe may be one of those, not a connection that never arrived",
      reflector.connections_dropped));
  return result;
}

// A reflector probe's connection is judged by what the reflector recorded of it. Without
// the report nothing can be checked, whatever the client saw (`outcome`): inconclusive.
Classification with_report(const Facts& facts, Classification (*decide)(const Facts&),
                           std::string outcome) {
  const ReflectorEvidence& reflector = facts.reflector;
  if (!reflector.report_available)
    return make(Verdict::inconclusive, Location::unknown,
                {std::move(outcome),
                 "the reflector's report is unavailable (" +
                     (reflector.report_error.empty() ? std::string("no control connection")
                                                     : reflector.report_error) +
                     "), so what arrived there cannot be checked"});
  return with_dropped_records_noted(facts, decide(facts));
}

}  // namespace

std::optional<int> destination_distance(const PortTrace& reference) {
  for (const auto& hop : reference.hops)
    if (hop.kind == HopKind::reached || hop.kind == HopKind::reset) return hop.ttl;
  return std::nullopt;
}

Classification classify(const ProbeEvidence& evidence) {
  Facts facts{evidence,           evidence.host,  evidence.client,
              evidence.reflector, evidence.trace, std::nullopt};
  facts.host.public_address = evidence.reflector.client_public_address;
  if (evidence.trace) facts.distance = destination_distance(evidence.trace->reference);
  // A destination probe has no reflector record: it is judged against the reflector
  // probe of the same port instead of through the reflector's report.
  const bool to_destination = evidence.target == Target::destination;
  switch (evidence.client.connect) {
    // Nothing left this host: no other source can be about a packet never sent.
    case ConnectOutcome::not_attempted:
    case ConnectOutcome::local_error:
      return not_sent(facts);
    // Not through the report gate: an ICMP error names its sender, and nothing the
    // reflector recorded (or failed to report) can change who that is.
    case ConnectOutcome::icmp_error:
      return classify_icmp(facts);
    // The rest reached something, or were met by silence: what the reflector recorded
    // decides, so a reflector probe goes through its report (with_report); a destination
    // probe is judged against the reflector probe of the same port.
    case ConnectOutcome::connected:
      return to_destination ? destination_connected(facts)
                            : with_report(facts, classify_connected, "the probe connected");
    case ConnectOutcome::refused:
      return to_destination ? destination_unanswered(facts)
                            : with_report(facts, classify_refused, "a TCP reset answered the SYN");
    case ConnectOutcome::timed_out:
      return to_destination ? destination_unanswered(facts)
                            : with_report(facts, classify_timed_out, silence(facts.probe));
  }
  // Only an outcome outside the enumeration gets here.
  return make(Verdict::inconclusive, Location::unknown, {"unexpected probe outcome"});
}

}  // namespace egress25
