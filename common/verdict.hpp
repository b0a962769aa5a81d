// The closed vocabulary of verdicts and locations, and the sentence each means.
#pragma once

#include <optional>
#include <string_view>

namespace egress25 {

enum class Verdict {
  open,
  dropped,
  reset,
  icmp_unreachable,
  intercepted,
  tampered,
  tls_intercepted,
  proxied,
  reply_dropped,
  firewalled_at_reflector,
  not_listening,
  inconclusive,
};

enum class Location { none, client_host, path, reflector_host, destination, unknown };

// Which part of the path, for location `path`: the client's own network up to its
// default gateway, its ISP and the transit beyond, or the router in front of the
// reflector (its hosting provider).
enum class Segment { local_network, upstream, reflector_network, unknown };

// Every verdict, in the vocabulary's order (for tables and tests).
inline constexpr Verdict all_verdicts[] = {
    Verdict::open,
    Verdict::dropped,
    Verdict::reset,
    Verdict::icmp_unreachable,
    Verdict::intercepted,
    Verdict::tampered,
    Verdict::tls_intercepted,
    Verdict::proxied,
    Verdict::reply_dropped,
    Verdict::firewalled_at_reflector,
    Verdict::not_listening,
    Verdict::inconclusive,
};

std::string_view to_string(Verdict v);
std::optional<Verdict> verdict_from_string(std::string_view s);
std::string_view to_string(Location l);
std::string_view to_string(Segment s);

// The sentence an operator reads for a verdict, e.g. "no answer at all".
std::string_view describe(Verdict v);

}  // namespace egress25
