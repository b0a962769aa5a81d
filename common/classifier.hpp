// The classifier: one pure function from a probe's evidence to a verdict with reasons.
//
// It decides only what the evidence supports. When a source that would decide is
// missing (no report, no witness, no trace) it says `inconclusive`, or gives the verdict
// with location `unknown`, and its reasons name what is missing.
#pragma once

#include <optional>

#include "evidence.hpp"

namespace egress25 {

Classification classify(const ProbeEvidence& evidence);

// How many hops away the reference port's trace reached the destination (the TTL of
// its `reached` or `reset` hop), if it did.
std::optional<int> destination_distance(const PortTrace& reference);

}  // namespace egress25
