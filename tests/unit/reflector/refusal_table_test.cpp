// Unit tests of the table of connections the reflector refused for its own limits: counts
// by source and port, the bound, expiry, matching by address, and the rate of log lines.
#include "refusal_table.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "limits.hpp"

using namespace egress25;
using namespace egress25::reflector;

namespace {

const std::string client_v4 = "198.51.100.7";
const std::string client_v6 = "2001:db8::7";
const std::string other_client = "203.0.113.9";
const std::string cap = "too many connections from 198.51.100.7 (16)";
constexpr std::int64_t t0 = 1'700'000'000'000;

RefusalTable::Limits small(std::size_t entries = 4) {
  RefusalTable::Limits l;
  l.max_entries = entries;
  l.lifetime_ms = 60'000;
  l.log_interval_ms = 10'000;
  return l;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(refusal_table)

BOOST_AUTO_TEST_CASE(counts_by_source_and_port) {
  RefusalTable t(small());
  t.note(client_v4, Family::ipv4, 25, cap, t0);
  t.note(client_v4, Family::ipv4, 25, cap, t0 + 5);
  t.note(client_v4, Family::ipv4, 7025, "too many connections in all (512)", t0 + 7);
  t.note(other_client, Family::ipv4, 25, cap, t0 + 8);
  BOOST_TEST(t.size() == 3u);
  const auto mine = t.from({client_v4}, t0, t0 + 10, 64);
  BOOST_TEST_REQUIRE(mine.size() == 2u);
  BOOST_TEST(mine[0].peer_address == client_v4);
  BOOST_TEST(mine[0].local_port == 25);
  BOOST_TEST((mine[0].family == Family::ipv4));
  BOOST_TEST(mine[0].count == 2u);
  BOOST_TEST(mine[0].first_unix_ms == t0);
  BOOST_TEST(mine[0].last_unix_ms == t0 + 5);
  BOOST_TEST(mine[0].reason == cap);
  BOOST_TEST(mine[1].local_port == 7025);
  BOOST_TEST(mine[1].count == 1u);
  BOOST_TEST(mine[1].reason == "too many connections in all (512)");
}

BOOST_AUTO_TEST_CASE(matches_only_the_addresses_asked_for_since_the_session_began) {
  RefusalTable t(small(16));
  t.note(client_v4, Family::ipv4, 25, cap, t0 - 10);  // before the session, never since
  t.note(client_v4, Family::ipv4, 587, cap, t0 - 10);
  t.note(client_v4, Family::ipv4, 587, cap, t0 + 1);  // began before, refused again since
  t.note(client_v6, Family::ipv6, 25, cap, t0 + 2);
  t.note(other_client, Family::ipv4, 25, cap, t0 + 3);
  t.note("2001:db8::8", Family::ipv6, 25, cap, t0 + 4);  // same /64, another address

  const auto both = t.from({client_v4, client_v6}, t0, t0 + 10, 64);
  BOOST_TEST_REQUIRE(both.size() == 2u);
  BOOST_TEST(both[0].peer_address == client_v4);
  BOOST_TEST(both[0].local_port == 587);
  BOOST_TEST(both[0].count == 2u);  // the count is the entry's, first_unix_ms too
  BOOST_TEST(both[0].first_unix_ms == t0 - 10);
  BOOST_TEST(both[1].peer_address == client_v6);
  BOOST_TEST((both[1].family == Family::ipv6));

  BOOST_TEST(t.from({client_v4}, t0, t0 + 10, 64).size() == 1u);
  BOOST_TEST(t.from({"198.51.100.70"}, t0, t0 + 10, 64).empty());
  BOOST_TEST(t.from({}, t0, t0 + 10, 64).empty());
}

BOOST_AUTO_TEST_CASE(report_keeps_the_most_recent_up_to_its_cap) {
  RefusalTable t(small(16));
  for (std::uint16_t p = 1; p <= 5; ++p) t.note(client_v4, Family::ipv4, p, cap, t0 + p);
  const auto three = t.from({client_v4}, t0, t0 + 10, 3);
  BOOST_TEST_REQUIRE(three.size() == 3u);
  BOOST_TEST(three[0].local_port == 3);
  BOOST_TEST(three[2].local_port == 5);
}

BOOST_AUTO_TEST_CASE(bounded_least_recently_refused_forgotten) {
  RefusalTable t(small(3));
  t.note(client_v4, Family::ipv4, 1, cap, t0);
  t.note(client_v4, Family::ipv4, 2, cap, t0 + 1);
  t.note(client_v4, Family::ipv4, 3, cap, t0 + 2);
  t.note(client_v4, Family::ipv4, 1, cap, t0 + 3);  // port 1 again: now the most recent
  t.note(client_v4, Family::ipv4, 4, cap, t0 + 4);  // full: port 2 goes
  BOOST_TEST(t.size() == 3u);
  std::vector<std::uint16_t> ports;
  for (const auto& r : t.from({client_v4}, t0, t0 + 5, 64)) ports.push_back(r.local_port);
  BOOST_TEST(ports == (std::vector<std::uint16_t>{3, 1, 4}), boost::test_tools::per_element());
  // Forgetting is told once in the log.
  const auto lines = t.flush(t0 + 20'000);
  BOOST_TEST_REQUIRE(!lines.empty());
  BOOST_TEST(has(lines.back(), "forgot the 1 refused longest ago"), lines.back());
  for (const auto& l : t.flush(t0 + 40'000)) BOOST_TEST(!has(l, "forgot"), l);
}

BOOST_AUTO_TEST_CASE(default_bound_is_the_declared_limit) {
  RefusalTable t;
  for (std::size_t i = 0; i < limits::max_refusal_entries + 10; ++i)
    t.note("2001:db8::" + std::to_string(i), Family::ipv6, 25, "x", t0);
  BOOST_TEST(t.size() == limits::max_refusal_entries);
}

BOOST_AUTO_TEST_CASE(entries_expire_after_their_last_refusal) {
  RefusalTable t(small());
  t.note(client_v4, Family::ipv4, 25, cap, t0);
  t.note(client_v4, Family::ipv4, 587, cap, t0);
  t.note(client_v4, Family::ipv4, 587, cap, t0 + 30'000);  // refreshed
  BOOST_TEST(t.from({client_v4}, t0, t0 + 59'999, 64).size() == 2u);
  const auto later = t.from({client_v4}, t0, t0 + 60'000, 64);
  BOOST_TEST_REQUIRE(later.size() == 1u);
  BOOST_TEST(later[0].local_port == 587);
  t.note(other_client, Family::ipv4, 25, cap, t0 + 60'000);  // sweeps the expired out
  BOOST_TEST(t.size() == 2u);
  t.flush(t0 + 90'000);
  BOOST_TEST(t.size() == 1u);
}

BOOST_AUTO_TEST_CASE(the_default_lifetime_is_a_sessions) {
  RefusalTable t;
  t.note(client_v4, Family::ipv4, 25, cap, t0);
  const auto lifetime =
      std::chrono::duration_cast<std::chrono::milliseconds>(limits::session_lifetime).count();
  BOOST_TEST(t.from({client_v4}, t0, t0 + lifetime - 1, 64).size() == 1u);
  BOOST_TEST(t.from({client_v4}, t0, t0 + lifetime, 64).empty());
}

BOOST_AUTO_TEST_CASE(one_log_line_per_source_per_interval_with_a_count) {
  RefusalTable t(small(16));
  // The first refusal is told at once, in full.
  const auto first = t.note(client_v4, Family::ipv4, 10025, cap, t0);
  BOOST_TEST_REQUIRE(first.has_value());
  BOOST_TEST(*first == "refused a connection from 198.51.100.7 to port 10025: " + cap);
  // A flood within the interval, on two ports: not one line.
  for (int i = 1; i < 1234; ++i)
    BOOST_TEST(!t.note(client_v4, Family::ipv4, i % 2 ? 10025 : 17025, cap, t0 + i).has_value());
  // Another source has its own line.
  BOOST_TEST(t.note(other_client, Family::ipv4, 10025, cap, t0 + 2000).has_value());
  // Before the interval is over, flush says nothing for the flooding source.
  for (const auto& l : t.flush(t0 + 9'999)) BOOST_TEST(!has(l, client_v4), l);
  // After it, the next refusal brings the count of everything since the last line.
  const auto summary = t.note(client_v4, Family::ipv4, 10025, cap, t0 + 10'000);
  BOOST_TEST_REQUIRE(summary.has_value());
  BOOST_TEST(*summary ==
             "refused 1,234 connections from 198.51.100.7 to ports 10025, 17025 in "
             "the last 10 s: " +
                 cap);
  BOOST_TEST(!t.note(client_v4, Family::ipv4, 10025, cap, t0 + 10'001).has_value());
}

BOOST_AUTO_TEST_CASE(flush_tells_what_a_quiet_source_left_waiting) {
  RefusalTable t(small(16));
  BOOST_TEST(t.note(client_v4, Family::ipv4, 25, cap, t0).has_value());
  BOOST_TEST(!t.note(client_v4, Family::ipv4, 25, cap, t0 + 100).has_value());
  BOOST_TEST(!t.note(client_v4, Family::ipv4, 25, cap, t0 + 200).has_value());
  BOOST_TEST(t.flush(t0 + 5'000).empty());  // the interval is not over
  const auto lines = t.flush(t0 + 10'000);
  BOOST_TEST_REQUIRE(lines.size() == 1u);
  BOOST_TEST(lines[0] ==
             "refused 2 connections from 198.51.100.7 to port 25 in the last 10 s: " + cap);
  BOOST_TEST(t.flush(t0 + 30'000).empty());  // nothing waits any more
  // Quiet for an interval, the next refusal is told at once again.
  BOOST_TEST(t.note(client_v4, Family::ipv4, 25, cap, t0 + 40'000).has_value());
}

BOOST_AUTO_TEST_CASE(grouped_counts) {
  BOOST_TEST(grouped(0) == "0");
  BOOST_TEST(grouped(999) == "999");
  BOOST_TEST(grouped(1000) == "1,000");
  BOOST_TEST(grouped(1234567) == "1,234,567");
}

BOOST_AUTO_TEST_SUITE_END()
