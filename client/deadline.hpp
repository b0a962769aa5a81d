// The client's names for the shared timing layer (common/io_deadline.hpp: as_result,
// before), and a stopwatch.
#pragma once

#include <chrono>

#include "io_deadline.hpp"

namespace egress25::client {

namespace net = boost::asio;

using io::as_result;
using io::before;
using io::steady_clock;

inline double ms_since(steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(steady_clock::now() - start).count();
}

}  // namespace egress25::client
