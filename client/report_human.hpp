// The human report: header, a port × family table, path drawings, and the summary.
#pragma once

#include <string>

#include "check.hpp"
#include "evidence.hpp"

namespace egress25::client {

// How the human report is laid out.
struct HumanOptions {
  std::size_t width = 80;     // columns; reasons are wrapped to it, never cut
  bool every_reason = false;  // --verbose: every reason, not the first and a count
  bool summary_only = false;  // --quiet: the summary alone
  bool transcripts = false;   // --show-transcript: each probe's dialogue, both ends
};

std::string render_human(const CheckReport& report, const HumanOptions& options = {});

// The probed port's trace beside the reference port's, one row per TTL with who each hop
// is (home router, ISP, in front of the reflector), the blocking hop or candidates marked. "" when
// there is nothing to draw.
// Columns fit their contents; a "who" that does not fit `width` wraps under itself.
std::string draw_path(const std::string& target, const PathTrace& trace, const HostNetwork& host,
                      const std::optional<BlockingHop>& blocking_hop,
                      const std::vector<BlockingHop>& candidates = {}, std::size_t width = 100);

// `text` broken into lines of at most `width` columns, each starting with `indent`. Words
// are never cut: one longer than the line stands alone on its own.
std::string wrap(const std::string& text, std::size_t width, const std::string& indent);

// The same with the first line starting with `first` instead of `indent`.
std::string wrap(const std::string& text, std::size_t width, const std::string& first,
                 const std::string& indent);

}  // namespace egress25::client
