// The human report: header, a port × family table, path drawings, and the summary.
#pragma once

#include <string>

#include "check.hpp"
#include "evidence.hpp"

namespace egress25::client {

std::string render_human(const CheckReport& report);

// The probed port's trace beside the reference port's, one row per TTL with who each hop
// is (home router, ISP, in front of the reflector), the blocking hop or candidates marked. "" when
// there is nothing to draw.
std::string draw_path(const std::string& target, const PathTrace& trace, const HostNetwork& host,
                      const std::optional<BlockingHop>& blocking_hop,
                      const std::vector<BlockingHop>& candidates = {});

// `text` broken into lines of at most `width` columns, each starting with `indent`.
std::string wrap(const std::string& text, std::size_t width, const std::string& indent);

}  // namespace egress25::client
