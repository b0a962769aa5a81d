// The closing summary: what a person should conclude from the verdicts and what to do.
// A pure function of the verdict table, so it is tested without sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "evidence.hpp"
#include "net_types.hpp"
#include "verdict.hpp"

namespace egress25::client {

struct SummaryRow {
  std::uint16_t port = 0;
  std::string service;  // "smtp", "submission", "smtps", ...
  Family family = Family::ipv4;
  Verdict verdict = Verdict::inconclusive;
  Location location = Location::unknown;
  std::optional<BlockingHop> blocking_hop;
  std::optional<Segment> segment;       // for location path
  std::vector<BlockingHop> candidates;  // when no single hop is pinned
  bool refused_by_reflector = false;    // inconclusive: the reflector's own limits
  std::string arrived_from;             // proxied: the address it arrived from
};

struct SummaryInput {
  std::string reflector_host;
  bool control_reached = true;
  std::vector<SummaryRow> rows;  // in report order
  // Families (or names) not probed for a reason that is not a block, one sentence each.
  std::vector<std::string> not_probed;
  // Why the control port could not be used, when it could not.
  std::string control_error;
};

// A few sentences of plain words that name who stops what, e.g. "Your ISP (or a network
// beyond it) blocks outbound port 25 (smtp) over IPv4 (dropped on the path, at hop 3,
// 198.51.100.2). Send mail through your provider's relay on 465 (smtps) or 587
// (submission), which are open."
std::string summarize(const SummaryInput& input);

// One probe of a --target destination, for its summary sentence.
struct DestinationRow {
  std::string host;  // the MX host (or the target itself)
  Family family = Family::ipv4;
  Verdict verdict = Verdict::inconclusive;
  Location location = Location::unknown;
  std::string reason;  // the first of its reasons
};

// One sentence about a --target destination, judged against the reflector's port 25;
// "" without rows. E.g. "The destination example.org does not accept connections on
// port 25 (mx1.example.org over IPv4: dropped at the destination), while your network
// lets port 25 through to the reflector: the problem is on the destination's side."
std::string destination_sentence(const std::string& target, std::uint16_t port,
                                 const std::vector<DestinationRow>& rows);

// "dropped on the path", "refused by the reflector host itself", ... for one verdict.
std::string verdict_phrase(Verdict verdict, Location location);

}  // namespace egress25::client
