// Connections the reflector refused for its own limits: counted by source address and
// local port for a REPORT, and told in the log at a bounded rate.
//
// No I/O and no clock: the caller passes the time. Used from the io_context's single
// thread only, so it takes no locks.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "control_protocol.hpp"
#include "limits.hpp"

namespace egress25::reflector {

class RefusalTable {
 public:
  struct Limits {
    std::size_t max_entries = limits::max_refusal_entries;
    std::int64_t lifetime_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(limits::session_lifetime).count();
    std::int64_t log_interval_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(limits::refusal_log_interval).count();
  };
  RefusalTable() = default;
  explicit RefusalTable(Limits limits) : limits_(limits) {}

  // Records one refused connection from `peer_address` (unmapped, as the session store
  // spells it) to `local_port`, for `reason` (one sentence). Returns the log line due
  // now: the first refusal of a source that was quiet for a log interval, or, once the
  // interval has passed, every refusal of that source since its last line, with a
  // count. nullopt while the source's line waits (flush() writes it later).
  std::optional<std::string> note(const std::string& peer_address, Family family,
                                  std::uint16_t local_port, const std::string& reason,
                                  std::int64_t now_ms);
  // Lines for sources whose refusals have waited a log interval unlogged, and one for
  // entries the full table forgot meanwhile. Call it once per interval.
  std::vector<std::string> flush(std::int64_t now_ms);

  // Refusals from any of `addresses` (compared as spelled, like the untagged ring), last
  // refused at or after `since_ms` and not expired at `now_ms`: the `max` most recent,
  // oldest first.
  std::vector<control::RefusedConnection> from(const std::vector<std::string>& addresses,
                                               std::int64_t since_ms, std::int64_t now_ms,
                                               std::size_t max) const;

  std::size_t size() const { return order_.size(); }

 private:
  using Key = std::pair<std::string, std::uint16_t>;  // source address, local port
  struct Entry {
    control::RefusedConnection info;
    std::uint64_t unlogged = 0;          // refusals not yet in a log line
    std::int64_t unlogged_since_ms = 0;  // the first of them
    std::int64_t logged_ms = -1;         // when the source's last line went out; -1: never
  };
  using Order = std::list<Entry>;

  bool expired(const Entry& e, std::int64_t now_ms) const;
  void expire(std::int64_t now_ms);
  Entry& touch(const Key& key, Family family, std::int64_t now_ms);
  // The entries of one source: the index is ordered by address, then port.
  std::vector<Order::iterator> of_source(const std::string& address);
  // True when `address` had no line for a log interval (or ever).
  bool line_due(const std::string& address, std::int64_t now_ms);
  // The line for every unlogged refusal of `address`, which then counts as logged.
  std::string log_line(const std::string& address, std::int64_t now_ms);

  Limits limits_;
  Order order_;  // least recently refused first
  std::map<Key, Order::iterator> index_;
  std::uint64_t forgotten_ = 0;  // entries evicted by a full table since the last flush
};

// "1234567" → "1,234,567": counts an operator reads at a glance.
std::string grouped(std::uint64_t n);

}  // namespace egress25::reflector
