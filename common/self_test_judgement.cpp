// The self-test's judgement: this host's port-25 connection to a destination and its trace.
#include "self_test_judgement.hpp"

#include "classification.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "attribution.hpp"
#include "reflector_path.hpp"

namespace egress25 {
namespace {

// Where a hop sits between this host and the destination.
enum class Stretch { this_host, own_network, between, destination, unknown };

struct Candidate {
  BlockingHop hop;
  Stretch stretch = Stretch::unknown;
};

// The two traces from this host toward the destination, in the self-test's words.
class OutboundPath : public ReflectorPath {
 public:
  OutboundPath(const PathTrace& trace, std::string destination)
      : ReflectorPath(trace), destination_(std::move(destination)) {}

  Candidate hop(int ttl) const {
    Candidate c;
    c.hop.ttl = ttl;
    c.hop.address = address(ttl);
    c.stretch = stretch_of(ttl);
    if (c.hop.address.empty() && c.stretch != Stretch::own_network) {
      // A silent router takes its neighbours' stretch when they agree.
      const auto before = answered_stretch(ttl - 1);
      const auto after = answered_stretch(ttl + 1);
      c.stretch = before == after ? before : Stretch::unknown;
    }
    c.hop.segment = segment_of(c.stretch);
    c.hop.role =
        c.hop.address.empty() ? "a router that does not answer traceroute" : role_of(c.stretch);
    return c;
  }

  // The destination host itself, at the reference port's distance.
  Candidate destination_host(int ttl) const {
    Candidate c;
    c.hop = BlockingHop{ttl, destination_, "the destination host itself (its own firewall)",
                        Segment::unknown};
    c.stretch = Stretch::destination;
    return c;
  }

  // This host, before the first router.
  static Candidate this_host() {
    Candidate c;
    c.hop = BlockingHop{0, "", "this host itself (its own firewall)", Segment::unknown};
    c.stretch = Stretch::this_host;
    return c;
  }

 private:
  Stretch stretch_of(int ttl) const {
    if (in_own_network(ttl)) return Stretch::own_network;
    // The last router before the destination on the reference trace is its network,
    // as the last one before the reflector is the reflector's (attribution.hpp).
    if (const auto d = reference_distance(); d && ttl >= *d - 1) return Stretch::destination;
    return address(ttl).empty() ? Stretch::unknown : Stretch::between;
  }
  Stretch answered_stretch(int ttl) const {
    return ttl < 1 ? Stretch::own_network : stretch_of(ttl);
  }
  static Segment segment_of(Stretch s) {
    switch (s) {
      case Stretch::own_network:
        return Segment::reflector_network;
      case Stretch::between:
      case Stretch::destination:
        return Segment::upstream;
      default:
        return Segment::unknown;
    }
  }
  static std::string role_of(Stretch s) {
    switch (s) {
      case Stretch::own_network:
        return "this host's own network (its hosting provider)";
      case Stretch::destination:
        return "the router in front of the destination (its network)";
      default:
        return "a transit network";
    }
  }

  std::string destination_;
};

std::string where(const InboundAttempt& a) {
  return a.family == Family::ipv6 ? fmt::format("[{}]:{}", a.address, a.port)
                                  : fmt::format("{}:{}", a.address, a.port);
}

std::string words(const BlockingHop& hop) {
  return hop.ttl == 0 ? "this host itself (its own firewall)" : hop_words(hop);
}

std::string list_words(const std::vector<Candidate>& candidates) {
  std::string out;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    if (i > 0) out += i + 1 == candidates.size() ? " or " : ", ";
    out += words(candidates[i].hop);
  }
  return out;
}

Classification verdict(Verdict v, Location l, std::string reason) {
  return classification::make(v, l, {std::move(reason)});
}

// The location and segment that every candidate agrees on, with the hop (one candidate)
// or the candidates (several).
void place(Classification& c, std::vector<Candidate> candidates) {
  Stretch common = candidates.front().stretch;
  for (const auto& k : candidates)
    if (k.stretch != common) common = Stretch::unknown;
  switch (common) {
    case Stretch::this_host:
      c.location = Location::reflector_host;
      break;
    case Stretch::destination:
      c.location = Location::destination;
      break;
    case Stretch::own_network:
      c.location = Location::path;
      c.segment = Segment::reflector_network;
      break;
    case Stretch::between:
      c.location = Location::path;
      c.segment = Segment::upstream;
      break;
    case Stretch::unknown:
      c.location = Location::path;
      c.segment = Segment::unknown;
      break;
  }
  // The VPS side, whether this host or its provider: one party to ask, so one place.
  const bool vps_side = std::all_of(candidates.begin(), candidates.end(), [](const Candidate& k) {
    return k.stretch == Stretch::this_host || k.stretch == Stretch::own_network;
  });
  if (common == Stretch::unknown && vps_side) c.segment = Segment::reflector_network;
  if (candidates.size() == 1) {
    c.blocking_hop = std::move(candidates.front().hop);
  } else {
    for (auto& k : candidates) c.blocking_candidates.push_back(std::move(k.hop));
  }
}

Classification connected(const InboundAttempt& a) {
  if (!a.banner_code) {
    return verdict(
        Verdict::inconclusive, Location::unknown,
        fmt::format("this host connected to {}, but no SMTP greeting came ({}): something "
                    "accepts connections on port {} there without speaking SMTP (a transparent "
                    "proxy of this host's provider would look the same)",
                    where(a), a.end_detail.empty() ? std::string(to_string(a.end)) : a.end_detail,
                    a.port));
  }
  std::string dialogue;
  if (a.ehlo_code) dialogue += fmt::format(", EHLO {}", *a.ehlo_code);
  if (a.quit_code) dialogue += fmt::format(", QUIT {}", *a.quit_code);
  auto c = verdict(
      Verdict::open, Location::none,
      fmt::format("this host connected to {} and was greeted: \"{}\"{}", where(a),
                  printable(a.banner.substr(0, a.banner.find_first_of("\r\n")), 160), dialogue));
  if (*a.banner_code != 220)
    c.reasons.push_back(fmt::format(
        "the greeting's code is {}, not 220: port {} is open, but that server refuses mail for now",
        *a.banner_code, a.port));
  return c;
}

std::string reference_words(const SelfTestEvidence& e) {
  std::string out;
  for (const auto& r : e.references) {
    out += out.empty() ? "" : ", ";
    out += fmt::format("port {} {}", r.port,
                       r.connect == ConnectOutcome::connected ? "accepted the connection"
                       : r.connect == ConnectOutcome::refused ? "refused it (the host answered)"
                                                              : "gave " + r.error);
  }
  return out;
}

// The reason every judgement of a failed connection ends with: what the reference said.
void note_references(Classification& c, const SelfTestEvidence& e) {
  if (!e.references.empty())
    c.reasons.push_back(fmt::format("reference ports on the same address: {}", reference_words(e)));
}

Classification refused(const SelfTestEvidence& e) {
  const auto& a = e.attempt;
  auto c = verdict(Verdict::reset, Location::unknown,
                   fmt::format("a TCP reset answered this host's connection to {}", where(a)));
  if (!a.trace) {
    c.reasons.push_back("no trace to say who sent it" +
                        (a.trace_unavailable.empty() ? "" : ": " + a.trace_unavailable));
    return c;
  }
  const OutboundPath path(*a.trace, a.address);
  int k = 0;
  for (const auto& h : a.trace->probed.hops)
    if (h.kind == HopKind::reset) {
      k = h.ttl;
      break;
    }
  const auto ref = k ? path.reference(k) : std::nullopt;
  if (k == 0 || !ref || ref->kind == HopKind::silent || ref->kind == HopKind::unreachable) {
    c.reasons.push_back(
        "the trace does not show where the reset came from (the reference port's trace "
        "drew no answer where it did)");
    return c;
  }
  if (ref->kind == HopKind::reached || ref->kind == HopKind::reset) {
    // The reset came at the destination's own distance, where the reference port too
    // reached it: the destination refuses port 25.
    c.verdict = Verdict::not_listening;
    c.location = Location::destination;
    c.reasons.front() = fmt::format(
        "{} refused port {} at its own distance (hop {}, where port {} reached it too): "
        "nothing listens on port {} there{}",
        a.address, a.port, k, a.trace->reference.port, a.port,
        k > 1 ? " (or a filter right in front of it answers in its name)" : "");
    return c;
  }
  // The reference port went on past TTL k: the reset came from hop k-1's way out (this
  // host's own firewall at TTL 1) or hop k's inbound filter, which sees the probe before
  // its TTL runs out (attribution.hpp): both are candidates.
  std::vector<Candidate> candidates{k == 1 ? OutboundPath::this_host() : path.hop(k - 1),
                                    path.hop(k)};
  const auto culprit = list_words(candidates);
  place(c, std::move(candidates));
  c.reasons.push_back(fmt::format(
      "a reset for port {} first came back at TTL {} while the reference port went on: {} "
      "resets port {} (a filter on the way out of the first, or the second's inbound filter)",
      a.port, k, culprit, a.port));
  return c;
}

Classification silent(const SelfTestEvidence& e) {
  const auto& a = e.attempt;
  auto c = verdict(
      Verdict::dropped, Location::unknown,
      fmt::format("this host's connection to {} got no answer ({})", where(a), a.connect_error));
  if (!a.trace) {
    c.reasons.push_back("no trace to say where it died" +
                        (a.trace_unavailable.empty() ? "" : ": " + a.trace_unavailable));
    return c;
  }
  const OutboundPath path(*a.trace, a.address);
  const int last = path.last_probed_answer();
  const auto next_ref = path.reference_answer_after(last);
  const auto ref_port = a.trace->reference.port;
  if (last == 0 && path.reference_answered(1)) {
    // No time-exceeded for port 25 even at TTL 1: it never left this host, or the first
    // router's inbound filter drops it before it looks at the TTL. Either way, on this
    // host's side; this host's kernel may tell which (InboundAttempt::syn_left_host).
    std::vector<Candidate> candidates;
    if (a.syn_left_host != true) candidates.push_back(OutboundPath::this_host());
    if (a.syn_left_host != false) candidates.push_back(path.hop(1));
    const auto culprit = list_words(candidates);
    place(c, std::move(candidates));
    c.reasons.push_back(fmt::format(
        "the TTL-1 connect on port {} drew nothing while port {}'s did{}: port {} never gets "
        "past {}",
        a.port, ref_port,
        a.syn_left_host == false  ? ", and this host did not transmit its SYN's retransmission"
        : a.syn_left_host == true ? ", and the SYN left this host"
                                  : "",
        a.port, a.syn_left_host ? culprit : "this host or its first router (" + culprit + ")"));
  } else if (last > 0 && next_ref) {
    std::vector<Candidate> candidates;
    for (int t = last; t < *next_ref; ++t) candidates.push_back(path.hop(t));
    const auto at_next = path.reference(*next_ref);
    const bool next_is_destination =
        at_next && (at_next->kind == HopKind::reached || at_next->kind == HopKind::reset);
    // The next one's inbound filter drops the same way as the forwarding filter of the
    // last that answered: the destination's own firewall, or the next router's.
    candidates.push_back(next_is_destination ? path.destination_host(*next_ref)
                                             : path.hop(*next_ref));
    const auto culprit = candidates.size() == 1 ? words(candidates.front().hop) + " drops it"
                                                : "it died at " + list_words(candidates);
    place(c, candidates);
    c.reasons.push_back(fmt::format(
        "the trace: port {} was answered up to hop {}, port {} also at hop {}{}: {} (a router "
        "answers for a probe that dies in its forwarding filter, not for one its inbound "
        "filter drops)",
        a.port, last, ref_port, *next_ref, next_is_destination ? " (the destination)" : "",
        culprit));
  } else if (last > 0) {
    c.reasons.push_back(fmt::format(
        "the trace: port {} was answered up to hop {}, and port {} no further: the trace cannot "
        "tell the two apart there",
        a.port, last, ref_port));
  } else {
    c.reasons.push_back(
        "the trace drew no answer on either port (routers that do not answer traceroute)");
  }
  return c;
}

Classification icmp(const SelfTestEvidence& e) {
  const auto& a = e.attempt;
  const auto& r = *a.icmp;
  auto c = verdict(Verdict::icmp_unreachable, Location::unknown, "");
  std::optional<Candidate> hop;
  if (a.trace && !r.sender.empty()) {
    const OutboundPath path(*a.trace, a.address);
    for (const auto* t : {&a.trace->probed, &a.trace->reference})
      for (const auto& h : t->hops)
        if (!hop && h.address == r.sender && h.kind != HopKind::reached && h.kind != HopKind::reset)
          hop = path.hop(h.ttl);
  }
  std::string who;
  if (hop) {
    who = " (" + words(hop->hop) + ")";
    place(c, {*hop});
  } else if (!r.sender.empty() && r.sender == a.address) {
    who = " (the destination itself)";
    c.location = Location::destination;
  }
  c.reasons.front() = fmt::format(
      "this host's connection to {} drew an ICMP error ({}) from {}{}", where(a), r.description,
      r.sender.empty() ? std::string("an unnamed sender") : r.sender, who);
  return c;
}

// The party a judgement blames, as SelfTestSummary::blocked_by says it.
std::string party(const Classification& c) {
  if (c.verdict == Verdict::open) return "none";
  if (c.location == Location::reflector_host) return "this_host";
  if (c.location == Location::destination) return "destination";
  if (c.location == Location::path && c.segment == Segment::reflector_network)
    return "hosting_provider";
  if (c.location == Location::path && c.segment == Segment::upstream) return "network";
  return "unknown";
}

// " at hop 1 (203.0.113.1)", " at hop 2 or hop 3": where, short (the roles are in the
// reasons, and the summary has already said whose it is).
std::string where_blocked(const Classification& c) {
  const auto short_words = [](const BlockingHop& h) {
    if (h.ttl == 0) return std::string("this host");
    return fmt::format("hop {}{}", h.ttl, h.address.empty() ? "" : " (" + h.address + ")");
  };
  std::vector<BlockingHop> hops = c.blocking_candidates;
  if (c.blocking_hop) hops = {*c.blocking_hop};
  std::string out;
  for (std::size_t i = 0; i < hops.size(); ++i)
    out += (i == 0 ? " at " : i + 1 == hops.size() ? " or " : ", ") + short_words(hops[i]);
  return out;
}

// What the tested addresses say, party by party (party() words).
struct Parties {
  std::vector<std::string> order;            // each party once, as met
  std::map<std::string, std::string> where;  // party -> its addresses in words
  bool has(const std::string& p) const {
    return std::find(order.begin(), order.end(), p) != order.end();
  }
};

Parties collect_parties(const std::vector<const SelfTestResult*>& tested) {
  Parties out;
  for (const auto* r : tested) {
    const auto p = party(r->judgement);
    if (!out.has(p)) out.order.push_back(p);
    auto what =
        fmt::format("{} over {}, {}", r->evidence.attempt.address,
                    family_label(r->evidence.attempt.family), to_string(r->judgement.verdict));
    if (p == "hosting_provider" || p == "network") what += where_blocked(r->judgement);
    auto& list = out.where[p];
    list += (list.empty() ? "" : "; ") + what;
  }
  return out;
}

// The sentences for a result that is not open everywhere: each party named once, this
// host and its provider first, with what to do.
std::string blocked_text(const Parties& parties, const std::string& target, std::uint16_t port) {
  std::vector<std::string> sentences;
  const auto where = [&](const char* p) { return parties.where.at(p); };
  if (parties.has("this_host"))
    sentences.push_back(fmt::format(
        "This host's own firewall stops outbound port {port} ({}): look at its output rules "
        "(nft list ruleset, iptables -S OUTPUT, ufw status).",
        where("this_host"), fmt::arg("port", port)));
  if (parties.has("hosting_provider"))
    sentences.push_back(fmt::format(
        "This host's hosting provider blocks outbound port {port} ({}). Ask the provider to lift "
        "the block (many do on request, some after a look at the account); until then a mail "
        "relay on this host would fail too.",
        where("hosting_provider"), fmt::arg("port", port)));
  if (parties.has("network"))
    sentences.push_back(fmt::format(
        "A network between this host and {} stops port {port} ({}): neither this host's provider "
        "nor the destination, as far as the trace shows.",
        target, where("network"), fmt::arg("port", port)));
  if (parties.has("destination"))
    sentences.push_back(fmt::format(
        "{} does not accept connections on port {port} from here ({}): that is the destination's "
        "doing, not this host's provider; try another destination to test the provider.",
        target, where("destination"), fmt::arg("port", port)));
  if (parties.has("unknown"))
    sentences.push_back(fmt::format(
        "For {} the evidence does not say who stops port {port} (see the reasons). Try another "
        "destination; if port {port} fails toward every one while other ports work, ask the "
        "hosting provider whether it blocks outbound port {port}.",
        target, fmt::arg("port", port)));
  if (parties.has("none"))
    sentences.push_back(fmt::format("Port {} is open to the other addresses.", port));
  std::string text;
  for (const auto& s : sentences) text += (text.empty() ? "" : " ") + s;
  return text;
}

}  // namespace

bool self_test_tested(const SelfTestEvidence& e) {
  const auto& a = e.attempt;
  return a.blocked_locally ||
         (a.connect != ConnectOutcome::local_error && a.connect != ConnectOutcome::not_attempted);
}

Classification judge_self_test(const SelfTestEvidence& e) {
  const auto& a = e.attempt;
  Classification c;
  switch (a.connect) {
    case ConnectOutcome::connected:
      return connected(a);
    case ConnectOutcome::refused:
      c = refused(e);
      break;
    case ConnectOutcome::timed_out:
      c = silent(e);
      break;
    case ConnectOutcome::icmp_error:
      c = a.icmp ? icmp(e) : silent(e);
      break;
    case ConnectOutcome::local_error:
    case ConnectOutcome::not_attempted:
      if (a.blocked_locally)
        return verdict(Verdict::dropped, Location::reflector_host,
                       fmt::format("this host's own firewall refused to send to {} ({}): a rule "
                                   "in its output path stops port {}",
                                   where(a), a.connect_error, a.port));
      return verdict(Verdict::inconclusive, Location::unknown,
                     fmt::format("nothing left this host for {}: {} (not tested)", where(a),
                                 a.connect_error.empty() ? "not attempted" : a.connect_error));
  }
  note_references(c, e);
  return c;
}

SelfTestSummary summarize_self_test(const std::string& target, std::uint16_t port,
                                    const std::vector<SelfTestResult>& results,
                                    const std::string& resolve_error) {
  SelfTestSummary out;
  std::vector<const SelfTestResult*> tested;
  for (const auto& r : results)
    if (self_test_tested(r.evidence)) tested.push_back(&r);
  if (tested.empty()) {
    out.blocked_by = "unknown";
    out.exit_status = 3;
    out.text = fmt::format("Nothing could be tested: {}.",
                           !resolve_error.empty() ? resolve_error
                           : results.empty()
                               ? target + " gave no address to connect to"
                               : "no connection to " + target + " left this host (no route)");
    return out;
  }
  const auto parties = collect_parties(tested);
  const std::size_t untested = results.size() - tested.size();
  const std::string untested_note =
      untested ? fmt::format(" ({} address{} of it could not be tried from here: no route.)",
                             untested, untested == 1 ? "" : "es")
               : "";
  if (parties.order == std::vector<std::string>{"none"}) {
    out.blocked_by = "none";
    out.exit_status = 0;
    out.text = fmt::format(
        "This host can open port {port} to {}: its hosting provider does not block outbound port "
        "{port} toward it, and a mail relay here could deliver there.{}",
        target, untested_note, fmt::arg("port", port));
    return out;
  }
  out.exit_status = 1;
  out.text = blocked_text(parties, target, port) + untested_note;
  // The party to act on first: this host, its provider, the network, the destination.
  for (const char* p : {"this_host", "hosting_provider", "network", "destination", "unknown"})
    if (parties.has(p)) {
      out.blocked_by = p;
      break;
    }
  return out;
}

}  // namespace egress25
