// The inbound judgement: the connect-back's outcome and its trace, read from the reflector's side.
#include "inbound_judgement.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "attribution.hpp"
#include "classification.hpp"
#include "reflector_path.hpp"

namespace egress25 {
namespace {

// Who holds the client's public address: its router, or its ISP's carrier-grade NAT.
std::string public_address_role(bool isp_nat) {
  return isp_nat ? "your ISP's carrier-grade NAT (your public address)"
                 : "your router (your public address)";
}
std::string public_address_holder(bool isp_nat) {
  return isp_nat ? "your ISP's carrier-grade NAT" : "your router";
}

// The two traces from the reflector, by TTL, in the inbound words: the reflector's own
// network (reflector_path.hpp's rule), the client's public address (its router, or its
// ISP's carrier-grade NAT), and the ISP or transit between.
class ReverseMap : public ReflectorPath {
 public:
  ReverseMap(const PathTrace& trace, std::string public_address, bool isp_nat)
      : ReflectorPath(trace), public_address_(std::move(public_address)), isp_nat_(isp_nat) {}

  BlockingHop hop(int ttl) const {
    BlockingHop h;
    h.ttl = ttl;
    h.address = address(ttl);
    if (h.address.empty()) {
      h.role = "a router that does not answer traceroute";
      const auto before = ttl > 1 ? segment_of(ttl - 1) : Segment::reflector_network;
      const auto after = segment_of(ttl + 1);
      h.segment = before == after ? before : Segment::unknown;
      return h;
    }
    h.segment = segment_of(ttl);
    h.role = role_of(h.address, h.segment);
    return h;
  }

 private:
  Segment segment_of(int ttl) const {
    const auto a = address(ttl);
    if (a.empty()) return Segment::unknown;
    if (a == public_address_) return isp_nat_ ? Segment::upstream : Segment::local_network;
    if (in_own_network(ttl)) return Segment::reflector_network;
    return Segment::upstream;
  }

  std::string role_of(const std::string& address, Segment segment) const {
    if (address == public_address_) return public_address_role(isp_nat_);
    if (segment == Segment::reflector_network)
      return "the reflector's own network (its hosting provider)";
    if (address_class(address) == AddressClass::shared)
      return "your ISP's carrier-grade NAT (shared address space)";
    return "ISP or transit network";
  }

  std::string public_address_;
  bool isp_nat_ = false;
};

std::string where(const InboundAttempt& a) {
  return a.family == Family::ipv6 ? fmt::format("[{}]:{}", a.address, a.port)
                                  : fmt::format("{}:{}", a.address, a.port);
}

std::string first_line(const std::string& banner) {
  return printable(banner.substr(0, banner.find_first_of("\r\n")), 160);
}

Classification inconclusive(std::vector<std::string> reasons) {
  return classification::make(Verdict::inconclusive, Location::unknown, std::move(reasons));
}

void place(Classification& c, BlockingHop hop) {
  c.location = Location::path;
  c.segment = hop.segment;
  c.blocking_hop = std::move(hop);
}

void place(Classification& c, std::vector<BlockingHop> candidates) {
  c.location = Location::path;
  Segment common = candidates.empty() ? Segment::unknown : candidates.front().segment;
  for (const auto& h : candidates)
    if (h.segment != common) common = Segment::unknown;
  c.segment = common;
  c.blocking_candidates = std::move(candidates);
}

std::string list_words(const std::vector<BlockingHop>& hops) {
  std::string out;
  for (std::size_t i = 0; i < hops.size(); ++i) {
    if (i > 0) out += i + 1 == hops.size() ? " or " : ", ";
    out += hops[i].ttl == 0 ? "the reflector host itself" : hop_words(hops[i]);
  }
  return out;
}

// The client's public address at TTL `ttl`: its router, or its ISP's carrier-grade NAT.
BlockingHop public_hop(int ttl, const std::string& address, bool isp_nat) {
  return BlockingHop{ttl, address, public_address_role(isp_nat),
                     isp_nat ? Segment::upstream : Segment::local_network};
}

// TTL 0: the reflector host itself, whose own firewall stops what it sends.
BlockingHop reflector_host() {
  return BlockingHop{0, "", "the reflector host itself (its own firewall)",
                     Segment::reflector_network};
}

void note_listener(Classification& c, const InboundEvidence& e) {
  if (!e.listen_note.empty()) c.reasons.push_back(e.listen_note);
}

bool is_local(const InboundEvidence& e, const std::string& address) {
  return std::find(e.local_addresses.begin(), e.local_addresses.end(), address) !=
         e.local_addresses.end();
}

Classification connected(const InboundEvidence& e, const InboundAttempt& a) {
  if (a.tls_attempted && !a.tls_completed) {
    auto c = inconclusive({fmt::format(
        "the reflector connected back to {}, but the TLS handshake failed ({}): something "
        "accepts connections there, not a mail server that speaks implicit TLS",
        where(a), a.tls_error)});
    note_listener(c, e);
    return c;
  }
  if (!a.banner_code) {
    auto c = inconclusive({fmt::format(
        "the reflector connected back to {}, but no SMTP greeting came ({}): something "
        "accepts connections on port {}, not a mail server",
        where(a), a.end_detail.empty() ? std::string(to_string(a.end)) : a.end_detail, a.port)});
    note_listener(c, e);
    return c;
  }
  auto c = classification::make(Verdict::open, Location::none);
  std::string dialogue;
  if (a.ehlo_code) dialogue += fmt::format(", EHLO {}", *a.ehlo_code);
  if (a.quit_code) dialogue += fmt::format(", QUIT {}", *a.quit_code);
  c.reasons.push_back(fmt::format("the reflector connected back to {}{} and was greeted: \"{}\"{}",
                                  where(a),
                                  a.tls_completed ? " (implicit TLS, " + a.tls_version + ")" : "",
                                  first_line(a.banner), dialogue));
  if (*a.banner_code != 220)
    c.reasons.push_back(
        fmt::format("the greeting's code is {}, not 220: the server there refuses mail for now",
                    *a.banner_code));
  if (e.reached_this_machine && !*e.reached_this_machine)
    c.reasons.push_back(fmt::format(
        "this computer's listener on port {} saw nothing of it: your router forwards port {} "
        "to another machine, whose greeting is above",
        a.port, a.port));
  else
    note_listener(c, e);
  return c;
}

Classification refused(const InboundEvidence& e, const InboundAttempt& a) {
  auto c = classification::make(Verdict::reset, Location::unknown);
  if (!a.trace) {
    c.reasons.push_back(fmt::format(
        "a TCP reset answered the reflector's connection to {}; without a trace it cannot "
        "tell whether your router, a machine behind it or a network on the way sent it{}",
        where(a), a.trace_unavailable.empty() ? "" : " (" + a.trace_unavailable + ")"));
    note_listener(c, e);
    return c;
  }
  ReverseMap map(*a.trace, a.address, e.public_address_is_isp_nat);
  int k = 0;
  for (const auto& h : a.trace->probed.hops)
    if (h.kind == HopKind::reset) {
      k = h.ttl;
      break;
    }
  if (k == 0) {
    c.reasons.push_back(fmt::format(
        "a TCP reset answered the reflector's connection to {}, but its trace drew none: the "
        "evidence does not say who sent it",
        where(a)));
    note_listener(c, e);
    return c;
  }
  const auto before = k > 1 ? map.probed(k - 1) : std::nullopt;
  const bool passed_router =
      before && before->kind == HopKind::time_exceeded && before->address == a.address;
  if (passed_router) {
    // The public address expired the SYN's TTL: it forwarded it, into the client's network.
    c.verdict = Verdict::not_listening;
    c.location = Location::client_host;
    c.reasons.push_back(fmt::format(
        "from the reflector, port {} passed {} ({}, hop {}), which forwards it to a "
        "machine behind it (hop {}) that refuses it: nothing listens on port {} there",
        a.port, public_address_holder(e.public_address_is_isp_nat), a.address, k - 1, k, a.port));
    note_listener(c, e);
    return c;
  }
  const auto ref = map.reference(k);
  if (ref && ref->kind == HopKind::time_exceeded) {
    // The reference port went on past TTL k: the reset came from hop k-1's way out (the
    // reflector host's own firewall at TTL 1) or hop k's inbound filter, which sees the
    // probe before its TTL runs out (attribution.hpp): both are candidates.
    place(c, {k == 1 ? reflector_host() : map.hop(k - 1), map.hop(k)});
    c.reasons.push_back(fmt::format(
        "from the reflector, a reset for port {} first came back at TTL {} while the reference "
        "port went on: {} resets it (a filter on the way out of the first, or the second's "
        "inbound filter)",
        a.port, k, list_words(c.blocking_candidates)));
    note_listener(c, e);
    return c;
  }
  // The public address itself refused, at its own distance.
  c.verdict = Verdict::not_listening;
  if (is_local(e, a.address)) {
    c.location = Location::client_host;
    c.reasons.push_back(fmt::format(
        "the reflector reached this computer ({}, hop {}), which refused port {}: nothing "
        "listens on it",
        a.address, k, a.port));
  } else {
    place(c, public_hop(k, a.address, e.public_address_is_isp_nat));
    c.reasons.push_back(fmt::format(
        "the reflector's connection reached your public address {} (hop {}), which refused "
        "it: {} forwards nothing on port {}",
        a.address, k, public_address_holder(e.public_address_is_isp_nat), a.port));
  }
  note_listener(c, e);
  return c;
}

Classification silent(const InboundEvidence& e, const InboundAttempt& a) {
  auto c = classification::make(Verdict::dropped, Location::unknown);
  c.reasons.push_back(fmt::format("the reflector's connection to {} got no answer ({})", where(a),
                                  a.connect_error));
  if (!a.trace) {
    c.reasons.push_back("no trace to say where it died" +
                        (a.trace_unavailable.empty() ? "" : ": " + a.trace_unavailable));
    note_listener(c, e);
    return c;
  }
  ReverseMap map(*a.trace, a.address, e.public_address_is_isp_nat);
  const int last = map.last_probed_answer();
  const auto next_ref = map.reference_answer_after(last);
  if (last == 0 && map.reference_answered(1)) {
    // It never left the reflector host, or its provider's first router filters it as it
    // arrives, before its TTL check: the reflector's side either way, and the reflector's
    // kernel may tell which (InboundAttempt::syn_left_host).
    const std::string seen = fmt::format(
        "the reflector's TTL-1 connect on port {} drew nothing while the reference port's did",
        a.port);
    if (a.syn_left_host == false) {
      c.location = Location::reflector_host;
      c.reasons.push_back(fmt::format(
          "{}, and the reflector host did not transmit its SYN's retransmission: its own "
          "firewall stops outbound port {}",
          seen, a.port));
    } else if (a.syn_left_host == true) {
      place(c, map.hop(1));
      c.reasons.push_back(fmt::format(
          "{}, and the SYN left the reflector host: its provider's first router stops outbound "
          "port {} as it arrives",
          seen, a.port));
    } else {
      place(c, {reflector_host(), map.hop(1)});
      c.reasons.push_back(fmt::format(
          "{}: the reflector host itself or its provider's first router stops outbound port {}",
          seen, a.port));
    }
  } else if (last > 0) {
    // The last router that answered (its forwarding filter), the silent ones after it,
    // and the next that answered the reference port (its inbound filter).
    std::vector<BlockingHop> candidates{map.hop(last)};
    const int end = next_ref ? *next_ref : last + 1;
    for (int t = last + 1; t <= end; ++t) {
      const auto ref = map.reference(t);
      const bool at_public_address = t == end && next_ref && ref &&
                                     (ref->kind == HopKind::reached || ref->kind == HopKind::reset);
      candidates.push_back(at_public_address ? public_hop(t, a.address, e.public_address_is_isp_nat)
                                             : map.hop(t));
    }
    place(c, candidates);
    c.reasons.push_back(fmt::format(
        "the reflector's trace: port {} was answered up to hop {}{}; it died at {}", a.port, last,
        next_ref ? fmt::format(", the reference port again at hop {}", *next_ref)
                 : std::string(", and the reference port no further: whatever comes next drops "
                               "unsolicited connections on both ports"),
        list_words(c.blocking_candidates)));
  } else {
    c.reasons.push_back("the reflector's trace drew no answer on either port");
  }
  note_listener(c, e);
  return c;
}

Classification icmp(const InboundEvidence& e, const InboundAttempt& a) {
  auto c = classification::make(Verdict::icmp_unreachable, Location::unknown);
  const auto& r = *a.icmp;
  const auto sender = r.sender.empty() ? std::string("an unnamed sender") : r.sender;
  std::optional<BlockingHop> hop;
  if (a.trace) {
    ReverseMap map(*a.trace, a.address, e.public_address_is_isp_nat);
    for (const auto* t : {&a.trace->probed, &a.trace->reference})
      for (const auto& h : t->hops)
        if (!hop && !r.sender.empty() && h.address == r.sender) hop = map.hop(h.ttl);
  }
  if (hop) {
    place(c, *hop);
  } else if (!r.sender.empty() && r.sender == a.address) {
    c.location = Location::path;
    c.segment = e.public_address_is_isp_nat ? Segment::upstream : Segment::local_network;
  }
  c.reasons.push_back(fmt::format(
      "the reflector's connection to {} drew an ICMP error ({}) from {}{}", where(a), r.description,
      sender,
      hop ? " (" + hop_words(*hop) + ")"
      : r.sender == a.address
          ? " (your public address: " + public_address_holder(e.public_address_is_isp_nat) + ")"
          : ""));
  note_listener(c, e);
  return c;
}

}  // namespace

Classification judge_inbound(const InboundEvidence& e) {
  if (!e.attempt) {
    auto c = inconclusive(
        {e.unavailable.empty() ? "the reflector did not connect back" : e.unavailable});
    c.refused_by_reflector = e.refused_by_reflector;
    return c;
  }
  const auto& a = *e.attempt;
  switch (a.connect) {
    case ConnectOutcome::connected:
      return connected(e, a);
    case ConnectOutcome::refused:
      return refused(e, a);
    case ConnectOutcome::timed_out:
      return silent(e, a);
    case ConnectOutcome::icmp_error:
      if (a.icmp) return icmp(e, a);
      return silent(e, a);
    case ConnectOutcome::local_error:
    case ConnectOutcome::not_attempted:
      break;
  }
  return inconclusive({fmt::format("the reflector could not send its connection to {}: {}",
                                   where(a), a.connect_error)});
}

}  // namespace egress25
