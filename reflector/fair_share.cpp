// Fair share under pressure: counts and rates per source address and network prefix,
// and which connection makes room when a cap is reached.
#include "fair_share.hpp"

#include <algorithm>
#include <chrono>

namespace egress25::reflector {

namespace ip = boost::asio::ip;

std::int64_t steady_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// ---- keys -------------------------------------------------------------------------------

namespace {

// Keeps the first `bits` bits of `bytes`, zeroing the rest.
template <typename Bytes>
void mask(Bytes& bytes, int bits) {
  bits = std::clamp(bits, 0, static_cast<int>(bytes.size() * 8));
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const int keep = std::clamp(bits - static_cast<int>(i * 8), 0, 8);
    bytes[i] &= static_cast<unsigned char>(0xff00u >> keep);
  }
}

}  // namespace

SourceKeys source_keys(const ip::address& peer, const PrefixLengths& lengths) {
  ip::address a = peer;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  SourceKeys keys;
  keys.address = a.to_string();
  if (a.is_v4()) {
    auto bytes = a.to_v4().to_bytes();
    mask(bytes, lengths.ipv4);
    keys.prefix = ip::address_v4(bytes).to_string() + "/" + std::to_string(lengths.ipv4);
  } else {
    auto bytes = a.to_v6().to_bytes();
    mask(bytes, lengths.ipv6);
    keys.prefix = ip::address_v6(bytes).to_string() + "/" + std::to_string(lengths.ipv6);
  }
  return keys;
}

SourceKeys source_keys(const std::string& address, const PrefixLengths& lengths) {
  boost::system::error_code ec;
  const auto a = ip::make_address(address, ec);
  if (ec) return SourceKeys{address, address};
  return source_keys(a, lengths);
}

// ---- RateTable ----------------------------------------------------------------------------

RateTable::RateTable(double per_minute, std::size_t max_keys)
    : per_minute_(std::max(0.0, per_minute)), max_keys_(std::max<std::size_t>(1, max_keys)) {}

void RateTable::set_rate(double per_minute) {
  per_minute_ = std::max(0.0, per_minute);
}

double RateTable::refilled(const Bucket& b, std::int64_t now_ms) const {
  const auto elapsed = static_cast<double>(std::max<std::int64_t>(0, now_ms - b.updated_ms));
  return std::min(per_minute_, b.tokens + elapsed * per_minute_ / 60000.0);
}

bool RateTable::take(const std::string& key, std::int64_t now_ms) {
  if (per_minute_ <= 0) return true;
  // The key used longest ago: forgotten once full again, so quiet keys cost nothing.
  if (!lru_.empty() && refilled(lru_.front(), now_ms) >= per_minute_) {
    index_.erase(lru_.front().key);
    lru_.pop_front();
  }
  auto it = index_.find(key);
  if (it == index_.end()) {
    if (lru_.size() >= max_keys_) {
      index_.erase(lru_.front().key);
      lru_.pop_front();
    }
    lru_.push_back(Bucket{key, per_minute_, now_ms});
    it = index_.emplace(key, std::prev(lru_.end())).first;
  } else {
    lru_.splice(lru_.end(), lru_, it->second);
  }
  Bucket& b = *it->second;
  b.tokens = refilled(b, now_ms);
  b.updated_ms = std::max(b.updated_ms, now_ms);
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

// ---- ConnectionTable ------------------------------------------------------------------------

struct ConnectionTable::Entry {
  SourceKeys keys;
  std::int64_t opened_ms = 0;
  std::int64_t active_ms = 0;
  bool useful = false;
  bool released = false;  // no longer counted: closed by the table, or gone
  std::optional<CloseReason> closing;
  std::function<void(CloseReason)> close;
};

struct ConnectionTable::State {
  explicit State(const ConnectionLimits& l)
      : limits(l), address_rate(l.rate_per_address), prefix_rate(l.rate_per_prefix) {}

  void release(Entry& e) {
    if (e.released) return;
    e.released = true;
    --total;
    for (auto [map, key] :
         {std::pair{&per_address, &e.keys.address}, std::pair{&per_prefix, &e.keys.prefix}}) {
      auto it = map->find(*key);
      if (it != map->end() && --it->second == 0) map->erase(it);
    }
  }
  std::size_t count(const std::unordered_map<std::string, std::size_t>& map,
                    const std::string& key) const {
    auto it = map.find(key);
    return it == map.end() ? 0 : it->second;
  }

  ConnectionLimits limits;
  std::list<Entry> entries;  // in the order they opened
  std::size_t total = 0;
  std::unordered_map<std::string, std::size_t> per_address;
  std::unordered_map<std::string, std::size_t> per_prefix;
  RateTable address_rate;
  RateTable prefix_rate;
};

ConnectionTable::ConnectionTable(ConnectionLimits limits)
    : state_(std::make_shared<State>(limits)) {}

ConnectionTable::Slot::Slot(std::shared_ptr<State> state, std::list<Entry>::iterator entry)
    : state_(std::move(state)), entry_(entry) {}

ConnectionTable::Slot::Slot(Slot&& other) noexcept
    : state_(std::move(other.state_)), entry_(other.entry_) {}

ConnectionTable::Slot& ConnectionTable::Slot::operator=(Slot&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    entry_ = other.entry_;
  }
  return *this;
}

ConnectionTable::Slot::~Slot() {
  release();
}

void ConnectionTable::Slot::release() {
  if (!state_) return;  // moved from
  state_->release(*entry_);
  state_->entries.erase(entry_);
  state_.reset();
}

void ConnectionTable::Slot::note_active(std::int64_t now_ms) {
  if (state_) entry_->active_ms = std::max(entry_->active_ms, now_ms);
}

void ConnectionTable::Slot::note_useful() {
  if (state_) entry_->useful = true;
}

void ConnectionTable::Slot::on_close(std::function<void(CloseReason)> close) {
  if (!state_) return;
  if (entry_->closing) {
    close(*entry_->closing);
    return;
  }
  entry_->close = std::move(close);
}

std::optional<CloseReason> ConnectionTable::Slot::closing() const {
  if (!state_) return std::nullopt;
  return entry_->closing;
}

void ConnectionTable::close(State& state, Entry& entry, CloseReason why) {
  if (entry.closing) return;
  state.release(entry);
  entry.closing = why;
  if (auto f = std::move(entry.close)) {
    entry.close = nullptr;
    f(why);
  }
}

std::list<ConnectionTable::Entry>::iterator ConnectionTable::victim(const std::string* address,
                                                                    const std::string* prefix,
                                                                    const std::string* newcomer,
                                                                    std::int64_t now_ms) {
  State& s = *state_;
  auto best = s.entries.end();
  bool best_idle = false;
  std::size_t best_load = 0;
  const std::size_t newcomer_load = newcomer ? s.count(s.per_prefix, *newcomer) : 0;
  for (auto it = s.entries.begin(); it != s.entries.end(); ++it) {
    const Entry& e = *it;
    if (e.released || e.useful) continue;
    if (address && e.keys.address != *address) continue;
    if (prefix && e.keys.prefix != *prefix) continue;
    const bool idle = now_ms - e.active_ms >= s.limits.shed_idle_after_ms;
    if (!newcomer) {
      if (idle) return it;  // the oldest: entries are in the order they opened
      continue;
    }
    // A busy connection gives way only to a newcomer whose network holds fewer, by more
    // than this one: the swap leaves no network with more than it took from.
    const std::size_t load = s.count(s.per_prefix, e.keys.prefix);
    if (!idle && load <= newcomer_load + 1) continue;
    // Idle before busy, then the prefix holding most, then the oldest (ties keep it).
    if (best == s.entries.end() || (idle && !best_idle) ||
        (idle == best_idle && load > best_load)) {
      best = it;
      best_idle = idle;
      best_load = load;
    }
  }
  return best;
}

ConnectionTable::Admission ConnectionTable::admit(const ip::address& peer, std::int64_t now_ms) {
  State& s = *state_;
  const ConnectionLimits& l = s.limits;
  Admission out;
  auto keys = source_keys(peer, l.prefixes);
  auto rate_text = [](double per_minute) {
    return std::to_string(static_cast<long long>(per_minute)) + " a minute";
  };
  if (!s.address_rate.take(keys.address, now_ms)) {
    out.why = "too many new connections from " + keys.address + " (" +
              rate_text(l.rate_per_address) + ")";
    return out;
  }
  if (!s.prefix_rate.take(keys.prefix, now_ms)) {
    out.why =
        "too many new connections from " + keys.prefix + " (" + rate_text(l.rate_per_prefix) + ")";
    return out;
  }
  // At a cap, one connection may make room; past it (limits lowered by a reload), none.
  auto full = [&](std::size_t count, std::size_t cap, const std::string* address,
                  const std::string* prefix, const std::string* newcomer) {
    if (count < cap) return false;
    if (count > cap) return true;
    auto v = victim(address, prefix, newcomer, now_ms);
    if (v == s.entries.end()) return true;
    close(s, *v, CloseReason::shed);
    ++out.shed;
    return false;
  };
  if (full(s.count(s.per_address, keys.address), l.max_per_address, &keys.address, nullptr,
           nullptr)) {
    out.why = "too many connections from " + keys.address + " (" +
              std::to_string(l.max_per_address) + ")";
    return out;
  }
  if (full(s.count(s.per_prefix, keys.prefix), l.max_per_prefix, nullptr, &keys.prefix, nullptr)) {
    out.why =
        "too many connections from " + keys.prefix + " (" + std::to_string(l.max_per_prefix) + ")";
    return out;
  }
  if (full(s.total, l.max_total, nullptr, nullptr, &keys.prefix)) {
    out.why = "too many connections in all (" + std::to_string(l.max_total) + ")";
    return out;
  }
  ++s.per_address[keys.address];
  ++s.per_prefix[keys.prefix];
  ++s.total;
  s.entries.push_back(Entry{std::move(keys), now_ms, now_ms, false, false, std::nullopt, {}});
  out.slot.emplace(Slot(state_, std::prev(s.entries.end())));
  return out;
}

std::size_t ConnectionTable::sweep(std::int64_t now_ms) {
  if (!stressed()) return 0;
  State& s = *state_;
  std::size_t closed = 0;
  for (auto& e : s.entries) {
    if (e.released) continue;
    if ((!e.useful && now_ms - e.opened_ms >= s.limits.stress_untagged_ms) ||
        now_ms - e.active_ms >= s.limits.stress_idle_ms) {
      close(s, e, CloseReason::stress);
      ++closed;
    }
  }
  return closed;
}

std::size_t ConnectionTable::close_all(CloseReason why) {
  std::size_t closed = 0;
  for (auto& e : state_->entries) {
    if (e.closing) continue;
    close(*state_, e, why);
    ++closed;
  }
  return closed;
}

std::size_t ConnectionTable::size() const {
  return state_->total;
}

std::size_t ConnectionTable::slots() const {
  return state_->entries.size();
}

bool ConnectionTable::stressed() const {
  const auto& l = state_->limits;
  return l.max_total > 0 &&
         static_cast<double>(state_->total) >= l.stress_fraction * static_cast<double>(l.max_total);
}

const ConnectionLimits& ConnectionTable::limits() const {
  return state_->limits;
}

void ConnectionTable::set_limits(const ConnectionLimits& limits) {
  state_->limits = limits;
  state_->address_rate.set_rate(limits.rate_per_address);
  state_->prefix_rate.set_rate(limits.rate_per_prefix);
}

}  // namespace egress25::reflector
