// The observation store: control sessions, the connections tagged for each, a bounded
// ring of recent connections that carried no known tag, and the connections the
// reflector refused for its own limits.
#include "session_store.hpp"

#include "hex.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/ip/address_v6.hpp>
#include <stdexcept>

namespace egress25::reflector {

std::string random_hex(std::size_t bits) {
  std::vector<unsigned char> bytes((bits + 7) / 8);
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("the OpenSSL random generator failed");
  return to_hex(bytes.data(), bytes.size());
}

SessionStore::SessionStore(Limits limits)
    : limits_(limits),
      address_hellos_(limits.hello_rate_per_address),
      prefix_hellos_(limits.hello_rate_per_prefix),
      refusals_(limits.refusals) {}

void SessionStore::set_limits(const Limits& limits) {
  const auto refusals = limits_.refusals;
  limits_ = limits;
  limits_.refusals = refusals;
  address_hellos_.set_rate(limits.hello_rate_per_address);
  prefix_hellos_.set_rate(limits.hello_rate_per_prefix);
}

void SessionStore::set_expiry(Session& s, std::int64_t expires_ms) {
  by_expiry_.erase({s.expires_unix_ms, s.token});
  s.expires_unix_ms = expires_ms;
  by_expiry_.emplace(expires_ms, s.token);
}

void SessionStore::uncount(Session& s) {
  if (!s.counted) return;
  s.counted = false;
  for (auto [map, key] :
       {std::pair{&per_address_, &s.source.address}, std::pair{&per_prefix_, &s.source.prefix}}) {
    auto it = map->find(*key);
    if (it != map->end() && --it->second == 0) map->erase(it);
  }
}

void SessionStore::erase(std::unordered_map<std::string, Session>::iterator it) {
  Session& s = it->second;
  uncount(s);
  by_probe_id_.erase(s.probe_id);
  by_expiry_.erase({s.expires_unix_ms, s.token});
  sessions_.erase(it);
}

void SessionStore::expire(std::int64_t now_ms) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now_ms) {
    auto it = sessions_.find(by_expiry_.begin()->second);
    if (it == sessions_.end()) {
      by_expiry_.erase(by_expiry_.begin());
      continue;
    }
    erase(it);
  }
}

Session* SessionStore::live(const std::string& token, std::int64_t now_ms) {
  expire(now_ms);
  auto it = sessions_.find(token);
  return it == sessions_.end() ? nullptr : &it->second;
}

bool SessionStore::evict_one() {
  auto victim = sessions_.end();
  // A reported session has served its client: the one reported longest ago (it expires
  // first). Else one that no probe reached, of the prefix holding the most, the oldest.
  std::size_t victim_load = 0;
  for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
    const Session& s = it->second;
    if (s.reported) {
      if (victim == sessions_.end() || !victim->second.reported ||
          s.expires_unix_ms < victim->second.expires_unix_ms)
        victim = it;
      continue;
    }
    if (s.probed || (victim != sessions_.end() && victim->second.reported)) continue;
    const auto load = per_prefix_.count(s.source.prefix) ? per_prefix_.at(s.source.prefix) : 0;
    if (victim == sessions_.end() || load > victim_load ||
        (load == victim_load && s.started_unix_ms < victim->second.started_unix_ms)) {
      victim = it;
      victim_load = load;
    }
  }
  if (victim == sessions_.end()) return false;
  erase(victim);
  return true;
}

const Session* SessionStore::create(const std::string& address, Family family, std::int64_t now_ms,
                                    CreateRefusal* why) {
  expire(now_ms);
  auto refuse = [&](CreateRefusal r) -> const Session* {
    if (why) *why = r;
    return nullptr;
  };
  auto source = source_keys(address, limits_.prefixes);
  if (!address_hellos_.take(source.address, now_ms)) return refuse(CreateRefusal::address_rate);
  if (!prefix_hellos_.take(source.prefix, now_ms)) return refuse(CreateRefusal::prefix_rate);
  auto count = [](const auto& map, const std::string& key) -> std::size_t {
    auto it = map.find(key);
    return it == map.end() ? 0 : it->second;
  };
  if (count(per_address_, source.address) >= limits_.max_sessions_per_address)
    return refuse(CreateRefusal::address_full);
  if (count(per_prefix_, source.prefix) >= limits_.max_sessions_per_prefix)
    return refuse(CreateRefusal::prefix_full);
  if (sessions_.size() >= limits_.max_sessions && !evict_one())
    return refuse(CreateRefusal::table_full);
  if (why) *why = CreateRefusal::none;
  ++per_address_[source.address];
  ++per_prefix_[source.prefix];
  Session s;
  s.source = std::move(source);
  s.counted = true;
  s.token = random_hex(128);
  s.probe_id = random_hex(96);
  s.started_unix_ms = now_ms;
  s.probes_since_unix_ms = now_ms;
  (family == Family::ipv4 ? s.public_ipv4 : s.public_ipv6) = address;
  by_probe_id_[s.probe_id] = s.token;
  auto [it, inserted] = sessions_.emplace(s.token, std::move(s));
  Session& made = it->second;
  made.expires_unix_ms = now_ms;  // replaced below; set_expiry erases the old pair first
  set_expiry(made, now_ms + std::min(limits_.unprobed_lifetime_ms, limits_.lifetime_ms));
  return &made;
}

void SessionStore::note_reported(const std::string& token, std::int64_t now_ms) {
  Session* s = live(token, now_ms);
  if (!s) return;
  uncount(*s);
  if (!s->reported) {
    s->reported = true;
    set_expiry(*s, std::min(s->expires_unix_ms, now_ms + limits_.reported_linger_ms));
  }
}

const Session* SessionStore::join(const std::string& token, const std::string& address,
                                  Family family, std::int64_t now_ms) {
  Session* s = live(token, now_ms);
  if (!s) return nullptr;
  (family == Family::ipv4 ? s->public_ipv4 : s->public_ipv6) = address;
  return s;
}

const Session* SessionStore::find_by_token(const std::string& token, std::int64_t now_ms) {
  return live(token, now_ms);
}

std::set<std::pair<std::uint16_t, Family>>* SessionStore::connect_back_claims(
    const std::string& token, std::int64_t now_ms) {
  auto* s = live(token, now_ms);
  return s ? &s->connected_back : nullptr;
}

bool SessionStore::is_live_probe_id(const std::string& probe_id, std::int64_t now_ms) {
  expire(now_ms);
  return by_probe_id_.count(probe_id) > 0;
}

std::uint64_t SessionStore::note_connection(const ConnectionRecord& r) {
  ring_.push_back(RingEntry{
      control::UntaggedConnection{r.peer_address, r.local_port, r.family, r.started_unix_ms},
      false});
  while (ring_.size() > limits_.max_untagged) {
    ring_.pop_front();
    ++ring_base_;
  }
  return ring_base_ + ring_.size() - 1;
}

void SessionStore::note_connection_end(std::uint64_t ring_id, const std::string& end_reason) {
  if (ring_id >= ring_base_ && ring_id - ring_base_ < ring_.size())
    ring_[ring_id - ring_base_].meta.end_reason = end_reason;
}

bool SessionStore::attach(const std::string& probe_id, std::uint64_t ring_id,
                          const std::shared_ptr<const ConnectionRecord>& record,
                          std::int64_t now_ms) {
  expire(now_ms);
  auto id = by_probe_id_.find(probe_id);
  if (id == by_probe_id_.end()) return false;
  Session& s = sessions_.at(id->second);
  // A probe arrived: the session is a check under way, and lives its whole lifetime.
  if (!s.probed) {
    s.probed = true;
    if (!s.reported) set_expiry(s, s.started_unix_ms + limits_.lifetime_ms);
  }
  if (ring_id >= ring_base_ && ring_id - ring_base_ < ring_.size())
    ring_[ring_id - ring_base_].tagged = true;
  if (std::find(s.connections.begin(), s.connections.end(), record) != s.connections.end())
    return true;
  if (s.connections.size() >= limits_.max_connections_per_session) {
    ++s.connections_dropped;
    return false;
  }
  s.connections.push_back(record);
  return true;
}

SessionStore::NameOutcome SessionStore::saw_name(std::string_view name, std::string_view where,
                                                 std::uint64_t ring_id,
                                                 const std::shared_ptr<ConnectionRecord>& record,
                                                 std::int64_t now_ms) {
  auto tag = control::tag_from_hostname(name);
  if (!tag) return NameOutcome::no_tag;
  auto probe_id = control::probe_id_from_tag(*tag);
  if (!probe_id || !is_live_probe_id(*probe_id, now_ms)) return NameOutcome::no_tag;
  ConnectionRecord& r = *record;
  auto outcome = NameOutcome::seen_again;
  if (r.probe_tag.empty()) {
    r.probe_tag = *tag;
    outcome =
        attach(*probe_id, ring_id, record, now_ms) ? NameOutcome::attached : NameOutcome::not_kept;
  } else if (r.probe_tag != *tag) {
    return NameOutcome::other_tag;  // one connection, one probe: the first tag seen is its identity
  }
  if (std::find(r.tag_seen_in.begin(), r.tag_seen_in.end(), where) == r.tag_seen_in.end())
    r.tag_seen_in.emplace_back(where);
  return outcome;
}

namespace {

// The session's public addresses, as the stores spell peers (unmapped).
std::vector<std::string> public_addresses(const Session& s) {
  std::vector<std::string> out;
  if (s.public_ipv4) out.push_back(*s.public_ipv4);
  if (s.public_ipv6) out.push_back(*s.public_ipv6);
  return out;
}

}  // namespace

void SessionStore::set_probes_since(const std::string& token, std::int64_t ago_ms,
                                    std::int64_t now_ms) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  auto it = sessions_.find(token);
  if (it == sessions_.end()) return;
  const std::int64_t lookback = duration_cast<milliseconds>(limits::witness_lookback).count();
  const std::int64_t margin = duration_cast<milliseconds>(limits::early_probe_margin).count();
  it->second.probes_since_unix_ms = now_ms - std::clamp<std::int64_t>(ago_ms + margin, 0, lookback);
}

std::vector<control::UntaggedConnection> SessionStore::untagged_for(const Session& s) const {
  const auto addresses = public_addresses(s);
  std::vector<control::UntaggedConnection> out;
  for (const auto& entry : ring_) {
    const control::UntaggedConnection& r = entry.meta;
    if (entry.tagged || r.started_unix_ms < s.probes_since_unix_ms) continue;
    if (std::find(addresses.begin(), addresses.end(), r.peer_address) == addresses.end()) continue;
    out.push_back(r);
  }
  return out;
}

std::vector<control::RefusedConnection> SessionStore::refused_for(const Session& s,
                                                                  std::int64_t now_ms) const {
  return refusals_.from(public_addresses(s), s.probes_since_unix_ms, now_ms,
                        limits::max_refused_per_report);
}

}  // namespace egress25::reflector
