// Unit tests of the benchmark's pure parts: the delay link's timed queue and the load
// generator's reply reader.
#define BOOST_TEST_MODULE bench
#include <boost/test/unit_test.hpp>
#include <vector>

#include "smtp_reply.hpp"
#include "timed_queue.hpp"

using egress25::bench::ReplyReader;
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

BOOST_AUTO_TEST_SUITE(reply_reader)

BOOST_AUTO_TEST_CASE(single_line_reply) {
  ReplyReader r;
  BOOST_TEST((r.feed("220 mx.example ESMTP\r\n") == ReplyReader::Status::complete));
  BOOST_TEST(r.code() == 220);
}

BOOST_AUTO_TEST_CASE(multi_line_reply_split_across_reads) {
  ReplyReader r;
  BOOST_TEST((r.feed("250-mx.example\r\n250-PIPE") == ReplyReader::Status::need_more));
  BOOST_TEST((r.feed("LINING\r\n250 STARTTLS") == ReplyReader::Status::need_more));
  BOOST_TEST((r.feed("\r\n") == ReplyReader::Status::complete));
  BOOST_TEST(r.code() == 250);
  // The reader starts afresh for the next reply.
  BOOST_TEST((r.feed("221 2.0.0 bye\n") == ReplyReader::Status::complete));
  BOOST_TEST(r.code() == 221);
}

BOOST_AUTO_TEST_CASE(a_bare_code_ends_a_reply) {
  ReplyReader r;
  BOOST_TEST((r.feed("250\r\n") == ReplyReader::Status::complete));
  BOOST_TEST(r.code() == 250);
}

BOOST_AUTO_TEST_CASE(malformed_lines_and_endless_replies_are_refused) {
  ReplyReader bad_code;
  BOOST_TEST((bad_code.feed("2x0 hello\r\n") == ReplyReader::Status::malformed));
  ReplyReader bad_separator;
  BOOST_TEST((bad_separator.feed("250+hello\r\n") == ReplyReader::Status::malformed));
  ReplyReader endless;
  ReplyReader::Status s = ReplyReader::Status::need_more;
  for (int i = 0; i < 10000 && s == ReplyReader::Status::need_more; ++i)
    s = endless.feed("250-still going\r\n");
  BOOST_TEST((s == ReplyReader::Status::malformed));
  ReplyReader no_newline;
  BOOST_TEST((no_newline.feed(std::string(ReplyReader::max_reply + 1, 'x')) ==
              ReplyReader::Status::malformed));
}

BOOST_AUTO_TEST_SUITE_END()
