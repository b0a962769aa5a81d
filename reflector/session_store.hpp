// The observation store: control sessions, the connections tagged for each, and a
// bounded ring of recent connections that carried no known tag.
//
// Used from the io_context's single thread only, so it takes no locks.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "control_protocol.hpp"
#include "evidence.hpp"
#include "limits.hpp"

namespace egress25::reflector {

struct Session {
  std::string token;     // secret, REPORT only
  std::string probe_id;  // public, carried in probe tags
  std::int64_t started_unix_ms = 0;
  std::int64_t expires_unix_ms = 0;
  std::optional<std::string> public_ipv4;
  std::optional<std::string> public_ipv6;
  // Live records: a connection still open keeps writing into its record, so a REPORT
  // sees every byte already exchanged.
  std::vector<std::shared_ptr<const ConnectionRecord>> connections;
  std::size_t connections_dropped = 0;  // over limits::max_connections_per_session
};

class SessionStore {
 public:
  struct Limits {
    std::size_t max_sessions = limits::max_sessions;
    std::int64_t lifetime_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(limits::session_lifetime).count();
    std::size_t max_connections_per_session = limits::max_connections_per_session;
    std::size_t max_untagged = limits::max_untagged_connections;
  };
  SessionStore() = default;
  explicit SessionStore(Limits limits) : limits_(limits) {}

  // A new session for a client seen at `address`; nullptr when the table is full of
  // live sessions.
  const Session* create(const std::string& address, Family family, std::int64_t now_ms);
  // The live session holding `token`, after recording `address` as its public address
  // for `family`. nullptr when the token is unknown or expired.
  const Session* join(const std::string& token, const std::string& address, Family family,
                      std::int64_t now_ms);
  const Session* find_by_token(const std::string& token, std::int64_t now_ms);
  bool is_live_probe_id(const std::string& probe_id, std::int64_t now_ms);

  // Adds a connection's metadata to the recent ring when it starts; returns its ring id.
  std::uint64_t note_connection(const ConnectionRecord& record);
  // Attaches a connection whose tag names a live session. False when no such session,
  // or the session holds as many connections as it may.
  bool attach(const std::string& probe_id, std::uint64_t ring_id,
              const std::shared_ptr<const ConnectionRecord>& record, std::int64_t now_ms);

  // Metadata of connections that carried no known tag, from one of the session's
  // public addresses, started at or after the session did.
  std::vector<control::UntaggedConnection> untagged_for(const Session& session) const;

  std::size_t size() const { return sessions_.size(); }

 private:
  void expire(std::int64_t now_ms);
  Session* live(const std::string& token, std::int64_t now_ms);

  // Metadata only: the ring outlives connections, and keeping their bytes would cost
  // limits::max_untagged_connections whole transcripts.
  struct RingEntry {
    control::UntaggedConnection meta;
    bool tagged = false;
  };

  Limits limits_;
  std::unordered_map<std::string, Session> sessions_;           // by token
  std::unordered_map<std::string, std::string> by_probe_id_;    // probe_id → token
  std::deque<std::pair<std::int64_t, std::string>> by_expiry_;  // creation order = expiry order
  std::deque<RingEntry> ring_;
  std::uint64_t ring_base_ = 0;  // id of ring_.front()
};

// `bits` random bits from the OpenSSL CSPRNG as lower-case hex. Throws on RNG failure.
std::string random_hex(std::size_t bits);

}  // namespace egress25::reflector
