// The closed vocabulary of verdicts and locations, and the sentence each means.
#pragma once

#include <cstddef>
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

// Every location and every segment, in their declaration order.
inline constexpr Location all_locations[] = {
    Location::none,           Location::client_host, Location::path,
    Location::reflector_host, Location::destination, Location::unknown,
};
inline constexpr Segment all_segments[] = {
    Segment::local_network,
    Segment::upstream,
    Segment::reflector_network,
    Segment::unknown,
};

// Each list holds its enumeration's values once, in declaration order, and ends with
// the last one declared (checked here, so a list cannot skip or reorder a value; a value
// added to an enumeration goes into its list).
template <typename Enum, std::size_t N>
constexpr bool lists_in_order(const Enum (&list)[N], Enum last) {
  for (std::size_t i = 0; i < N; ++i)
    if (static_cast<std::size_t>(list[i]) != i) return false;
  return list[N - 1] == last;
}
static_assert(lists_in_order(all_verdicts, Verdict::inconclusive));
static_assert(lists_in_order(all_locations, Location::unknown));
static_assert(lists_in_order(all_segments, Segment::unknown));

std::string_view to_string(Verdict v);
std::optional<Verdict> verdict_from_string(std::string_view s);
std::string_view to_string(Location l);
std::string_view to_string(Segment s);

// The sentence an operator reads for a verdict, e.g. "no answer at all".
std::string_view describe(Verdict v);

}  // namespace egress25
