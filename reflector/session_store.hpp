// The observation store: control sessions, the connections tagged for each, a bounded
// ring of recent connections that carried no known tag, and the connections the
// reflector refused for its own limits.
//
// Used from the io_context's single thread only, so it takes no locks.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "control_protocol.hpp"
#include "evidence.hpp"
#include "fair_share.hpp"
#include "limits.hpp"
#include "refusal_table.hpp"

namespace egress25::reflector {

struct Session {
  std::string token;     // secret, REPORT only
  std::string probe_id;  // public, carried in probe tags
  std::int64_t started_unix_ms = 0;
  // Arrivals from its addresses count from here: its start, or its probes' first SYN
  // when they began before HELLO (set_probes_since).
  std::int64_t probes_since_unix_ms = 0;
  std::int64_t expires_unix_ms = 0;
  std::optional<std::string> public_ipv4;
  std::optional<std::string> public_ipv6;
  // Live records: a connection still open keeps writing into its record, so a REPORT
  // sees every byte already exchanged.
  std::vector<std::shared_ptr<const ConnectionRecord>> connections;
  std::size_t connections_dropped = 0;  // over limits::max_connections_per_session
  // Who opened it, for the caps per address and prefix; counted there until reported.
  SourceKeys source;
  bool counted = false;
  bool probed = false;    // a probe carrying its tag arrived: it lives session_lifetime
  bool reported = false;  // a REPORT was answered: it lingers, then goes
  // Ports the reflector connected back to (check --inbound), each once per family.
  std::set<std::pair<std::uint16_t, Family>> connected_back;
};

// Why create() gave no session.
enum class CreateRefusal {
  none,
  table_full,    // every session is under way (probed, not yet reported)
  address_full,  // the address holds max_sessions_per_address under way
  prefix_full,   // its prefix holds max_sessions_per_prefix under way
  address_rate,  // the address asked for sessions faster than hello_rate_per_address
  prefix_rate,   // its prefix asked faster than hello_rate_per_prefix
};

class SessionStore {
 public:
  struct Limits {
    std::size_t max_sessions = limits::max_sessions;
    std::int64_t lifetime_ms = ms(limits::session_lifetime);
    std::int64_t unprobed_lifetime_ms = ms(limits::unprobed_session_lifetime);
    std::int64_t reported_linger_ms = ms(limits::reported_session_linger);
    std::size_t max_connections_per_session = limits::max_connections_per_session;
    std::size_t max_untagged = limits::max_untagged_connections;
    std::size_t max_sessions_per_address = limits::max_sessions_per_address;
    std::size_t max_sessions_per_prefix = limits::max_sessions_per_prefix;
    double hello_rate_per_address = limits::hello_rate_per_address;  // a minute
    double hello_rate_per_prefix = limits::hello_rate_per_prefix;
    PrefixLengths prefixes = {};
    RefusalTable::Limits refusals = {};

    static std::int64_t ms(std::chrono::milliseconds d) { return d.count(); }
  };
  SessionStore() : SessionStore(Limits{}) {}
  explicit SessionStore(Limits limits);

  const Limits& limits() const { return limits_; }
  // New limits apply to new sessions; nobody loses a session for them. The refusal
  // table's limits stay as they were.
  void set_limits(const Limits& limits);

  // A new session for a client seen at `address`; nullptr (`why` says which) when its
  // address or prefix asks faster than its HELLO rate, or holds as many sessions under
  // way as it may, or the table is full. A full table first makes room: a session already
  // reported, else one no probe has reached, of the prefix holding the most, oldest first;
  // never a session under way (probed, not yet reported), so no one loses theirs mid-check.
  const Session* create(const std::string& address, Family family, std::int64_t now_ms,
                        CreateRefusal* why = nullptr);
  // The live session holding `token`, after recording `address` as its public address
  // for `family`. nullptr when the token is unknown or expired.
  const Session* join(const std::string& token, const std::string& address, Family family,
                      std::int64_t now_ms);
  const Session* find_by_token(const std::string& token, std::int64_t now_ms);
  // The session's probes began `ago_ms` before its HELLO arrived at `now_ms` (their
  // SYNs travel the path its HELLO took): its arrivals count from then, less
  // limits::early_probe_margin, and never from more than limits::witness_lookback before.
  void set_probes_since(const std::string& token, std::int64_t ago_ms, std::int64_t now_ms);
  // The ports the live session holding `token` had connected back, for the connect-back
  // rules to claim from (at most once per port and family). nullptr when the token is
  // unknown or expired.
  std::set<std::pair<std::uint16_t, Family>>* connect_back_claims(const std::string& token,
                                                                  std::int64_t now_ms);
  // A REPORT was answered for `token`: the session has served its client. It lingers
  // limits().reported_linger_ms (in case the answer was lost) and stops counting toward
  // its source's caps.
  void note_reported(const std::string& token, std::int64_t now_ms);
  bool is_live_probe_id(const std::string& probe_id, std::int64_t now_ms);

  // Adds a connection's metadata to the recent ring when it starts; returns its ring id.
  std::uint64_t note_connection(const ConnectionRecord& record);
  // How the connection `ring_id` ended, for its untagged metadata; nothing when the ring
  // has moved past it.
  void note_connection_end(std::uint64_t ring_id, const std::string& end_reason);
  // Attaches a connection whose tag names a live session. False when no such session,
  // or the session holds as many connections as it may.
  bool attach(const std::string& probe_id, std::uint64_t ring_id,
              const std::shared_ptr<const ConnectionRecord>& record, std::int64_t now_ms);

  // Metadata of connections that carried no known tag, from one of the session's
  // public addresses, started at or after the session did.
  std::vector<control::UntaggedConnection> untagged_for(const Session& session) const;

  // Connections the reflector refused for its own limits (the accept loop notes them).
  RefusalTable& refusals() { return refusals_; }
  // Refusals of one of the session's public addresses, last refused at or after the
  // session began: at most limits::max_refused_per_report, the most recent.
  std::vector<control::RefusedConnection> refused_for(const Session& session,
                                                      std::int64_t now_ms) const;

  // What naming a tag did to a connection (see saw_name).
  enum class NameOutcome {
    no_tag,      // not a tag, or the tag of no live session: nothing recorded
    attached,    // the first tag: the record now belongs to its session
    not_kept,    // the first tag, but its session holds as many records as it may
    seen_again,  // the connection's own tag again: `where` is added
    other_tag,   // a second, different tag: ignored (one connection, one probe)
  };
  // A name the client gave on a connection (EHLO/HELO argument, SNI), seen `where`
  // ("ehlo", "sni", "ehlo_after_starttls"). The first live tag becomes the record's
  // probe_tag and attaches it to that session; every place a tag is seen is listed
  // once in tag_seen_in. No I/O: the SMTP session calls it as names arrive.
  NameOutcome saw_name(std::string_view name, std::string_view where, std::uint64_t ring_id,
                       const std::shared_ptr<ConnectionRecord>& record, std::int64_t now_ms);

  std::size_t size() const { return sessions_.size(); }
  // Sessions not yet expired at `now_ms` (the expired ones are dropped first).
  std::size_t live(std::int64_t now_ms) {
    expire(now_ms);
    return sessions_.size();
  }

 private:
  void expire(std::int64_t now_ms);
  Session* live(const std::string& token, std::int64_t now_ms);
  void set_expiry(Session& s, std::int64_t expires_ms);
  void uncount(Session& s);
  void erase(std::unordered_map<std::string, Session>::iterator it);
  // Makes room in a full table (see create). False when every session is under way.
  bool evict_one();

  // Metadata only: the ring outlives connections, and keeping their bytes would cost
  // limits::max_untagged_connections whole transcripts.
  struct RingEntry {
    control::UntaggedConnection meta;
    bool tagged = false;
  };

  Limits limits_;
  std::unordered_map<std::string, Session> sessions_;         // by token
  std::unordered_map<std::string, std::string> by_probe_id_;  // probe_id → token
  std::set<std::pair<std::int64_t, std::string>> by_expiry_;  // (expires, token)
  std::deque<RingEntry> ring_;
  std::uint64_t ring_base_ = 0;  // id of ring_.front()
  // Sessions under way (created, not reported) by address and by prefix.
  std::unordered_map<std::string, std::size_t> per_address_;
  std::unordered_map<std::string, std::size_t> per_prefix_;
  RateTable address_hellos_;
  RateTable prefix_hellos_;
  RefusalTable refusals_;
};

// `bits` random bits from the OpenSSL CSPRNG as lower-case hex. Throws on RNG failure.
std::string random_hex(std::size_t bits);

}  // namespace egress25::reflector
