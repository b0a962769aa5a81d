#pragma once
// The words a reflector's connection record ends with when the reflector itself ended the
// connection (its timeouts, its limits, its own shutdown), shared by the reflector, which
// writes them, and the classifier, which must not take such an ending for the path's
// doing. Any other ending ("quit", "peer closed", "reset by peer", an I/O error's text)
// came from the other end.
#include <array>
#include <string_view>

namespace egress25::end_reason {

inline constexpr std::string_view idle_timeout = "idle timeout";
inline constexpr std::string_view no_tag_in_time = "no session tag in time";
inline constexpr std::string_view session_time_limit = "session time limit";
inline constexpr std::string_view write_timeout = "write timeout";
inline constexpr std::string_view too_many_long_lines = "too many over-long lines";
inline constexpr std::string_view too_many_commands = "too many commands";
inline constexpr std::string_view shed = "closed to make room (reflector busy)";
inline constexpr std::string_view stress = "closed under load (stress timeouts)";
inline constexpr std::string_view shutdown = "reflector shutting down";

inline constexpr std::array<std::string_view, 9> decided_by_reflector_list{idle_timeout,
                                                                           no_tag_in_time,
                                                                           session_time_limit,
                                                                           write_timeout,
                                                                           too_many_long_lines,
                                                                           too_many_commands,
                                                                           shed,
                                                                           stress,
                                                                           shutdown};

// True when END is one of the endings the reflector decides itself.
constexpr bool decided_by_reflector(std::string_view end) {
  for (const auto reason : decided_by_reflector_list)
    if (end == reason) return true;
  return false;
}

}  // namespace egress25::end_reason
