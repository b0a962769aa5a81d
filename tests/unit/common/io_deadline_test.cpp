// Unit tests for the shared timing layer (a step against a deadline, a connection's idle
// and lifetime clock) and the hex encoder.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

#include "hex.hpp"
#include "io_deadline.hpp"

using namespace egress25;
using namespace std::chrono_literals;
using io::SessionClock;
using io::steady_clock;
namespace net = boost::asio;

BOOST_AUTO_TEST_SUITE(io_deadline)

BOOST_AUTO_TEST_CASE(a_wait_is_the_idle_timeout_until_the_life_is_nearly_over) {
  const auto t0 = steady_clock::time_point{} + 1h;
  const SessionClock clock{t0, 120s, 15s};
  BOOST_TEST((clock.end() == t0 + 120s));
  auto w = clock.next_wait(t0);
  BOOST_TEST((w.timeout == 15s));
  BOOST_TEST(!w.last);
  w = clock.next_wait(t0 + 105s);  // exactly an idle timeout left: not yet the last
  BOOST_TEST((w.timeout == 15s));
  BOOST_TEST(!w.last);
  w = clock.next_wait(t0 + 110s);
  BOOST_TEST((w.timeout == 10s));
  BOOST_TEST(w.last);
  w = clock.next_wait(t0 + 200s);  // past the end: no wait at all, never a negative one
  BOOST_TEST((w.timeout == steady_clock::duration::zero()));
  BOOST_TEST(w.last);
}

BOOST_AUTO_TEST_CASE(an_earlier_end_applies_while_given) {
  const auto t0 = steady_clock::time_point{} + 1h;
  const SessionClock clock{t0, 300s, 30s};
  // An SMTP connection without its tag has 30 s in all, whatever its lifetime.
  auto w = clock.next_wait(t0 + 30s, t0 + 5s);
  BOOST_TEST((w.timeout == 25s));
  BOOST_TEST(w.last);
}

// Runs `body` on a fresh io_context to completion.
template <typename Body>
void run(Body body) {
  net::io_context io;
  bool finished = false;
  net::co_spawn(
      io,
      [&]() -> net::awaitable<void> {
        co_await body();
        finished = true;
      },
      net::detached);
  io.run();
  BOOST_TEST(finished);
}

BOOST_AUTO_TEST_CASE(a_step_that_completes_first_gives_its_result) {
  run([]() -> net::awaitable<void> {
    net::steady_timer soon(co_await net::this_coro::executor, 0ms);
    auto got = co_await io::within(soon.async_wait(io::as_result), 1h);
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST(!std::get<0>(*got));  // the timer's own wait succeeded
  });
}

BOOST_AUTO_TEST_CASE(a_step_past_its_deadline_is_cancelled_and_gives_nothing) {
  run([]() -> net::awaitable<void> {
    net::steady_timer never(co_await net::this_coro::executor, steady_clock::time_point::max());
    auto by_timeout = co_await io::within(never.async_wait(io::as_result), 1ms);
    BOOST_TEST(!by_timeout.has_value());
    auto by_deadline =
        co_await io::before(steady_clock::now() + 1ms, never.async_wait(io::as_result));
    BOOST_TEST(!by_deadline.has_value());
  });
}

BOOST_AUTO_TEST_CASE(hex_is_lower_case_two_digits_a_byte) {
  const unsigned char bytes[] = {0x00, 0x0f, 0xa0, 0xff};
  BOOST_TEST(to_hex(bytes, sizeof bytes) == "000fa0ff");
  BOOST_TEST(to_hex(bytes, 0).empty());
  std::string out = "a";
  append_hex_escape(out, 0x1b);
  BOOST_TEST(out == "a\\x1b");
}

BOOST_AUTO_TEST_SUITE_END()
