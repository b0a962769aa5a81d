// Unit tests of the benchmark's pure parts: the delay link's timed queue.
#define BOOST_TEST_MODULE bench
#include <boost/test/unit_test.hpp>
#include <vector>

#include "timed_queue.hpp"

using egress25::bench::TimedQueue;
using namespace std::chrono_literals;

namespace {
std::vector<std::uint8_t> packet(std::size_t size, std::uint8_t fill = 0) {
  return std::vector<std::uint8_t>(size, fill);
}
}  // namespace

BOOST_AUTO_TEST_SUITE(timed_queue)

BOOST_AUTO_TEST_CASE(releases_each_packet_after_the_delay_in_order) {
  TimedQueue q(10ms, {100, 1 << 20});
  const TimedQueue::clock::time_point t0{};
  BOOST_TEST(q.push(packet(40, 1), t0));
  BOOST_TEST(q.push(packet(60, 2), t0 + 3ms));
  BOOST_TEST((q.next_release() == t0 + 10ms));
  BOOST_TEST(!q.pop_due(t0 + 9ms).has_value());
  auto first = q.pop_due(t0 + 10ms);
  BOOST_REQUIRE(first.has_value());
  BOOST_TEST(first->size() == 40u);
  BOOST_TEST((*first)[0] == 1);
  BOOST_TEST(!q.pop_due(t0 + 12ms).has_value());
  BOOST_TEST((q.next_release() == t0 + 13ms));
  auto second = q.pop_due(t0 + 20ms);
  BOOST_REQUIRE(second.has_value());
  BOOST_TEST((*second)[0] == 2);
  BOOST_TEST(q.empty());
  BOOST_TEST(!q.next_release().has_value());
  BOOST_TEST(q.counters().forwarded_packets == 2u);
  BOOST_TEST(q.counters().forwarded_bytes == 100u);
  BOOST_TEST(q.counters().dropped_packets == 0u);
}

BOOST_AUTO_TEST_CASE(zero_delay_is_due_at_once) {
  TimedQueue q(0ms, {4, 1 << 20});
  const TimedQueue::clock::time_point t0{};
  BOOST_TEST(q.push(packet(1), t0));
  BOOST_TEST(q.pop_due(t0).has_value());
}

BOOST_AUTO_TEST_CASE(drops_the_tail_beyond_the_packet_bound_and_counts_it) {
  TimedQueue q(10ms, {2, 1 << 20});
  const TimedQueue::clock::time_point t0{};
  BOOST_TEST(q.push(packet(10), t0));
  BOOST_TEST(q.push(packet(10), t0));
  BOOST_TEST(!q.push(packet(30), t0));
  BOOST_TEST(q.packets() == 2u);
  BOOST_TEST(q.counters().dropped_packets == 1u);
  BOOST_TEST(q.counters().dropped_bytes == 30u);
  // Room again once one has left.
  BOOST_TEST(q.pop_due(t0 + 10ms).has_value());
  BOOST_TEST(q.push(packet(10), t0 + 10ms));
}

BOOST_AUTO_TEST_CASE(drops_the_tail_beyond_the_byte_bound_and_counts_it) {
  TimedQueue q(10ms, {100, 1000});
  const TimedQueue::clock::time_point t0{};
  BOOST_TEST(q.push(packet(600), t0));
  BOOST_TEST(!q.push(packet(401), t0));
  BOOST_TEST(q.push(packet(400), t0));  // exactly at the bound
  BOOST_TEST(q.bytes() == 1000u);
  BOOST_TEST(q.counters().dropped_packets == 1u);
  BOOST_TEST(q.counters().dropped_bytes == 401u);
  q.pop_due(t0 + 10ms);
  BOOST_TEST(q.bytes() == 400u);
}

BOOST_AUTO_TEST_SUITE_END()
