// Building a Classification: the one helper the classifier (outbound) and the inbound
// judgement share, so a verdict starts the same way on both sides.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "evidence.hpp"

namespace egress25::classification {

// A verdict at `location` with its reasons. On the path, the segment is unknown until a
// hop or the candidates say which part of it.
inline Classification make(Verdict verdict, Location location,
                           std::vector<std::string> reasons = {}) {
  Classification result;
  result.verdict = verdict;
  result.location = location;
  if (location == Location::path) result.segment = Segment::unknown;
  result.reasons = std::move(reasons);
  return result;
}

}  // namespace egress25::classification
