// Fair share under pressure, after Postfix's anvil (counts and rates per client) and
// postscreen (who may stay when the server is full): live connections and new
// connections a minute, per source address and per network prefix, and which connection
// makes room when a cap is reached.
//
// No I/O and no clock: callers pass the time (steady milliseconds). Used from the
// io_context's single thread only, so it takes no locks.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "limits.hpp"

namespace egress25::reflector {

// The network a source counts in besides its own address.
struct PrefixLengths {
  int ipv4 = limits::default_ipv4_prefix;
  int ipv6 = limits::default_ipv6_prefix;
};

// Where a peer counts.
struct SourceKeys {
  std::string address;  // "192.0.2.7", "2001:db8::7"; an IPv4-mapped address as IPv4
  std::string prefix;   // "192.0.2.0/24", "2001:db8::/64"
};
SourceKeys source_keys(const boost::asio::ip::address& peer, const PrefixLengths& lengths);
// The same from an address as the stores spell it; a text that is no address counts as
// itself in both.
SourceKeys source_keys(const std::string& address, const PrefixLengths& lengths);

// Events per key and minute, as token buckets that hold a minute's worth: a burst of
// `per_minute` at once, then per_minute / 60 a second. A full bucket says nothing, so
// the least recently used key is forgotten once it is full again, and at once when
// max_keys are held: a flood of new keys costs bounded memory and at worst forgives a
// key that had been quiet longest.
class RateTable {
 public:
  RateTable(double per_minute, std::size_t max_keys = limits::max_rate_keys);

  // True, taking one token, when `key` may have one more event at `now_ms`. Always true
  // when the rate is 0 (no limit).
  bool take(const std::string& key, std::int64_t now_ms);
  void set_rate(double per_minute);
  double rate() const { return per_minute_; }
  std::size_t size() const { return lru_.size(); }

 private:
  struct Bucket {
    std::string key;
    double tokens = 0;
    std::int64_t updated_ms = 0;
  };
  using Lru = std::list<Bucket>;
  double refilled(const Bucket& b, std::int64_t now_ms) const;

  double per_minute_;
  std::size_t max_keys_;
  Lru lru_;  // least recently used first
  std::unordered_map<std::string, Lru::iterator> index_;
};

// Why the table asks a connection to close before its time.
enum class CloseReason {
  shed,      // it was doing nothing useful, and a newcomer needed its place
  stress,    // the table is near its cap and it outlived the stress timeouts
  shutdown,  // the reflector is stopping
};

struct ConnectionLimits {
  std::size_t max_total = limits::max_concurrent_connections;
  std::size_t max_per_address = limits::max_concurrent_per_address;
  std::size_t max_per_prefix = limits::max_concurrent_per_prefix;
  double rate_per_address = limits::connection_rate_per_address;  // a minute
  double rate_per_prefix = limits::connection_rate_per_prefix;
  std::int64_t shed_idle_after_ms = ms(limits::shed_idle_after);
  double stress_fraction = limits::stress_fraction;
  std::int64_t stress_untagged_ms = ms(limits::stress_untagged_lifetime);
  std::int64_t stress_idle_ms = ms(limits::stress_idle_timeout);
  PrefixLengths prefixes;

  static std::int64_t ms(std::chrono::milliseconds d) { return d.count(); }
};

// The connections of one kind of listener (the mail ports, or the control port): who
// holds how many, who may come in, and who makes room.
//
// A newcomer is refused when its address or prefix opens connections faster than its
// rate. At its address's or prefix's cap, the oldest of that address's (or prefix's)
// untagged connections that have been idle shed_idle_after makes room, else it is
// refused: the cap is the source's fair share, and its own idle connections are the ones
// to go. At the total cap, an untagged connection makes room if it is idle, or if its
// prefix holds more connections than the newcomer's by two or more (so attackers do not
// displace one another, only the share of a network above another's): idle ones first,
// then those of the prefix holding the most, then the oldest. A flood from many networks
// cannot keep a real client out. Tagged connections (a probe's, a control connection
// that made a request) are never shed. Near the cap (stress), sweep() closes untagged
// connections older than the stress lifetime and connections idle for the stress idle
// timeout, so that the shorter timeouts apply to connections already open too.
class ConnectionTable {
  struct State;
  struct Entry;

 public:
  explicit ConnectionTable(ConnectionLimits limits = {});

  // A connection's place in the table: released when destroyed (or when the table closes
  // it). Slots share the table's state, so one may outlive the table.
  class Slot {
   public:
    Slot(Slot&&) noexcept;
    Slot& operator=(Slot&&) noexcept;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot();

    // Bytes arrived: the connection is not idle.
    void note_active(std::int64_t now_ms);
    // It showed what it is for (a live session's tag, a control request): never shed.
    void note_useful();
    // How the table asks this connection to close: called at most once, after its place
    // is released. Called at once when the table asked before the connection registered.
    void on_close(std::function<void(CloseReason)> close);
    // The table has asked this connection to close, and why.
    std::optional<CloseReason> closing() const;

   private:
    friend class ConnectionTable;
    Slot(std::shared_ptr<State> state, std::list<Entry>::iterator entry);
    void release();
    std::shared_ptr<State> state_;
    std::list<Entry>::iterator entry_;
  };

  struct Admission {
    std::optional<Slot> slot;
    std::string why;       // when refused: the cap's sentence
    std::size_t shed = 0;  // connections closed to make room for this one
  };
  Admission admit(const boost::asio::ip::address& peer, std::int64_t now_ms);

  // In stress: closes connections past the stress lifetime and idle timeout. How many.
  std::size_t sweep(std::int64_t now_ms);
  // Asks every connection to close (shutdown). How many were asked.
  std::size_t close_all(CloseReason why);

  // Live connections (not yet closed by the table).
  std::size_t size() const;
  // Slots not yet destroyed: live connections, and those closed by the table whose
  // sessions are still winding down.
  std::size_t slots() const;
  // At or above stress_fraction of max_total.
  bool stressed() const;
  const ConnectionLimits& limits() const;
  // New limits apply to newcomers and the next sweep; nobody is closed for them.
  void set_limits(const ConnectionLimits& limits);

 private:
  // Closes `entry`'s connection for `why`, releasing its place first.
  static void close(State& state, Entry& entry, CloseReason why);
  // The connection to close for a newcomer: within `address` or `prefix`, the oldest
  // idle untagged one; at the total cap (`newcomer` is its prefix), see the class comment.
  std::list<Entry>::iterator victim(const std::string* address, const std::string* prefix,
                                    const std::string* newcomer, std::int64_t now_ms);

  std::shared_ptr<State> state_;
};

// Milliseconds of std::chrono::steady_clock, the clock the tables count in.
std::int64_t steady_ms_now();

}  // namespace egress25::reflector
