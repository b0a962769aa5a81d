// The classifier: one pure function from a probe's evidence to a verdict with reasons.
//
// Read it top to bottom as a decision table: the connect outcome picks a branch, and in
// each branch the strongest source of evidence present decides (the reflector's own
// record, then the packet witness, then the hop trace). A branch that runs out of
// evidence says so instead of guessing.
#include "classifier.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <string>

namespace egress25 {
namespace {

struct Context {
  const ProbeEvidence& e;
  const ClientProbe& c;
  const ReflectorEvidence& r;
  std::optional<BlockingHop> hop;  // from the trace, when it shows one
  std::optional<int> distance;     // reflector's hop distance, from the reference trace
};

Classification make(Verdict v, Location l, std::vector<std::string> reasons,
                    std::optional<BlockingHop> hop = std::nullopt) {
  return Classification{v, l, std::move(hop), std::move(reasons)};
}

std::string seconds(double ms) {
  return fmt::format("{:.1f} s", ms / 1000.0);
}

std::string short_fp(const std::string& fp) {
  return fp.size() > 16 ? fp.substr(0, 16) + "..." : fp;
}

std::string hop_words(const BlockingHop& h) {
  return h.address.empty() ? fmt::format("hop {}", h.ttl)
                           : fmt::format("hop {} ({})", h.ttl, h.address);
}

// The reason a missing source would have given, to close a fallback honestly.
std::string missing_sources(const Context& x) {
  std::string why;
  if (!x.r.witness)
    why +=
        "no packet witness on the reflector (" +
        (x.r.witness_unavailable.empty() ? std::string("not reported") : x.r.witness_unavailable) +
        ")";
  if (!x.e.trace) {
    if (!why.empty()) why += "; ";
    why += "no hop trace (" +
           (x.e.trace_unavailable.empty() ? std::string("not run") : x.e.trace_unavailable) + ")";
  }
  return why;
}

// The first TTL at which the probed port met a reset, if any.
std::optional<int> first_reset_ttl(const PortTrace& t) {
  for (const auto& h : t.hops)
    if (h.kind == HopKind::reset) return h.ttl;
  return std::nullopt;
}

// The last hop before `ttl` that answered with time-exceeded.
std::optional<BlockingHop> last_router_before(const PortTrace& t, int ttl) {
  std::optional<BlockingHop> last;
  for (const auto& h : t.hops)
    if (h.ttl < ttl && h.kind == HopKind::time_exceeded) last = BlockingHop{h.ttl, h.address};
  return last;
}

bool sent_ehlo(const ClientProbe& c) {
  for (const auto* phase : {&c.transcript.plain, &c.transcript.tls})
    if (phase->to_server.kept.starts_with("EHLO ")) return true;
  return false;
}

// ---- Connected: the reflector's record decides ------------------------------------

Classification classify_connected(const Context& x) {
  const auto& c = x.c;
  const auto& r = x.r;
  const bool cert_mismatch = c.tls_completed && !r.expected_fingerprint.empty() &&
                             c.peer_cert_sha256 != r.expected_fingerprint;
  const std::string cert_reason = fmt::format(
      "TLS completed with a certificate that is not the reflector's: sha256 {} "
      "(subject '{}'), where the control connection pinned {}",
      short_fp(c.peer_cert_sha256), printable(c.peer_cert_subject, 80),
      short_fp(r.expected_fingerprint));

  if (r.tagged.empty()) {
    if (cert_mismatch)
      return make(Verdict::tls_intercepted, Location::path,
                  {cert_reason, "the reflector never saw this probe: TLS ended in the middle"});
    const bool banner_is_reflectors =
        !r.banner_identity.empty() && c.banner.find(r.banner_identity) != std::string::npos;
    if (c.banner_code && !banner_is_reflectors)
      return make(Verdict::intercepted, Location::path,
                  {fmt::format("a server that is not the reflector answered: its greeting was "
                               "'{} {}'",
                               *c.banner_code, printable(c.banner, 100)),
                   "the reflector never saw this probe: the connection was redirected to "
                   "another server"});
    if (r.connections_dropped > 0)
      return make(Verdict::inconclusive, Location::unknown,
                  {fmt::format("the reflector kept no record of this probe, but it dropped {} "
                               "records of this check over its cap: this one may be among them",
                               r.connections_dropped)});
    if (r.untagged_from_client > 0) {
      if (c.banner_code && sent_ehlo(c))
        return make(Verdict::tampered, Location::path,
                    {"the reflector saw a connection from your address on this port, but "
                     "without this probe's tag: the EHLO name was rewritten in flight"});
      return make(
          Verdict::inconclusive, Location::unknown,
          {fmt::format("the reflector accepted a connection from your address on this "
                       "port, but the dialogue did not get as far as EHLO ({})",
                       c.end_detail.empty() ? std::string(to_string(c.end)) : c.end_detail)});
    }
    if (c.banner_code)
      return make(Verdict::intercepted, Location::path,
                  {fmt::format("a server greeted with the reflector's name ('{} {}'), but the "
                               "reflector saw no connection from you on this port: something "
                               "answered in its place",
                               *c.banner_code, printable(c.banner, 100))});
    return make(Verdict::intercepted, Location::path,
                {"the TCP connection was accepted, but the reflector saw no connection from "
                 "your address on this port: something on the path answered in its place",
                 fmt::format("no greeting arrived ({})",
                             c.end_detail.empty() ? std::string(to_string(c.end)) : c.end_detail)});
  }

  const ConnectionRecord& rec = r.tagged.front();
  if (cert_mismatch)
    return make(Verdict::tls_intercepted, Location::path,
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
    return make(Verdict::tampered, Location::path, std::move(reasons));
  }

  if (c.end == DialogueEnd::reset)
    return make(Verdict::reset, Location::path,
                {fmt::format("the connection was reset in the middle of the dialogue, after "
                             "the reflector had seen it; the reflector ended it as '{}'",
                             printable(rec.end_reason, 80))});
  if (c.end != DialogueEnd::completed)
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the reflector saw this probe and what arrived was unchanged, but "
                             "the dialogue did not complete: {}",
                             c.end_detail.empty() ? std::string(to_string(c.end)) : c.end_detail)});

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
    reasons.push_back(
        fmt::format("it arrived from {}, not from {} as the control connection "
                    "did: a NAT pool or a proxy that relays unchanged",
                    rec.peer_address, r.client_public_address));
  return make(Verdict::open, Location::none, std::move(reasons));
}

// ---- Refused: who sent the reset? ---------------------------------------------------

Classification host_reset(const Context& x, std::vector<std::string> reasons) {
  if (x.r.port_advertised) {
    reasons.push_back(
        "the reflector listens on this port, so the host's own firewall "
        "refused the connection");
    return make(Verdict::firewalled_at_reflector, Location::reflector_host, std::move(reasons));
  }
  reasons.push_back("the reflector does not listen on this port: nothing is there to answer");
  return make(Verdict::not_listening, Location::reflector_host, std::move(reasons));
}

Classification classify_refused(const Context& x) {
  if (const auto& w = x.r.witness) {
    if (w->syn_seen && w->rst_sent)
      return host_reset(x, {"the packet witness saw the SYN arrive and the reflector host "
                            "answer it with a reset"});
    if (w->syn_seen)
      return make(Verdict::reset, Location::path,
                  {"a reset answered the SYN, but the packet witness saw the reflector host "
                   "send none: a device on the path forged it"},
                  x.hop);
    return make(Verdict::reset, Location::path,
                {"a reset answered the SYN, and the packet witness never saw the SYN reach the "
                 "reflector host: a device on the path answered in its place"},
                x.hop);
  }
  if (x.e.trace && x.distance) {
    if (auto k = first_reset_ttl(x.e.trace->probed)) {
      if (*k < *x.distance) {
        auto hop = last_router_before(x.e.trace->probed, *k);
        return make(Verdict::reset, Location::path,
                    {fmt::format("the reset already comes back with a TTL of {}, while the "
                                 "reflector is {} hops away: a device on the path sent it",
                                 *k, *x.distance)},
                    hop);
      }
      if (*k == 1)  // nothing stands between: the reflector is the first hop
        return host_reset(x, {"a reset answered the SYN, and the reflector is the first hop: "
                              "no router stands between you and it, so its host sent it"});
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
  const std::string silent = fmt::format("no answer to the SYN within {}", seconds(x.c.elapsed_ms));
  // The decisive observation comes first: the report's one-line reason is the first.
  if (const auto& w = x.r.witness) {
    if (!w->syn_seen) {
      std::vector<std::string> reasons{
          "the packet witness never saw the SYN reach the reflector host", silent};
      if (x.hop)
        reasons.push_back(fmt::format(
            "the probe dies after {}, while the control port goes further", hop_words(*x.hop)));
      return make(Verdict::dropped, Location::path, std::move(reasons), x.hop);
    }
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
  if (x.e.trace && x.distance) {
    if (x.hop && x.hop->ttl + 1 < *x.distance)
      return make(Verdict::dropped, Location::path,
                  {fmt::format("the probe dies after {}, while the control port reaches the "
                               "reflector {} hops away",
                               hop_words(*x.hop), *x.distance),
                   silent},
                  x.hop);
    return make(Verdict::inconclusive, Location::unknown,
                {silent,
                 "the probe travels as far as the last router before the reflector: the "
                 "reflector host's firewall, that router or the way back dropped it",
                 missing_sources(x)});
  }
  return make(Verdict::dropped, Location::unknown,
              {silent, "the reflector recorded no connection for it",
               "where it was dropped is unknown: " + missing_sources(x)});
}

// ---- ICMP: the sender is named -------------------------------------------------------

Classification classify_icmp(const Context& x) {
  const IcmpReport icmp = x.c.icmp.value_or(IcmpReport{});
  const std::string what =
      fmt::format("ICMP {} (type {} code {}) from {}",
                  icmp.description.empty() ? std::string("error") : icmp.description, icmp.type,
                  icmp.code, icmp.sender.empty() ? std::string("an unnamed sender") : icmp.sender);
  if (icmp.sender.empty()) return make(Verdict::icmp_unreachable, Location::unknown, {what});
  if (icmp.sender == x.c.address)
    return make(Verdict::icmp_unreachable, Location::reflector_host,
                {what, "the reflector host itself sent it"});
  std::optional<BlockingHop> hop;
  if (x.e.trace)
    for (const auto* t : {&x.e.trace->probed, &x.e.trace->reference})
      for (const auto& h : t->hops)
        if (!hop && h.address == icmp.sender) hop = BlockingHop{h.ttl, h.address};
  if (!hop && x.hop && x.hop->address == icmp.sender) hop = x.hop;
  return make(Verdict::icmp_unreachable, Location::path,
              {what, "a router on the path sent it, not the reflector host"}, hop);
}

// ---- Destination probes: judged against the reflector probe of the same port --------

Classification classify_destination(const Context& x) {
  const auto& c = x.c;
  const bool own_path_open = x.e.reference_verdict == Verdict::open;
  const std::string ref =
      x.e.reference_verdict
          ? fmt::format("your path to the reflector's SMTP port is {}",
                        to_string(*x.e.reference_verdict))
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

}  // namespace

std::optional<int> destination_distance(const PortTrace& reference) {
  for (const auto& h : reference.hops)
    if (h.kind == HopKind::reached || h.kind == HopKind::reset) return h.ttl;
  return std::nullopt;
}

std::optional<BlockingHop> find_blocking_hop(const PathTrace& trace) {
  const auto& probed = trace.probed.hops;
  if (std::any_of(probed.begin(), probed.end(), [](const TraceHop& h) {
        return h.kind == HopKind::reached || h.kind == HopKind::reset;
      }))
    return std::nullopt;  // the probed port gets through (or is answered at the end)

  // An ICMP unreachable names the hop that refused to forward.
  for (const auto& h : probed)
    if (h.kind == HopKind::unreachable) {
      for (const auto& earlier : probed)
        if (earlier.kind == HopKind::time_exceeded && earlier.address == h.address)
          return BlockingHop{earlier.ttl, h.address};
      return BlockingHop{h.ttl, h.address};
    }

  int probed_last = 0;
  std::string probed_address;
  for (const auto& h : probed)
    if (h.kind == HopKind::time_exceeded && h.ttl > probed_last) {
      probed_last = h.ttl;
      probed_address = h.address;
    }
  int reference_last = 0;
  for (const auto& h : trace.reference.hops)
    if (h.kind != HopKind::silent) reference_last = std::max(reference_last, h.ttl);
  if (probed_last == 0 || probed_last >= reference_last) return std::nullopt;
  return BlockingHop{probed_last, probed_address};
}

Classification classify(const ProbeEvidence& e) {
  Context x{e, e.client, e.reflector, std::nullopt, std::nullopt};
  if (e.trace) {
    x.hop = find_blocking_hop(*e.trace);
    x.distance = destination_distance(e.trace->reference);
  }

  if (e.target == Target::destination) return classify_destination(x);

  switch (e.client.connect) {
    case ConnectOutcome::not_attempted:
      return make(Verdict::inconclusive, Location::unknown,
                  {e.client.connect_error.empty() ? std::string("the probe was not sent")
                                                  : e.client.connect_error});
    case ConnectOutcome::local_error:
      return make(Verdict::inconclusive, Location::unknown,
                  {"this host could not send the probe: " + e.client.connect_error});
    case ConnectOutcome::icmp_error:
      return classify_icmp(x);
    default:
      break;
  }

  if (!e.reflector.report_available) {
    std::string why = "the reflector's report is unavailable (" +
                      (e.reflector.report_error.empty() ? std::string("no control connection")
                                                        : e.reflector.report_error) +
                      "), so what arrived there cannot be checked";
    return make(Verdict::inconclusive, Location::unknown,
                {fmt::format("the probe {}", e.client.connect == ConnectOutcome::connected
                                                 ? "connected"
                                                 : to_string(e.client.connect)),
                 why});
  }

  switch (e.client.connect) {
    case ConnectOutcome::connected:
      return classify_connected(x);
    case ConnectOutcome::refused:
      return classify_refused(x);
    case ConnectOutcome::timed_out:
      return classify_timed_out(x);
    default:
      break;
  }
  return make(Verdict::inconclusive, Location::unknown, {"unexpected probe outcome"});
}

}  // namespace egress25
