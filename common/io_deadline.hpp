// Deadlines for asynchronous steps, and a connection's clock (idle and lifetime): the
// one timing layer of both programs' I/O. Header-only; no sockets.
//
// Boost 1.81 has no cancel_after: a step races a timer with the experimental awaitable
// operators. `a || b` waits for the first branch that *succeeds*, so a step that may fail
// must complete through `as_result` (its error is a value that ends the race, not an
// exception that makes `||` wait for the timer).
#pragma once

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <optional>

namespace egress25::io {

namespace net = boost::asio;
using steady_clock = std::chrono::steady_clock;

// Completion token for operations whose error is an answer, not an exception.
inline constexpr auto as_result = net::as_tuple(net::use_awaitable);

namespace detail {
// `when`: a time_point (a deadline) or a duration (a timeout from now), as steady_timer
// takes either.
template <typename T, typename When>
net::awaitable<std::optional<T>> race_timer(net::awaitable<T> op, When when) {
  using namespace net::experimental::awaitable_operators;
  net::steady_timer timer(co_await net::this_coro::executor, when);
  auto result = co_await (std::move(op) || timer.async_wait(as_result));
  if (result.index() == 0) co_return std::get<0>(std::move(result));
  co_return std::nullopt;
}
}  // namespace detail

// The result of `op`, or nullopt when `deadline` came first (`op` is then cancelled).
// Not coroutines themselves: they return the race's awaitable, so a wait costs no frame
// more than the race's own.
template <typename T>
net::awaitable<std::optional<T>> before(steady_clock::time_point deadline, net::awaitable<T> op) {
  return detail::race_timer(std::move(op), deadline);
}

// The same with a timeout from now.
template <typename T>
net::awaitable<std::optional<T>> within(net::awaitable<T> op, steady_clock::duration timeout) {
  return detail::race_timer(std::move(op), timeout);
}

// A connection's two clocks: each wait may last `idle`, the whole connection `lifetime`
// from `started`. Without the lifetime a peer sending a byte just inside every idle
// timeout holds its slot for ever (slowloris).
struct SessionClock {
  steady_clock::time_point started;
  steady_clock::duration lifetime;
  steady_clock::duration idle;

  steady_clock::time_point end() const { return started + lifetime; }

  struct Wait {
    steady_clock::duration timeout;  // never negative
    bool last = false;  // the wait ends with `until`, not the idle timeout: no wait follows
  };
  // The next wait from `now`: the idle timeout, or what is left until `until` when that
  // is less (then `last`). `until` is end(), or an earlier end that applies for now (an
  // SMTP connection that has not shown its tag yet).
  Wait next_wait(steady_clock::time_point until, steady_clock::time_point now) const {
    const auto left = until - now;
    if (left >= idle) return Wait{idle, false};
    return Wait{std::max(left, steady_clock::duration::zero()), true};
  }
  Wait next_wait(steady_clock::time_point now = steady_clock::now()) const {
    return next_wait(end(), now);
  }
};

}  // namespace egress25::io
