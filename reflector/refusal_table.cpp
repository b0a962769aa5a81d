// Connections the reflector refused for its own limits: counted by source address and
// local port for a REPORT, and told in the log at a bounded rate.
#include "refusal_table.hpp"

#include <algorithm>
#include <set>

namespace egress25::reflector {

std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n);
  for (auto at = digits.size(); at > 3; at -= 3) digits.insert(at - 3, ",");
  return digits;
}

bool RefusalTable::expired(const Entry& e, std::int64_t now_ms) const {
  return e.info.last_unix_ms + limits_.lifetime_ms <= now_ms;
}

void RefusalTable::expire(std::int64_t now_ms) {
  // Each refusal moves its entry to the back, so the front was refused longest ago.
  while (!order_.empty() && expired(order_.front(), now_ms)) {
    const auto& e = order_.front().info;
    index_.erase(Key{e.peer_address, e.local_port});
    order_.pop_front();
  }
}

RefusalTable::Entry& RefusalTable::touch(const Key& key, Family family, std::int64_t now_ms) {
  if (auto it = index_.find(key); it != index_.end()) {
    order_.splice(order_.end(), order_, it->second);
    return order_.back();
  }
  if (order_.size() >= std::max<std::size_t>(1, limits_.max_entries)) {
    const auto& e = order_.front().info;
    index_.erase(Key{e.peer_address, e.local_port});
    order_.pop_front();
    ++forgotten_;
  }
  Entry e;
  e.info.peer_address = key.first;
  e.info.local_port = key.second;
  e.info.family = family;
  e.info.first_unix_ms = now_ms;
  order_.push_back(std::move(e));
  index_.emplace(key, std::prev(order_.end()));
  return order_.back();
}

std::vector<RefusalTable::Order::iterator> RefusalTable::of_source(const std::string& address) {
  std::vector<Order::iterator> out;
  for (auto it = index_.lower_bound(Key{address, 0});
       it != index_.end() && it->first.first == address; ++it)
    out.push_back(it->second);
  return out;
}

bool RefusalTable::line_due(const std::string& address, std::int64_t now_ms) {
  std::int64_t logged_ms = -1;
  for (auto it : of_source(address)) logged_ms = std::max(logged_ms, it->logged_ms);
  return logged_ms < 0 || now_ms - logged_ms >= limits_.log_interval_ms;
}

std::string RefusalTable::log_line(const std::string& address, std::int64_t now_ms) {
  std::uint64_t total = 0;
  std::int64_t since_ms = now_ms;
  std::int64_t latest_ms = -1;
  std::string reason;
  std::vector<std::uint16_t> ports;
  for (auto it : of_source(address)) {
    Entry& e = *it;
    e.logged_ms = now_ms;
    if (e.unlogged == 0) continue;
    total += e.unlogged;
    since_ms = std::min(since_ms, e.unlogged_since_ms);
    ports.push_back(e.info.local_port);
    if (e.info.last_unix_ms > latest_ms) {
      latest_ms = e.info.last_unix_ms;
      reason = e.info.reason;
    }
    e.unlogged = 0;
  }
  std::string port_list;
  for (auto p : ports) port_list += (port_list.empty() ? "" : ", ") + std::to_string(p);
  const auto plural = ports.size() == 1 ? " to port " : " to ports ";
  if (total == 1)
    return "refused a connection from " + address + plural + port_list + ": " + reason;
  const auto seconds = std::max<std::int64_t>(1, (now_ms - since_ms + 999) / 1000);
  return "refused " + grouped(total) + " connections from " + address + plural + port_list +
         " in the last " + std::to_string(seconds) + " s: " + reason;
}

std::optional<std::string> RefusalTable::note(const std::string& peer_address, Family family,
                                              std::uint16_t local_port, const std::string& reason,
                                              std::int64_t now_ms) {
  expire(now_ms);
  Entry& e = touch(Key{peer_address, local_port}, family, now_ms);
  ++e.info.count;
  e.info.last_unix_ms = now_ms;
  e.info.reason = reason;
  if (e.unlogged++ == 0) e.unlogged_since_ms = now_ms;
  if (!line_due(peer_address, now_ms)) return std::nullopt;
  return log_line(peer_address, now_ms);
}

std::vector<std::string> RefusalTable::flush(std::int64_t now_ms) {
  expire(now_ms);
  std::set<std::string> waiting;  // sources with refusals not yet told
  for (const auto& e : order_)
    if (e.unlogged > 0) waiting.insert(e.info.peer_address);
  std::vector<std::string> lines;
  for (const auto& address : waiting)
    if (line_due(address, now_ms)) lines.push_back(log_line(address, now_ms));
  if (forgotten_ > 0) {
    lines.push_back("the table of refused connections is full (" + grouped(limits_.max_entries) +
                    " sources and ports): forgot the " + grouped(forgotten_) +
                    " refused longest ago");
    forgotten_ = 0;
  }
  return lines;
}

std::vector<control::RefusedConnection> RefusalTable::from(
    const std::vector<std::string>& addresses, std::int64_t since_ms, std::int64_t now_ms,
    std::size_t max) const {
  const std::set<std::string> wanted(addresses.begin(), addresses.end());
  std::vector<control::RefusedConnection> out;
  for (const auto& e : order_) {
    if (expired(e, now_ms) || e.info.last_unix_ms < since_ms) continue;
    if (wanted.contains(e.info.peer_address)) out.push_back(e.info);
  }
  if (out.size() > max) out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(max));
  return out;
}

}  // namespace egress25::reflector
