// The closed vocabulary of verdicts and locations, and the sentence each means.
#include "verdict.hpp"

#include <array>
#include <utility>

namespace egress25 {
namespace {

struct VerdictInfo {
  Verdict verdict;
  std::string_view word;
  std::string_view sentence;
};

constexpr std::array verdicts{
    VerdictInfo{Verdict::open, "open",
                "reached the reflector end to end; the dialogue arrived unchanged both ways"},
    VerdictInfo{Verdict::dropped, "dropped", "no answer at all; the reflector saw nothing of it"},
    VerdictInfo{Verdict::reset, "reset", "a TCP reset that the reflector host did not send"},
    VerdictInfo{Verdict::icmp_unreachable, "icmp_unreachable", "an ICMP error came back"},
    VerdictInfo{Verdict::intercepted, "intercepted",
                "a session completed, but with something other than the reflector"},
    VerdictInfo{Verdict::tampered, "tampered",
                "reached the reflector, but bytes were changed in flight"},
    VerdictInfo{Verdict::tls_intercepted, "tls_intercepted",
                "TLS completed with a certificate that is not the reflector's"},
    VerdictInfo{Verdict::proxied, "proxied",
                "reached the reflector unchanged, but relayed from another address than this "
                "client's own"},
    VerdictInfo{Verdict::reply_dropped, "reply_dropped",
                "the reflector answered the SYN; its answer never came back"},
    VerdictInfo{Verdict::firewalled_at_reflector, "firewalled_at_reflector",
                "the SYN reached the reflector host, whose own firewall discarded or refused it"},
    VerdictInfo{Verdict::not_listening, "not_listening",
                "the reflector host refused: no service on that port"},
    VerdictInfo{Verdict::inconclusive, "inconclusive", "the evidence does not decide"},
};

constexpr std::array<std::pair<Location, std::string_view>, 6> locations{{
    {Location::none, "none"},
    {Location::client_host, "client_host"},
    {Location::path, "path"},
    {Location::reflector_host, "reflector_host"},
    {Location::destination, "destination"},
    {Location::unknown, "unknown"},
}};

}  // namespace

std::string_view to_string(Verdict v) {
  for (const auto& info : verdicts)
    if (info.verdict == v) return info.word;
  return "inconclusive";
}

std::optional<Verdict> verdict_from_string(std::string_view s) {
  for (const auto& info : verdicts)
    if (info.word == s) return info.verdict;
  return std::nullopt;
}

std::string_view describe(Verdict v) {
  for (const auto& info : verdicts)
    if (info.verdict == v) return info.sentence;
  return "the evidence does not decide";
}

std::string_view to_string(Location l) {
  for (const auto& [loc, word] : locations)
    if (loc == l) return word;
  return "unknown";
}

std::string_view to_string(Segment s) {
  switch (s) {
    case Segment::local_network:
      return "local_network";
    case Segment::upstream:
      return "upstream";
    case Segment::reflector_network:
      return "reflector_network";
    case Segment::unknown:
      break;
  }
  return "unknown";
}

}  // namespace egress25
