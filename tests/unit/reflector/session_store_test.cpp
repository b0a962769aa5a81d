// Unit tests of the reflector's observation store: sessions and their secrets, tagged
// records, the untagged ring, expiry and the table bound.
#include "session_store.hpp"

#include <boost/test/unit_test.hpp>
#include <cctype>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "control_protocol.hpp"
#include "limits.hpp"

using namespace egress25;
using namespace egress25::reflector;

namespace {

const std::string client_v4 = "198.51.100.7";
const std::string client_v6 = "2001:db8::7";
const std::string other_client = "203.0.113.9";
constexpr std::int64_t t0 = 1'700'000'000'000;  // a wall-clock time, in ms
// How far before a session its untagged connections and refusals reach.
const std::int64_t lookback_ms =
    std::chrono::duration_cast<std::chrono::milliseconds>(limits::witness_lookback).count();

std::int64_t ms(std::chrono::milliseconds d) {
  return d.count();
}

bool lower_hex(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

ConnectionRecord record(const std::string& peer, std::uint16_t port, std::int64_t started,
                        Family family = Family::ipv4) {
  ConnectionRecord r;
  r.peer_address = peer;
  r.peer_port = 40000;
  r.local_address = family == Family::ipv4 ? "192.0.2.1" : "2001:db8::1";
  r.local_port = port;
  r.family = family;
  r.kind = port == 465 ? ServiceKind::smtps : ServiceKind::smtp;
  r.started_unix_ms = started;
  return r;
}

// A connection as the SMTP session handles it: noted in the ring when it starts, then
// attached if its EHLO/SNI carries a live tag.
struct Connection {
  std::uint64_t ring_id;
  std::shared_ptr<ConnectionRecord> record;
};

Connection connect(SessionStore& store, const std::string& peer, std::uint16_t port,
                   std::int64_t started, Family family = Family::ipv4) {
  auto r = std::make_shared<ConnectionRecord>(record(peer, port, started, family));
  return {store.note_connection(*r), r};
}

SessionStore::Limits small_limits() {
  SessionStore::Limits l;
  l.max_sessions = 3;
  l.lifetime_ms = 60'000;
  l.max_connections_per_session = 4;
  l.max_untagged = 8;
  return l;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(session_store)

BOOST_AUTO_TEST_CASE(tokens_are_unique_128_bit_hex_and_probe_ids_are_not_tokens) {
  // 200 sessions from one address at once, for this test only.
  SessionStore::Limits l;
  l.max_sessions_per_address = l.max_sessions_per_prefix = 1000;
  l.hello_rate_per_address = l.hello_rate_per_prefix = 0;
  SessionStore store(l);
  std::set<std::string> tokens, probe_ids;
  for (int i = 0; i < 200; ++i) {
    const Session* s = store.create(client_v4, Family::ipv4, t0);
    BOOST_TEST_REQUIRE(s != nullptr);
    BOOST_TEST(s->token.size() == 32u);
    BOOST_TEST(lower_hex(s->token), s->token);
    BOOST_TEST(control::valid_token(s->token));
    BOOST_TEST(control::valid_probe_id(s->probe_id), s->probe_id);
    BOOST_TEST(lower_hex(s->probe_id), s->probe_id);
    // The probe id travels in clear (EHLO, SNI): it must reveal nothing of the token.
    BOOST_TEST(s->token.find(s->probe_id) == std::string::npos);
    BOOST_TEST(s->probe_id.find(s->token) == std::string::npos);
    tokens.insert(s->token);
    probe_ids.insert(s->probe_id);
  }
  BOOST_TEST(tokens.size() == 200u);
  BOOST_TEST(probe_ids.size() == 200u);
  BOOST_TEST(store.size() == 200u);
  for (const auto& id : probe_ids) BOOST_TEST(tokens.count(id) == 0u);

  BOOST_TEST(random_hex(128).size() == 32u);
  BOOST_TEST(random_hex(96).size() == 24u);
  BOOST_TEST(random_hex(128) != random_hex(128));
}

BOOST_AUTO_TEST_CASE(a_probe_id_is_not_a_token_and_a_token_is_not_a_probe_id) {
  SessionStore store;
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  const std::string token = s->token, probe_id = s->probe_id;
  // Anyone on the path sees the probe id; it must not open the session's REPORT.
  BOOST_TEST(store.find_by_token(probe_id, t0) == nullptr);
  BOOST_TEST(store.join(probe_id, other_client, Family::ipv4, t0) == nullptr);
  BOOST_TEST(store.is_live_probe_id(probe_id, t0));
  BOOST_TEST(!store.is_live_probe_id(token, t0));
}

BOOST_AUTO_TEST_CASE(report_with_a_wrong_token_gives_nothing) {
  SessionStore store;
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  const std::string token = s->token;
  auto c = connect(store, client_v4, 25, t0 + 1);
  BOOST_TEST(store.attach(s->probe_id, c.ring_id, c.record, t0 + 1));

  std::string near_miss = token;
  near_miss.back() = near_miss.back() == '0' ? '1' : '0';
  for (const std::string& wrong :
       {std::string(), near_miss, token.substr(0, 31), token + "0", std::string(32, '0')}) {
    BOOST_TEST(store.find_by_token(wrong, t0 + 2) == nullptr, wrong);
  }
  const Session* found = store.find_by_token(token, t0 + 2);
  BOOST_TEST_REQUIRE(found != nullptr);
  BOOST_TEST(found->connections.size() == 1u);
  // A wrong token never creates a session either.
  BOOST_TEST(store.join(near_miss, client_v4, Family::ipv4, t0 + 2) == nullptr);
  BOOST_TEST(store.size() == 1u);
}

BOOST_AUTO_TEST_CASE(joining_from_the_other_family_records_both_public_addresses) {
  SessionStore store;
  const Session* created = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(created != nullptr);
  BOOST_TEST(created->public_ipv4.value_or("") == client_v4);
  BOOST_TEST(!created->public_ipv6.has_value());
  const std::string token = created->token, probe_id = created->probe_id;

  const Session* joined = store.join(token, client_v6, Family::ipv6, t0 + 100);
  BOOST_TEST_REQUIRE(joined != nullptr);
  BOOST_TEST(joined->token == token);
  BOOST_TEST(joined->probe_id == probe_id);
  BOOST_TEST(joined->public_ipv4.value_or("") == client_v4);
  BOOST_TEST(joined->public_ipv6.value_or("") == client_v6);
  BOOST_TEST(joined->started_unix_ms == t0);  // joining does not restart the session
  BOOST_TEST(store.size() == 1u);

  // Untagged connections from either address are the client's.
  connect(store, client_v4, 25, t0 + 200);
  connect(store, client_v6, 25, t0 + 300, Family::ipv6);
  const Session* s = store.find_by_token(token, t0 + 400);
  BOOST_TEST_REQUIRE(s != nullptr);
  const auto untagged = store.untagged_for(*s);
  BOOST_TEST_REQUIRE(untagged.size() == 2u);
  BOOST_TEST(untagged[0].peer_address == client_v4);
  BOOST_TEST((untagged[0].family == Family::ipv4));
  BOOST_TEST(untagged[1].peer_address == client_v6);
  BOOST_TEST((untagged[1].family == Family::ipv6));
}

// A client starts its probes' connects beside its control connection, before HELLO, and
// says how long before: the untagged ones from its address count from then (less
// limits::early_probe_margin), never from further back than limits::witness_lookback,
// and one accepted early can still be tagged once the session exists.
BOOST_AUTO_TEST_CASE(untagged_reach_back_to_the_probes_started_before_hello) {
  SessionStore store(small_limits());
  const std::int64_t start = t0 + 60'000;
  const std::int64_t margin =
      std::chrono::duration_cast<std::chrono::milliseconds>(limits::early_probe_margin).count();
  connect(store, client_v4, 25, start - 200 - margin - 1);  // an earlier check's
  connect(store, client_v4, 465, start - 200 - margin);
  auto early = connect(store, client_v4, 587, start - 200);
  const Session* s = store.create(client_v4, Family::ipv4, start);
  BOOST_TEST_REQUIRE(s != nullptr);
  const std::string token = s->token, probe_id = s->probe_id;
  BOOST_TEST(store.untagged_for(*s).empty());  // without the client's word: from its start
  store.set_probes_since(token, 200, start);
  s = store.find_by_token(token, start);
  const auto untagged = store.untagged_for(*s);
  BOOST_TEST_REQUIRE(untagged.size() == 2u);
  BOOST_TEST(untagged[0].local_port == 465);
  BOOST_TEST(untagged[1].local_port == 587);
  BOOST_TEST(store.attach(probe_id, early.ring_id, early.record, start + 200));
  s = store.find_by_token(token, start + 300);
  BOOST_TEST(s->connections.size() == 1u);
  BOOST_TEST(store.untagged_for(*s).size() == 1u);
  // A claim of a start long ago reaches back limits::witness_lookback, no further.
  store.set_probes_since(token, 3'600'000, start);
  BOOST_TEST(store.find_by_token(token, start + 300)->probes_since_unix_ms == start - lookback_ms);
}

BOOST_AUTO_TEST_CASE(tagged_records_are_capped_per_session) {
  SessionStore store(small_limits());
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  const std::string token = s->token, probe_id = s->probe_id;

  std::vector<Connection> connections;
  for (int i = 0; i < 7; ++i) connections.push_back(connect(store, client_v4, 25, t0 + i));
  for (int i = 0; i < 7; ++i) {
    const bool kept = store.attach(probe_id, connections[i].ring_id, connections[i].record, t0 + i);
    BOOST_TEST(kept == (i < 4), "connection " << i);
  }
  // The same connection seen twice (EHLO, then SNI or EHLO after STARTTLS) is one record.
  BOOST_TEST(store.attach(probe_id, connections[0].ring_id, connections[0].record, t0 + 8));

  s = store.find_by_token(token, t0 + 10);
  BOOST_TEST_REQUIRE(s != nullptr);
  BOOST_TEST(s->connections.size() == 4u);
  BOOST_TEST(s->connections_dropped == 3u);
  for (int i = 0; i < 4; ++i) BOOST_TEST(s->connections[i] == connections[i].record);
  // Dropped for the cap, they were still tagged: not reported as untagged either.
  BOOST_TEST(store.untagged_for(*s).empty());

  // Records are live: bytes written after attaching are in the next REPORT.
  connections[1].record->end_reason = "quit";
  BOOST_TEST(store.find_by_token(token, t0 + 11)->connections[1]->end_reason == "quit");
}

BOOST_AUTO_TEST_CASE(default_cap_is_the_declared_limit) {
  SessionStore store;
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  const std::string probe_id = s->probe_id;
  std::size_t kept = 0;
  for (std::size_t i = 0; i < limits::max_connections_per_session + 5; ++i) {
    auto c = connect(store, client_v4, 25, t0 + 1);
    kept += store.attach(probe_id, c.ring_id, c.record, t0 + 1) ? 1 : 0;
  }
  BOOST_TEST(kept == limits::max_connections_per_session);
  BOOST_TEST(s->connections.size() == limits::max_connections_per_session);
}

BOOST_AUTO_TEST_CASE(attach_needs_a_live_probe_id) {
  SessionStore store(small_limits());
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  const std::string token = s->token, probe_id = s->probe_id;
  auto c = connect(store, client_v4, 25, t0 + 1);

  BOOST_TEST(!store.attach(token, c.ring_id, c.record, t0 + 1));  // a token is no tag
  BOOST_TEST(!store.attach("0123abcd", c.ring_id, c.record, t0 + 1));
  BOOST_TEST(!store.attach("", c.ring_id, c.record, t0 + 1));
  BOOST_TEST(store.find_by_token(token, t0 + 1)->connections.empty());
  // Not attached, it stays in the untagged ring.
  BOOST_TEST(store.untagged_for(*store.find_by_token(token, t0 + 1)).size() == 1u);

  // A tag round-trips through the EHLO name to the probe id the store knows.
  const auto tag =
      control::tag_from_hostname(control::probe_hostname(control::make_probe_tag(probe_id, 3)));
  BOOST_TEST_REQUIRE(tag.has_value());
  const auto from_tag = control::probe_id_from_tag(*tag);
  BOOST_TEST_REQUIRE(from_tag.has_value());
  BOOST_TEST(store.is_live_probe_id(*from_tag, t0 + 2));
  BOOST_TEST(store.attach(*from_tag, c.ring_id, c.record, t0 + 2));
  BOOST_TEST(store.untagged_for(*store.find_by_token(token, t0 + 2)).empty());
}

BOOST_AUTO_TEST_CASE(untagged_is_only_metadata_of_the_clients_own_connections) {
  SessionStore store(small_limits());
  connect(store, client_v4, 25, t0 - 1);  // before the session: not this check's
  const Session* mine = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(mine != nullptr);
  const std::string my_token = mine->token;
  const Session* theirs = store.create(other_client, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(theirs != nullptr);
  const std::string their_token = theirs->token, their_probe_id = theirs->probe_id;

  connect(store, client_v4, 25, t0);         // same ms as the session start: counted
  connect(store, other_client, 25, t0 + 1);  // another client's: never shown to me
  connect(store, client_v4, 587, t0 + 2);
  connect(store, client_v4, 465, t0 + 3);
  // A connection from my address carrying the other session's tag (someone else behind
  // the same NAT): theirs, not an untagged one of mine.
  auto shared_nat = connect(store, client_v4, 25, t0 + 4);
  BOOST_TEST(store.attach(their_probe_id, shared_nat.ring_id, shared_nat.record, t0 + 4));

  const auto untagged = store.untagged_for(*store.find_by_token(my_token, t0 + 5));
  BOOST_TEST_REQUIRE(untagged.size() == 3u);
  const std::vector<std::uint16_t> ports = {25, 587, 465};
  const std::vector<std::int64_t> started = {t0, t0 + 2, t0 + 3};
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST(untagged[i].peer_address == client_v4);
    // The port lets the client count them against the probe of that port only.
    BOOST_TEST(untagged[i].local_port == ports[i]);
    BOOST_TEST(untagged[i].started_unix_ms == started[i]);
  }

  const auto for_them = store.untagged_for(*store.find_by_token(their_token, t0 + 5));
  BOOST_TEST_REQUIRE(for_them.size() == 1u);
  BOOST_TEST(for_them[0].peer_address == other_client);
}

BOOST_AUTO_TEST_CASE(untagged_ring_is_bounded_and_keeps_the_newest) {
  auto l = small_limits();  // max_untagged = 8
  SessionStore store(l);
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  const std::string token = s->token, probe_id = s->probe_id;

  auto early = connect(store, client_v4, 25, t0 + 1);
  for (int i = 2; i <= 20; ++i) connect(store, client_v4, 25, t0 + i);
  auto untagged = store.untagged_for(*store.find_by_token(token, t0 + 21));
  BOOST_TEST_REQUIRE(untagged.size() == l.max_untagged);
  BOOST_TEST(untagged.front().started_unix_ms == t0 + 13);
  BOOST_TEST(untagged.back().started_unix_ms == t0 + 20);

  // A connection that left the ring before its tag was seen is still attached, and
  // marks none of the newer entries as tagged.
  BOOST_TEST(store.attach(probe_id, early.ring_id, early.record, t0 + 22));
  BOOST_TEST(store.untagged_for(*store.find_by_token(token, t0 + 22)).size() == l.max_untagged);
  BOOST_TEST(store.find_by_token(token, t0 + 22)->connections.size() == 1u);
}

BOOST_AUTO_TEST_CASE(sessions_expire_after_their_lifetime) {
  auto l = small_limits();
  SessionStore store(l);
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  BOOST_TEST(s->started_unix_ms == t0);
  BOOST_TEST(s->expires_unix_ms == t0 + l.lifetime_ms);
  const std::string token = s->token, probe_id = s->probe_id;
  auto c = connect(store, client_v4, 25, t0 + 1);

  const auto last_live = t0 + l.lifetime_ms - 1;
  BOOST_TEST(store.find_by_token(token, last_live) != nullptr);
  BOOST_TEST(store.is_live_probe_id(probe_id, last_live));

  const auto expired = t0 + l.lifetime_ms;
  BOOST_TEST(store.find_by_token(token, expired) == nullptr);
  BOOST_TEST(!store.is_live_probe_id(probe_id, expired));
  BOOST_TEST(!store.attach(probe_id, c.ring_id, c.record, expired));
  BOOST_TEST(store.join(token, client_v6, Family::ipv6, expired) == nullptr);
  BOOST_TEST(store.size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_session_no_probe_reaches_is_gone_in_a_minute_a_probed_one_lives_on) {
  SessionStore store;
  const auto unprobed = store.limits().unprobed_lifetime_ms;
  const auto lifetime = store.limits().lifetime_ms;
  BOOST_TEST(unprobed == ms(limits::unprobed_session_lifetime));
  BOOST_TEST(lifetime == ms(limits::session_lifetime));
  BOOST_TEST(unprobed < lifetime);

  const Session* idle = store.create(client_v4, Family::ipv4, t0);
  const Session* probed = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE((idle && probed));
  BOOST_TEST(idle->expires_unix_ms == t0 + unprobed);
  const std::string idle_token = idle->token, probed_token = probed->token;
  // A probe of it arrives (its tag in an EHLO): it is a check under way, and lives on.
  auto c = connect(store, client_v4, 25, t0 + 500);
  BOOST_TEST(store.attach(probed->probe_id, c.ring_id, c.record, t0 + 500));
  BOOST_TEST(store.find_by_token(probed_token, t0 + 1)->expires_unix_ms == t0 + lifetime);

  BOOST_TEST(store.find_by_token(idle_token, t0 + unprobed - 1) != nullptr);
  BOOST_TEST(store.find_by_token(idle_token, t0 + unprobed) == nullptr);
  BOOST_TEST(store.find_by_token(probed_token, t0 + unprobed) != nullptr);
  BOOST_TEST(store.find_by_token(probed_token, t0 + lifetime - 1) != nullptr);
}

BOOST_AUTO_TEST_CASE(a_reported_session_lingers_then_goes) {
  SessionStore store;
  const auto linger = store.limits().reported_linger_ms;
  BOOST_TEST(linger == ms(limits::reported_session_linger));
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  const std::string token = s->token;
  auto c = connect(store, client_v4, 25, t0 + 100);
  BOOST_TEST(store.attach(s->probe_id, c.ring_id, c.record, t0 + 100));
  store.note_reported(token, t0 + 5000);
  // Asked again (the first answer was lost): still there; a minute later, gone.
  BOOST_TEST(store.find_by_token(token, t0 + 5000 + linger - 1) != nullptr);
  BOOST_TEST(store.find_by_token(token, t0 + 5000 + linger) == nullptr);
}

BOOST_AUTO_TEST_CASE(a_full_table_makes_room_but_never_from_a_check_under_way) {
  auto l = small_limits();  // max_sessions = 3
  l.unprobed_lifetime_ms = l.lifetime_ms;
  SessionStore store(l);
  std::vector<std::string> tokens, probe_ids;
  for (int i = 0; i < 3; ++i) {
    const Session* s = store.create(client_v4, Family::ipv4, t0 + i * 1000);
    BOOST_TEST_REQUIRE(s != nullptr);
    tokens.push_back(s->token);
    probe_ids.push_back(s->probe_id);
  }
  // Every session is a check under way (a probe of it arrived): a new client is told
  // busy, and no one mid-check loses theirs.
  for (int i = 0; i < 3; ++i) {
    auto c = connect(store, client_v4, 25, t0 + 2500);
    BOOST_TEST(store.attach(probe_ids[i], c.ring_id, c.record, t0 + 2500));
  }
  CreateRefusal why = CreateRefusal::none;
  BOOST_TEST(store.create(other_client, Family::ipv4, t0 + 3000, &why) == nullptr);
  BOOST_TEST((why == CreateRefusal::table_full));
  BOOST_TEST(store.size() == 3u);
  for (const auto& t : tokens) BOOST_TEST(store.find_by_token(t, t0 + 3000) != nullptr);
  // Joining an existing session needs no new slot.
  BOOST_TEST(store.join(tokens[0], client_v6, Family::ipv6, t0 + 3000) != nullptr);

  // A reported check has served its client: it makes room, and only it.
  store.note_reported(tokens[1], t0 + 3500);
  BOOST_TEST(store.create(other_client, Family::ipv4, t0 + 4000) != nullptr);
  BOOST_TEST(store.find_by_token(tokens[1], t0 + 4000) == nullptr);
  BOOST_TEST(store.find_by_token(tokens[0], t0 + 4000) != nullptr);
  BOOST_TEST(store.find_by_token(tokens[2], t0 + 4000) != nullptr);
}

BOOST_AUTO_TEST_CASE(a_table_full_of_hellos_makes_room_from_the_network_holding_most) {
  auto l = small_limits();
  l.max_sessions = 4;
  l.unprobed_lifetime_ms = l.lifetime_ms;
  SessionStore store(l);
  // 203.0.113.0/24 floods with HELLOs and never probes; a real client is under way.
  const Session* real = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(real != nullptr);
  const std::string real_token = real->token;
  auto c = connect(store, client_v4, 25, t0 + 10);
  BOOST_TEST(store.attach(real->probe_id, c.ring_id, c.record, t0 + 10));
  const Session* lone = store.create("192.0.2.50", Family::ipv4, t0 + 20);
  BOOST_TEST_REQUIRE(lone != nullptr);
  const std::string lone_token = lone->token;
  std::vector<std::string> flood;
  for (int i = 1; i <= 2; ++i)
    flood.push_back(
        store.create("203.0.113." + std::to_string(i), Family::ipv4, t0 + 30 + i)->token);
  // Full. A fresh client from elsewhere gets in; the flood's oldest HELLO goes.
  BOOST_TEST(store.create("198.18.0.1", Family::ipv4, t0 + 100) != nullptr);
  BOOST_TEST(store.find_by_token(flood[0], t0 + 100) == nullptr);
  BOOST_TEST(store.find_by_token(flood[1], t0 + 100) != nullptr);
  BOOST_TEST(store.find_by_token(real_token, t0 + 100) != nullptr);
  BOOST_TEST(store.find_by_token(lone_token, t0 + 100) != nullptr);
}

BOOST_AUTO_TEST_CASE(one_source_cannot_fill_the_table) {
  auto l = small_limits();
  l.max_sessions = 20;
  l.max_sessions_per_address = 2;
  l.max_sessions_per_prefix = 3;
  SessionStore store(l);
  CreateRefusal why = CreateRefusal::table_full;
  BOOST_TEST(store.create(client_v4, Family::ipv4, t0, &why) != nullptr);
  BOOST_TEST((why == CreateRefusal::none));
  BOOST_TEST(store.create(client_v4, Family::ipv4, t0 + 1) != nullptr);
  BOOST_TEST(store.create(client_v4, Family::ipv4, t0 + 2, &why) == nullptr);
  BOOST_TEST((why == CreateRefusal::address_full));
  // Its /24 has room for one more, from another address; then the /24 is full.
  BOOST_TEST(store.create("198.51.100.8", Family::ipv4, t0 + 3) != nullptr);
  BOOST_TEST(store.create("198.51.100.9", Family::ipv4, t0 + 3, &why) == nullptr);
  BOOST_TEST((why == CreateRefusal::prefix_full));
  // Others are still served.
  BOOST_TEST(store.create(other_client, Family::ipv4, t0 + 3) != nullptr);

  // An IPv6 host picks any address of its /64 at will: the /64 counts as one network.
  BOOST_TEST(store.create("2001:db8:1:2::1", Family::ipv6, t0 + 4) != nullptr);
  BOOST_TEST(store.create("2001:db8:1:2:aaaa::99", Family::ipv6, t0 + 5) != nullptr);
  BOOST_TEST(store.create("2001:db8:1:2:bbbb::99", Family::ipv6, t0 + 5) != nullptr);
  BOOST_TEST(store.create("2001:db8:1:2:ffff:ffff:ffff:ffff", Family::ipv6, t0 + 6, &why) ==
             nullptr);
  BOOST_TEST((why == CreateRefusal::prefix_full));
  BOOST_TEST(store.create("2001:db8:1:3::1", Family::ipv6, t0 + 7) != nullptr);

  // Expired sessions give their source its room back.
  BOOST_TEST(store.create(client_v4, Family::ipv4, t0 + l.lifetime_ms + 1) != nullptr);
}

BOOST_AUTO_TEST_CASE(hellos_faster_than_the_rate_are_refused_then_served_again) {
  auto l = small_limits();
  l.max_sessions = 1000;
  l.max_sessions_per_address = l.max_sessions_per_prefix = 1000;
  l.hello_rate_per_address = 6;  // a burst of 6, then one each 10 s
  l.hello_rate_per_prefix = 10;
  SessionStore store(l);
  CreateRefusal why = CreateRefusal::none;
  for (int i = 0; i < 6; ++i) BOOST_TEST(store.create(client_v4, Family::ipv4, t0) != nullptr);
  BOOST_TEST(store.create(client_v4, Family::ipv4, t0, &why) == nullptr);
  BOOST_TEST((why == CreateRefusal::address_rate));
  BOOST_TEST(store.create(client_v4, Family::ipv4, t0 + 9'000) == nullptr);
  BOOST_TEST(store.create(client_v4, Family::ipv4, t0 + 10'000) != nullptr);
  // The /24 has 10 a minute in all: 7 taken in 10 s, and 10 s gave it 1.67 back; 4 more
  // for its other addresses, then none.
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(store.create("198.51.100.8", Family::ipv4, t0 + 10'000) != nullptr);
  BOOST_TEST(store.create("198.51.100.9", Family::ipv4, t0 + 10'000, &why) == nullptr);
  BOOST_TEST((why == CreateRefusal::prefix_rate));
  BOOST_TEST(store.create(other_client, Family::ipv4, t0 + 10'000) != nullptr);
}

BOOST_AUTO_TEST_CASE(default_caps_are_the_declared_limits) {
  SessionStore store;
  BOOST_TEST(store.limits().max_sessions == limits::max_sessions);
  BOOST_TEST(store.limits().max_sessions_per_address == limits::max_sessions_per_address);
  BOOST_TEST(store.limits().max_sessions_per_prefix == limits::max_sessions_per_prefix);
  std::size_t made = 0;
  while (made < limits::max_sessions_per_address + 5 &&
         store.create(client_v4, Family::ipv4, t0) != nullptr)
    ++made;
  BOOST_TEST(made == limits::max_sessions_per_address);
  BOOST_TEST(limits::max_sessions_per_address < limits::max_sessions_per_prefix);
  BOOST_TEST(limits::max_sessions_per_prefix < limits::max_sessions);
}

// ---- saw_name: which tag a connection records, from EHLO/HELO and SNI ------------------

namespace {

struct Tagged {
  SessionStore store{small_limits()};
  std::string token;
  std::string probe_id;
  Tagged() {
    const Session* s = store.create(client_v4, Family::ipv4, t0);
    BOOST_TEST_REQUIRE(s != nullptr);
    token = s->token;
    probe_id = s->probe_id;
  }
  std::string name(int index) const {
    return control::probe_hostname(control::make_probe_tag(probe_id, index));
  }
  std::string tag(int index) const { return control::make_probe_tag(probe_id, index); }
  const Session& session() { return *store.find_by_token(token, t0 + 100); }
};

using Outcome = SessionStore::NameOutcome;

}  // namespace

BOOST_FIXTURE_TEST_CASE(ehlo_with_a_live_tag_attaches_the_connection, Tagged) {
  auto c = connect(store, client_v4, 25, t0 + 1);
  BOOST_TEST((store.saw_name(name(1), "ehlo", c.ring_id, c.record, t0 + 1) == Outcome::attached));
  BOOST_TEST(c.record->probe_tag == tag(1));
  BOOST_TEST(c.record->tag_seen_in == std::vector<std::string>{"ehlo"},
             boost::test_tools::per_element());
  BOOST_TEST_REQUIRE(session().connections.size() == 1u);
  BOOST_TEST(session().connections[0] == c.record);
  BOOST_TEST(store.untagged_for(session()).empty());
}

BOOST_FIXTURE_TEST_CASE(the_same_tag_again_is_listed_where_once_each, Tagged) {
  auto c = connect(store, client_v4, 25, t0 + 1);
  BOOST_TEST((store.saw_name(name(1), "ehlo", c.ring_id, c.record, t0 + 1) == Outcome::attached));
  BOOST_TEST((store.saw_name(name(1), "ehlo", c.ring_id, c.record, t0 + 2) == Outcome::seen_again));
  BOOST_TEST((store.saw_name(name(1), "ehlo_after_starttls", c.ring_id, c.record, t0 + 3) ==
              Outcome::seen_again));
  const std::vector<std::string> where{"ehlo", "ehlo_after_starttls"};
  BOOST_TEST(c.record->tag_seen_in == where, boost::test_tools::per_element());
  BOOST_TEST(session().connections.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(sni_then_ehlo_on_implicit_tls, Tagged) {
  auto c = connect(store, client_v4, 465, t0 + 1);
  BOOST_TEST((store.saw_name(name(2), "sni", c.ring_id, c.record, t0 + 1) == Outcome::attached));
  BOOST_TEST((store.saw_name(name(2), "ehlo", c.ring_id, c.record, t0 + 2) == Outcome::seen_again));
  const std::vector<std::string> where{"sni", "ehlo"};
  BOOST_TEST(c.record->tag_seen_in == where, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(the_first_tag_is_the_identity_and_a_second_is_ignored, Tagged) {
  auto c = connect(store, client_v4, 25, t0 + 1);
  BOOST_TEST((store.saw_name(name(1), "ehlo", c.ring_id, c.record, t0 + 1) == Outcome::attached));
  BOOST_TEST((store.saw_name(name(7), "ehlo_after_starttls", c.ring_id, c.record, t0 + 2) ==
              Outcome::other_tag));
  BOOST_TEST(c.record->probe_tag == tag(1));
  BOOST_TEST(c.record->tag_seen_in == std::vector<std::string>{"ehlo"},
             boost::test_tools::per_element());

  // Another live session's tag on a connection that already has one: ignored as well.
  const Session* other = store.create(other_client, Family::ipv4, t0 + 3);
  BOOST_TEST_REQUIRE(other != nullptr);
  const auto other_name = control::probe_hostname(control::make_probe_tag(other->probe_id, 1));
  BOOST_TEST(
      (store.saw_name(other_name, "ehlo", c.ring_id, c.record, t0 + 4) == Outcome::other_tag));
  BOOST_TEST(store.find_by_token(other->token, t0 + 5)->connections.empty());
}

BOOST_FIXTURE_TEST_CASE(names_that_are_no_live_tag_record_nothing, Tagged) {
  auto c = connect(store, client_v4, 25, t0 + 1);
  const std::vector<std::string> not_tags{
      "",
      "mail.example.org",
      "[192.0.2.1]",
      tag(1),  // the tag without the .egress25.invalid domain
      control::probe_hostname(control::make_probe_tag("0123456789abcdef", 1)),  // no session
      control::probe_hostname(token),                                           // the secret
      name(1) + ".example",
      std::string(300, 'a') + ".egress25.invalid",
  };
  for (const auto& n : not_tags)
    BOOST_TEST((store.saw_name(n, "ehlo", c.ring_id, c.record, t0 + 2) == Outcome::no_tag), n);
  BOOST_TEST(c.record->probe_tag.empty());
  BOOST_TEST(c.record->tag_seen_in.empty());
  BOOST_TEST(session().connections.empty());
  BOOST_TEST(store.untagged_for(session()).size() == 1u);  // it stays an untagged arrival

  // A tag whose session has expired is no tag either.
  const auto expired = t0 + small_limits().lifetime_ms + 1;
  BOOST_TEST((store.saw_name(name(1), "ehlo", c.ring_id, c.record, expired) == Outcome::no_tag));
}

BOOST_FIXTURE_TEST_CASE(a_tag_is_case_insensitive_as_dns_names_are, Tagged) {
  auto c = connect(store, client_v4, 25, t0 + 1);
  std::string shouted = name(1);
  for (auto& ch : shouted) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  BOOST_TEST((store.saw_name(shouted, "ehlo", c.ring_id, c.record, t0 + 1) == Outcome::attached));
  BOOST_TEST(c.record->probe_tag == tag(1));
}

BOOST_FIXTURE_TEST_CASE(a_full_session_does_not_keep_the_connection_but_counts_it, Tagged) {
  // small_limits: 4 records per session.
  std::vector<Connection> kept;
  for (int i = 0; i < 4; ++i) {
    kept.push_back(connect(store, client_v4, 25, t0 + 1));
    BOOST_TEST((store.saw_name(name(i + 1), "ehlo", kept.back().ring_id, kept.back().record,
                               t0 + 1) == Outcome::attached));
  }
  auto c = connect(store, client_v4, 25, t0 + 2);
  BOOST_TEST((store.saw_name(name(9), "ehlo", c.ring_id, c.record, t0 + 2) == Outcome::not_kept));
  // The record still knows its tag, and a second sight neither re-counts it nor keeps it.
  BOOST_TEST(c.record->probe_tag == tag(9));
  BOOST_TEST((store.saw_name(name(9), "ehlo_after_starttls", c.ring_id, c.record, t0 + 3) ==
              Outcome::seen_again));
  BOOST_TEST(session().connections.size() == 4u);
  BOOST_TEST(session().connections_dropped == 1u);
}

BOOST_AUTO_TEST_CASE(untagged_connections_say_how_they_ended) {
  SessionStore store(small_limits());
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  const std::string token = s->token;
  auto open = connect(store, client_v4, 25, t0 + 1);
  auto closed = connect(store, client_v4, 587, t0 + 2);
  store.note_connection_end(closed.ring_id, "idle timeout");
  auto untagged = store.untagged_for(*store.find_by_token(token, t0 + 3));
  BOOST_TEST_REQUIRE(untagged.size() == 2u);
  BOOST_TEST(untagged[0].end_reason.empty());  // still open
  BOOST_TEST(untagged[1].end_reason == "idle timeout");
  store.note_connection_end(open.ring_id, "peer closed");
  untagged = store.untagged_for(*store.find_by_token(token, t0 + 4));
  BOOST_TEST(untagged[0].end_reason == "peer closed");

  // A connection the ring has moved past changes nothing, and nothing breaks.
  for (int i = 0; i < 10; ++i) connect(store, client_v4, 25, t0 + 5);
  store.note_connection_end(open.ring_id, "quit");
  for (const auto& u : store.untagged_for(*store.find_by_token(token, t0 + 6)))
    BOOST_TEST(u.end_reason.empty());
}

BOOST_AUTO_TEST_CASE(refusals_are_the_clients_own_since_the_session_began) {
  SessionStore store(small_limits());
  auto& refusals = store.refusals();
  const std::string cap = "too many connections from " + client_v4 + " (16)";
  refusals.note(client_v4, Family::ipv4, 25, cap, t0 - 1);  // before the session
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  const std::string token = s->token;
  store.join(token, client_v6, Family::ipv6, t0 + 1);
  refusals.note(client_v4, Family::ipv4, 587, cap, t0 + 2);
  refusals.note(client_v6, Family::ipv6, 25, "too many connections in all (512)", t0 + 3);
  refusals.note(other_client, Family::ipv4, 25, cap, t0 + 4);  // another client's

  const auto refused = store.refused_for(*store.find_by_token(token, t0 + 5), t0 + 5);
  BOOST_TEST_REQUIRE(refused.size() == 2u);
  BOOST_TEST(refused[0].peer_address == client_v4);
  BOOST_TEST(refused[0].local_port == 587);
  BOOST_TEST(refused[0].reason == cap);
  BOOST_TEST(refused[1].peer_address == client_v6);
  BOOST_TEST((refused[1].family == Family::ipv6));

  // Refused again after the session began, the port 25 entry is the session's too.
  refusals.note(client_v4, Family::ipv4, 25, cap, t0 + 6);
  BOOST_TEST(store.refused_for(*store.find_by_token(token, t0 + 7), t0 + 7).size() == 3u);
}

BOOST_AUTO_TEST_CASE(refusals_in_a_report_are_capped) {
  SessionStore store;
  const Session* s = store.create(client_v4, Family::ipv4, t0);
  BOOST_TEST_REQUIRE(s != nullptr);
  for (std::size_t p = 1; p <= limits::max_refused_per_report + 5; ++p)
    store.refusals().note(client_v4, Family::ipv4, static_cast<std::uint16_t>(p), "x", t0 + 1);
  const auto refused = store.refused_for(*s, t0 + 2);
  BOOST_TEST_REQUIRE(refused.size() == limits::max_refused_per_report);
  BOOST_TEST(refused.back().local_port == limits::max_refused_per_report + 5);  // the latest
}

BOOST_AUTO_TEST_SUITE_END()
