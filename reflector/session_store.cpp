// The observation store: control sessions, the connections tagged for each, a bounded
// ring of recent connections that carried no known tag, and the connections the
// reflector refused for its own limits.
#include "session_store.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <boost/asio/ip/address_v6.hpp>
#include <stdexcept>

namespace egress25::reflector {

std::string random_hex(std::size_t bits) {
  std::vector<unsigned char> bytes((bits + 7) / 8);
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
    throw std::runtime_error("the OpenSSL random generator failed");
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (auto b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 0x0f]);
  }
  return out;
}

std::string session_source(const std::string& address, Family family) {
  if (family != Family::ipv6) return address;
  boost::system::error_code ec;
  auto bytes = boost::asio::ip::make_address_v6(address, ec).to_bytes();
  if (ec) return address;
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

void SessionStore::expire(std::int64_t now_ms) {
  while (!by_expiry_.empty() && by_expiry_.front().first <= now_ms) {
    auto it = sessions_.find(by_expiry_.front().second);
    if (it != sessions_.end()) {
      by_probe_id_.erase(it->second.probe_id);
      if (auto n = per_source_.find(it->second.source); n != per_source_.end() && --n->second == 0)
        per_source_.erase(n);
      sessions_.erase(it);
    }
    by_expiry_.pop_front();
  }
}

Session* SessionStore::live(const std::string& token, std::int64_t now_ms) {
  expire(now_ms);
  auto it = sessions_.find(token);
  return it == sessions_.end() ? nullptr : &it->second;
}

const Session* SessionStore::create(const std::string& address, Family family, std::int64_t now_ms,
                                    CreateRefusal* why) {
  expire(now_ms);
  // Every session lives as long as every other, so the oldest expires first: a full
  // table after expiry is full of live sessions, and a new client waits (busy) rather
  // than evicting someone mid-check.
  if (sessions_.size() >= limits_.max_sessions) {
    if (why) *why = CreateRefusal::table_full;
    return nullptr;
  }
  auto source = session_source(address, family);
  auto& from_source = per_source_[source];
  if (from_source >= limits_.max_sessions_per_source) {
    if (why) *why = CreateRefusal::source_full;
    return nullptr;
  }
  ++from_source;
  if (why) *why = CreateRefusal::none;
  Session s;
  s.source = std::move(source);
  s.token = random_hex(128);
  s.probe_id = random_hex(96);
  s.started_unix_ms = now_ms;
  s.expires_unix_ms = now_ms + limits_.lifetime_ms;
  (family == Family::ipv4 ? s.public_ipv4 : s.public_ipv6) = address;
  by_probe_id_[s.probe_id] = s.token;
  by_expiry_.emplace_back(s.expires_unix_ms, s.token);
  auto [it, inserted] = sessions_.emplace(s.token, std::move(s));
  return &it->second;
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

std::vector<control::UntaggedConnection> SessionStore::untagged_for(const Session& s) const {
  const auto addresses = public_addresses(s);
  std::vector<control::UntaggedConnection> out;
  for (const auto& entry : ring_) {
    const control::UntaggedConnection& r = entry.meta;
    if (entry.tagged || r.started_unix_ms < s.started_unix_ms) continue;
    if (std::find(addresses.begin(), addresses.end(), r.peer_address) == addresses.end()) continue;
    out.push_back(r);
  }
  return out;
}

std::vector<control::RefusedConnection> SessionStore::refused_for(const Session& s,
                                                                  std::int64_t now_ms) const {
  return refusals_.from(public_addresses(s), s.started_unix_ms, now_ms,
                        limits::max_refused_per_report);
}

}  // namespace egress25::reflector
