// The human report: header, a port × family table, path drawings, and the summary.
#pragma once

#include <string>

#include "check.hpp"
#include "evidence.hpp"

namespace egress25::client {

std::string render_human(const CheckReport& report);

// The probed port's trace beside the reference port's, one row per TTL, the blocking
// hop marked. "" when there is nothing to draw.
std::string draw_path(const std::string& target, const PathTrace& trace,
                      const std::optional<BlockingHop>& blocking_hop);

// `text` broken into lines of at most `width` columns, each starting with `indent`.
std::string wrap(const std::string& text, std::size_t width, const std::string& indent);

}  // namespace egress25::client
