// Matching the packet witness's flows to one probe of one client session.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "control_protocol.hpp"
#include "evidence.hpp"

namespace egress25 {

struct WitnessQuery {
  Family family = Family::ipv4;
  std::string public_address;  // the client's address for this family, seen on control
  std::uint16_t port = 0;
  std::int64_t window_start_unix_ms = 0;  // when the probes began (minus clock slack)
  std::int64_t window_end_unix_ms = 0;
};

// Folds every flow from the client's public address to the port within the window
// into one view: a SYN seen on any of them counts, the first SYN's TTL is kept.
WitnessPortView match_witness(const std::vector<control::WitnessFlow>& flows,
                              const WitnessQuery& query);

}  // namespace egress25
