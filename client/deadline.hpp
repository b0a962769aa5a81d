// Deadlines for single asynchronous steps: an operation raced against a timer.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>

namespace egress25::client {

namespace net = boost::asio;

// Completion token for operations whose error is an answer, not an exception.
inline constexpr auto as_result = net::as_tuple(net::use_awaitable);

using steady_clock = std::chrono::steady_clock;

// Runs `op` until `deadline`. The result of `op`, or nullopt when the deadline came
// first (the operation is then cancelled). `op` must complete through `as_result`:
// `a || b` waits for the first branch that *succeeds*, so an operation that may fail
// has to report its error as a value to win the race (Boost 1.81 has no cancel_after).
template <typename T>
net::awaitable<std::optional<T>> before(steady_clock::time_point deadline, net::awaitable<T> op) {
  using namespace net::experimental::awaitable_operators;
  net::steady_timer timer(co_await net::this_coro::executor, deadline);
  auto result = co_await (std::move(op) || timer.async_wait(as_result));
  if (result.index() == 0) co_return std::move(std::get<0>(result));
  co_return std::nullopt;
}

inline double ms_since(steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(steady_clock::now() - start).count();
}

}  // namespace egress25::client
