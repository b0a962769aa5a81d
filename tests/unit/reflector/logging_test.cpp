// Unit tests of the reflector's logging rules (no clock): repeated events summarised,
// priorities for the journal, and the names of the formats.
#include "logging.hpp"

#include <boost/test/unit_test.hpp>
#include <string>

using namespace egress25::reflector;

namespace {

std::size_t allowed(LogLimiter& limiter, const std::string& kind, int times, std::int64_t now) {
  std::size_t n = 0;
  for (int i = 0; i < times; ++i) n += limiter.allow(kind, Severity::warning, now) ? 1 : 0;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(logging)

BOOST_AUTO_TEST_CASE(a_flood_is_a_few_lines_then_one_summary_each_interval) {
  LogLimiter limiter({5, 500, 10'000, 64});
  const std::string kind = "refused connections from 192.0.2.0/24";
  BOOST_TEST(allowed(limiter, kind, 15'012, 0) == 5u);
  BOOST_TEST(limiter.flush(9'999).empty());  // the interval is not over
  auto lines = limiter.flush(10'000);
  BOOST_TEST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0].line ==
             "... and 15,007 more refused connections from 192.0.2.0/24 in the last 10 s, not "
             "logged one by one");
  BOOST_TEST((lines[0].severity == Severity::warning));
  // The flood goes on: the summary was that interval's line; the next is summarised too.
  BOOST_TEST(allowed(limiter, kind, 100, 12'000) == 0u);
  lines = limiter.flush(20'000);
  BOOST_TEST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0].line.find("and 100 more") != std::string::npos, lines[0].line);
  // Quiet for an interval: forgotten, and the next event is written as it comes.
  BOOST_TEST(limiter.flush(30'000).empty());
  BOOST_TEST(limiter.size() == 0u);
  BOOST_TEST(allowed(limiter, kind, 1, 30'001) == 1u);
}

BOOST_AUTO_TEST_CASE(kinds_have_budgets_of_their_own_and_one_in_all) {
  LogLimiter limiter({5, 12, 10'000, 64});
  BOOST_TEST(allowed(limiter, "a", 10, 0) == 5u);
  BOOST_TEST(allowed(limiter, "b", 10, 0) == 5u);
  BOOST_TEST(allowed(limiter, "c", 10, 0) == 2u);  // 12 lines in all
  const auto lines = limiter.flush(10'000);
  BOOST_TEST(lines.size() == 3u);
}

BOOST_AUTO_TEST_CASE(many_kinds_cost_bounded_memory_and_lose_no_count) {
  LogLimiter limiter({1, 100'000, 10'000, 8});
  for (int i = 0; i < 100; ++i) allowed(limiter, "kind " + std::to_string(i), 3, i);
  BOOST_TEST(limiter.size() == 8u);
  // The forgotten kinds' counts are told too.
  const auto lines = limiter.flush(20'000);
  BOOST_TEST(lines.size() == 100u);
}

BOOST_AUTO_TEST_CASE(priorities_are_syslogs) {
  BOOST_TEST(syslog_priority(Severity::debug) == 7);
  BOOST_TEST(syslog_priority(Severity::info) == 6);
  BOOST_TEST(syslog_priority(Severity::warning) == 4);
  BOOST_TEST(syslog_priority(Severity::error) == 3);
  BOOST_TEST(syslog_priority(Severity::fatal) == 2);
}

BOOST_AUTO_TEST_CASE(formats_by_name) {
  BOOST_TEST((parse_log_format("text") == LogFormat::text));
  BOOST_TEST((parse_log_format("json") == LogFormat::json));
  BOOST_TEST((parse_log_format("journal") == LogFormat::journal));
  BOOST_TEST(parse_log_format("auto").has_value());
  BOOST_TEST(!parse_log_format("xml").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
