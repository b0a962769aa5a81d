// The reflector's deadlines: within() from the shared timing layer (common/io_deadline.hpp),
// a per-connection Deadline that costs no coroutine, and a close that lets the last reply
// arrive.
#pragma once

#include <array>
#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "io_deadline.hpp"
#include "limits.hpp"

namespace egress25::reflector {

namespace net = boost::asio;

using io::within;

// A deadline for the waits of one connection, one at a time, that costs no coroutine: a
// timer that cancels the socket's pending operations when it expires. within() runs its
// operation and a timer as a parallel group, three coroutine frames (about 3 KiB) for
// the whole wait; an idle connection spends its life in one wait, so that is most of
// what it costs. This costs the timer, made once per connection.
class Deadline {
 public:
  explicit Deadline(const net::any_io_executor& executor)
      : timer_(executor), state_(std::make_shared<State>()) {}
  ~Deadline() { ++state_->generation; }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // From now until disarm(): when `timeout` passes first, `socket`'s pending operations
  // complete with operation_aborted.
  void arm(net::ip::tcp::socket& socket, std::chrono::steady_clock::duration timeout) {
    const auto generation = ++state_->generation;
    state_->expired = false;
    timer_.expires_after(timeout);
    // The state is shared: a late expiry (the timer fired just as the wait completed, or
    // after the connection is gone) finds another generation and touches nothing.
    timer_.async_wait([state = state_, generation, &socket](const boost::system::error_code& ec) {
      if (ec || state->generation != generation) return;
      state->expired = true;
      boost::system::error_code ignored;
      socket.cancel(ignored);
    });
  }
  // Ends the wait's deadline; true when it had expired (the wait was cut short by it).
  bool disarm() {
    ++state_->generation;
    timer_.cancel();
    return state_->expired;
  }

  // The result of `op` (an operation on `socket`), or nullopt when `timeout` passed first
  // (the operation is then cancelled). What within() does, for a fraction of its cost:
  // within() spawns the operation and the timer as two coroutines of a parallel group,
  // and a session's every write and close went through it (about a fifth of the
  // reflector's user time per session under load).
  template <typename T>
  net::awaitable<std::optional<T>> run(net::ip::tcp::socket& socket, net::awaitable<T> op,
                                       std::chrono::steady_clock::duration timeout) {
    arm(socket, timeout);
    auto result = co_await std::move(op);
    if (disarm()) co_return std::nullopt;
    co_return result;
  }

 private:
  struct State {
    std::uint64_t generation = 0;
    bool expired = false;
  };
  net::steady_timer timer_;
  std::shared_ptr<State> state_;
};

// Closes a TCP socket so that the reply just written reaches the peer: closing with
// unread input makes Linux send a reset, which may destroy that reply in the peer's
// receive queue. So: send FIN, read and drop what the peer still sends (bounded in bytes
// and time: limits.hpp), then close. Apache and nginx do the same ("lingering close").
inline net::awaitable<void> lingering_close(net::ip::tcp::socket& socket, Deadline& deadline) {
  boost::system::error_code ec;
  socket.shutdown(net::ip::tcp::socket::shutdown_send, ec);
  if (!ec) {
    std::array<char, 4096> sink;
    std::size_t drained = 0;
    const auto until = std::chrono::steady_clock::now() + limits::lingering_close_time;
    while (drained < limits::lingering_close_max_bytes) {
      const auto left = until - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      auto r = co_await deadline.run(
          socket, socket.async_read_some(net::buffer(sink), net::as_tuple(net::use_awaitable)),
          left);
      if (!r || std::get<0>(*r)) break;
      drained += std::get<1>(*r);
    }
  }
  socket.close(ec);
}

}  // namespace egress25::reflector
