// Unit tests of fair share under pressure (no sockets, no clock): keys per address and
// prefix, rate buckets, and which connection the table refuses, admits or sheds.
#include "fair_share.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "limits.hpp"

using namespace egress25;
using namespace egress25::reflector;
namespace ip = boost::asio::ip;

namespace {

ip::address a(const std::string& text) {
  return ip::make_address(text);
}

// A connection as a session holds it: its slot, and what the table told it.
struct Held {
  ConnectionTable::Slot slot;
  std::shared_ptr<std::optional<CloseReason>> told = std::make_shared<std::optional<CloseReason>>();
};

Held hold(ConnectionTable& table, const std::string& peer, std::int64_t now) {
  auto admission = table.admit(a(peer), now);
  BOOST_TEST_REQUIRE(admission.slot.has_value(), peer << ": " << admission.why);
  Held h{std::move(*admission.slot)};
  h.slot.on_close([told = h.told](CloseReason why) { *told = why; });
  return h;
}

ConnectionLimits small() {
  ConnectionLimits l;
  l.max_total = 8;
  l.max_per_address = 2;
  l.max_per_prefix = 4;
  l.rate_per_address = 0;
  l.rate_per_prefix = 0;
  l.shed_idle_after_ms = 2000;
  l.stress_fraction = 0.75;
  l.stress_untagged_ms = 5000;
  l.stress_idle_ms = 10000;
  return l;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fair_share)

BOOST_AUTO_TEST_CASE(a_source_counts_by_its_address_and_its_prefix) {
  const PrefixLengths standard;
  BOOST_TEST(standard.ipv4 == limits::default_ipv4_prefix);
  BOOST_TEST(standard.ipv6 == limits::default_ipv6_prefix);
  auto k = source_keys(a("198.51.100.7"), standard);
  BOOST_TEST(k.address == "198.51.100.7");
  BOOST_TEST(k.prefix == "198.51.100.0/24");
  // An IPv6 host picks any address in its /64 at will (RFC 4941): the /64 is its network.
  k = source_keys(a("2001:db8:1:2:3:4:5:6"), standard);
  BOOST_TEST(k.address == "2001:db8:1:2:3:4:5:6");
  BOOST_TEST(k.prefix == "2001:db8:1:2::/64");
  // An IPv4-mapped peer (a dual-stack socket) is the IPv4 address it maps.
  k = source_keys(a("::ffff:198.51.100.7"), standard);
  BOOST_TEST(k.address == "198.51.100.7");
  BOOST_TEST(k.prefix == "198.51.100.0/24");
  // Other lengths, odd ones included.
  k = source_keys(a("198.51.100.255"), {20, 48});
  BOOST_TEST(k.prefix == "198.51.96.0/20");
  BOOST_TEST(source_keys(a("2001:db8:1:2::9"), {20, 48}).prefix == "2001:db8:1::/48");
  BOOST_TEST(source_keys(a("2001:db8:1:2::9"), {20, 128}).prefix == "2001:db8:1:2::9/128");
  // Text as the stores spell it; what is no address counts as itself.
  BOOST_TEST(source_keys(std::string("2001:db8::1"), standard).prefix == "2001:db8::/64");
  BOOST_TEST(source_keys(std::string("nonsense"), standard).prefix == "nonsense");
}

BOOST_AUTO_TEST_CASE(a_rate_is_a_burst_of_a_minutes_worth_then_a_steady_trickle) {
  RateTable rate(60);  // 60 a minute: a burst of 60, then one a second
  for (int i = 0; i < 60; ++i) BOOST_TEST(rate.take("k", 0));
  BOOST_TEST(!rate.take("k", 0));
  BOOST_TEST(!rate.take("k", 999));
  BOOST_TEST(rate.take("k", 1000));
  BOOST_TEST(!rate.take("k", 1000));
  // Keys are apart.
  BOOST_TEST(rate.take("other", 1000));
  // A refusal takes nothing: the trickle goes on at the rate, however hard one pushes.
  for (int i = 0; i < 1000; ++i) rate.take("k", 1500);
  BOOST_TEST(rate.take("k", 2000));
  // No limit.
  RateTable none(0);
  for (int i = 0; i < 10000; ++i) BOOST_TEST_REQUIRE(none.take("k", 0));
  BOOST_TEST(none.size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_rate_table_forgets_quiet_keys_and_is_bounded) {
  RateTable rate(60, 100);
  for (int i = 0; i < 1000; ++i) rate.take("k" + std::to_string(i), 0);
  BOOST_TEST(rate.size() == 100u);  // the least recently used went first
  // A minute later every bucket is full again: the quiet ones are forgotten as keys come.
  for (int i = 0; i < 100; ++i) rate.take("fresh", 60'000 + i);
  BOOST_TEST(rate.size() < 10u);
}

BOOST_AUTO_TEST_CASE(caps_per_address_and_prefix_refuse_in_their_own_words) {
  ConnectionTable table(small());
  auto l = small();
  l.shed_idle_after_ms = 1'000'000;  // nothing idle enough to make room
  table.set_limits(l);
  std::vector<Held> held;
  held.push_back(hold(table, "198.51.100.1", 0));
  held.push_back(hold(table, "198.51.100.1", 0));
  auto refused = table.admit(a("198.51.100.1"), 10);
  BOOST_TEST(!refused.slot);
  BOOST_TEST(refused.why == "too many connections from 198.51.100.1 (2)");
  held.push_back(hold(table, "198.51.100.2", 0));
  held.push_back(hold(table, "198.51.100.3", 0));
  refused = table.admit(a("198.51.100.4"), 10);
  BOOST_TEST(refused.why == "too many connections from 198.51.100.0/24 (4)");
  // Another network is served.
  held.push_back(hold(table, "203.0.113.1", 10));
  BOOST_TEST(table.size() == 5u);
  // A slot that goes gives its place back.
  held.erase(held.begin());
  BOOST_TEST(table.size() == 4u);
  BOOST_TEST(table.admit(a("198.51.100.4"), 20).slot.has_value());
}

BOOST_AUTO_TEST_CASE(new_connections_faster_than_the_rate_are_refused) {
  auto l = small();
  l.rate_per_address = 3;
  l.rate_per_prefix = 5;
  ConnectionTable table(l);
  for (int i = 0; i < 3; ++i) BOOST_TEST(table.admit(a("198.51.100.1"), 0).slot.has_value());
  auto refused = table.admit(a("198.51.100.1"), 0);
  BOOST_TEST(refused.why == "too many new connections from 198.51.100.1 (3 a minute)");
  BOOST_TEST(table.admit(a("198.51.100.2"), 0).slot.has_value());
  BOOST_TEST(table.admit(a("198.51.100.3"), 0).slot.has_value());
  refused = table.admit(a("198.51.100.4"), 0);
  BOOST_TEST(refused.why == "too many new connections from 198.51.100.0/24 (5 a minute)");
  // 20 s later the address has one more (3 a minute).
  BOOST_TEST(table.admit(a("198.51.100.1"), 20'000).slot.has_value());
}

BOOST_AUTO_TEST_CASE(at_its_cap_a_source_makes_room_from_its_own_idle_untagged_connections) {
  ConnectionTable table(small());  // 2 per address; idle after 2 s
  auto old = hold(table, "198.51.100.1", 0);
  auto useful = hold(table, "198.51.100.1", 0);
  useful.slot.note_useful();  // a probe: never shed
  // Not idle yet: the newcomer is refused.
  BOOST_TEST(!table.admit(a("198.51.100.1"), 1000).slot);
  BOOST_TEST(!*old.told);
  // Idle for shed_idle_after: the idle untagged one makes room, and is told why.
  auto admitted = table.admit(a("198.51.100.1"), 2500);
  BOOST_TEST(admitted.slot.has_value());
  BOOST_TEST(admitted.shed == 1u);
  BOOST_TEST((*old.told == CloseReason::shed));
  BOOST_TEST((old.slot.closing() == CloseReason::shed));
  BOOST_TEST(!*useful.told);
  BOOST_TEST(table.size() == 2u);
  // A connection that spoke recently is not idle.
  admitted.slot->note_active(5000);
  BOOST_TEST(!table.admit(a("198.51.100.1"), 6000).slot);
}

BOOST_AUTO_TEST_CASE(at_the_total_cap_untagged_connections_of_the_heaviest_network_go_first) {
  auto l = small();
  l.max_total = 6;
  l.max_per_prefix = 6;
  l.max_per_address = 6;
  ConnectionTable table(l);
  std::vector<Held> lone, flood;
  lone.push_back(hold(table, "192.0.2.1", 0));  // one untagged, the oldest of all
  auto probe = hold(table, "198.18.0.1", 0);
  probe.slot.note_useful();
  for (int i = 1; i <= 4; ++i)
    flood.push_back(hold(table, "203.0.113." + std::to_string(i), 100 + i));
  for (auto& f : flood) f.slot.note_active(1000);  // busy, not idle
  // Full. A fresh client from elsewhere gets in, in the place of an idle untagged
  // connection (the lone one, silent 2.5 s) before any busy one, never the probe.
  auto admitted = table.admit(a("198.51.100.9"), 2500);
  BOOST_TEST(admitted.slot.has_value());
  BOOST_TEST((*lone[0].told == CloseReason::shed));  // idle (2 s) beats busy
  // Next: nothing idle; the flood's network holds most, its oldest goes.
  auto again = table.admit(a("198.51.100.10"), 2600);
  BOOST_TEST(again.slot.has_value());
  BOOST_TEST((*flood[0].told == CloseReason::shed));
  BOOST_TEST(!*flood[1].told);
  BOOST_TEST(!*probe.told);
  // Only tagged connections left to choose from: refused.
  auto l2 = l;
  l2.max_total = 6;
  std::vector<Held> all;
  ConnectionTable tagged(l2);
  for (int i = 0; i < 6; ++i) {
    all.push_back(hold(tagged, "203.0.113." + std::to_string(i + 1), 0));
    all.back().slot.note_useful();
  }
  auto refused = tagged.admit(a("198.51.100.9"), 10'000);
  BOOST_TEST(!refused.slot);
  BOOST_TEST(refused.why == "too many connections in all (6)");
}

BOOST_AUTO_TEST_CASE(under_stress_old_untagged_and_idle_connections_are_swept) {
  auto l = small();  // stress from 6 of 8
  l.max_per_address = l.max_per_prefix = 8;
  ConnectionTable table(l);
  std::vector<Held> held;
  for (int i = 0; i < 5; ++i) held.push_back(hold(table, "198.51.100.1", 0));
  BOOST_TEST(!table.stressed());
  BOOST_TEST(table.sweep(60'000) == 0u);  // no stress, no sweep: sessions' own timeouts rule
  held.push_back(hold(table, "198.51.100.1", 59'000));
  BOOST_TEST(table.stressed());
  held[0].slot.note_useful();
  held[0].slot.note_active(59'500);  // a probe speaking: stays
  held[1].slot.note_useful();        // a probe silent for a minute: goes
  BOOST_TEST(table.sweep(60'000) == 4u);
  BOOST_TEST(!*held[0].told);
  BOOST_TEST((*held[1].told == CloseReason::stress));
  BOOST_TEST((*held[2].told == CloseReason::stress));
  BOOST_TEST(!*held[5].told);  // untagged, but only a second old
  BOOST_TEST(!table.stressed());
  BOOST_TEST(table.size() == 2u);
  BOOST_TEST(table.slots() == 6u);  // their sessions wind down, then release the slots
  held.erase(held.begin() + 1, held.begin() + 5);
  BOOST_TEST(table.slots() == 2u);
}

BOOST_AUTO_TEST_CASE(shutdown_asks_every_connection_once_even_before_it_registered) {
  ConnectionTable table(small());
  auto registered = hold(table, "198.51.100.1", 0);
  auto admission = table.admit(a("203.0.113.1"), 0);
  BOOST_TEST_REQUIRE(admission.slot.has_value());
  BOOST_TEST(table.close_all(CloseReason::shutdown) == 2u);
  BOOST_TEST((*registered.told == CloseReason::shutdown));
  BOOST_TEST(table.size() == 0u);
  // The session that had not registered yet hears it as it does.
  std::optional<CloseReason> late;
  admission.slot->on_close([&](CloseReason why) { late = why; });
  BOOST_TEST((late == CloseReason::shutdown));
  BOOST_TEST(table.close_all(CloseReason::shutdown) == 0u);
}

BOOST_AUTO_TEST_CASE(lowered_limits_refuse_newcomers_and_close_nobody) {
  ConnectionTable table(small());
  std::vector<Held> held;
  for (int i = 0; i < 2; ++i) held.push_back(hold(table, "198.51.100.1", 0));
  auto l = small();
  l.max_per_address = 1;
  table.set_limits(l);
  BOOST_TEST(table.size() == 2u);
  BOOST_TEST(!*held[0].told);
  // Over the new cap: no one makes room (that would not be enough), the newcomer waits.
  BOOST_TEST(!table.admit(a("198.51.100.1"), 60'000).slot);
  BOOST_TEST(!*held[0].told);
}

BOOST_AUTO_TEST_CASE(a_slot_outlives_its_table) {
  std::optional<ConnectionTable::Slot> slot;
  {
    ConnectionTable table(small());
    slot = table.admit(a("198.51.100.1"), 0).slot;
  }
  slot->note_active(1);
  slot->note_useful();
  slot.reset();  // no crash: the state is shared
}

BOOST_AUTO_TEST_CASE(defaults_are_the_declared_limits) {
  const ConnectionLimits l;
  BOOST_TEST(l.max_total == limits::max_concurrent_connections);
  BOOST_TEST(l.max_per_address == limits::max_concurrent_per_address);
  BOOST_TEST(l.max_per_prefix == limits::max_concurrent_per_prefix);
  BOOST_TEST(l.rate_per_address == limits::connection_rate_per_address);
  BOOST_TEST(l.rate_per_prefix == limits::connection_rate_per_prefix);
  BOOST_TEST(limits::max_concurrent_per_address < limits::max_concurrent_per_prefix);
  BOOST_TEST(limits::max_concurrent_per_prefix < limits::max_concurrent_connections);
  // A traced check's burst fits in one address's minute.
  BOOST_TEST(limits::connection_rate_per_address >= 2.0 * limits::max_trace_ttl * 3);
}

BOOST_AUTO_TEST_SUITE_END()
