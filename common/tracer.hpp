// Hop tracing: TTL-limited TCP connects, errors read from the socket's error queue.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>

#include "evidence.hpp"
#include "limits.hpp"

namespace egress25 {

struct TraceOptions {
  int max_ttl = limits::max_trace_ttl;
  // The whole trace's budget: all TTLs go out at once (bounded by
  // limits::trace_parallelism), so a trace costs about one budget, not one per hop.
  std::chrono::milliseconds budget = limits::default_trace_budget;
};

// Traces `probed_port` and `reference_port` on `target` side by side, at most
// limits::trace_parallelism connects in flight per port. Each port's hops are in TTL
// order, one per TTL, up to its first terminal answer (reached, reset, unreachable);
// silent hops past the last TTL that either port got an answer from are left out. A
// trace where every hop answers ends as soon as both ports have a terminal answer.
// Each TTL past the destination's distance makes one connection that is reset at once.
boost::asio::awaitable<PathTrace> trace_path(boost::asio::ip::address target,
                                             std::uint16_t probed_port,
                                             std::uint16_t reference_port, TraceOptions options);

}  // namespace egress25
