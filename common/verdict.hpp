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
  reply_dropped,
  firewalled_at_reflector,
  not_listening,
  inconclusive,
};

enum class Location { none, path, reflector_host, destination, unknown };

std::string_view to_string(Verdict v);
std::optional<Verdict> verdict_from_string(std::string_view s);
std::string_view to_string(Location l);
std::optional<Location> location_from_string(std::string_view s);

// The sentence an operator reads for a verdict, e.g. "no answer at all".
std::string_view describe(Verdict v);

}  // namespace egress25
