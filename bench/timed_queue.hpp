// The delay link's queue: packets released a fixed delay after they arrived, in order,
// bounded in packets and bytes (drop-tail, counted). Pure: no clock, no I/O.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

namespace egress25::bench {

class TimedQueue {
 public:
  using clock = std::chrono::steady_clock;

  struct Limits {
    std::size_t max_packets;
    std::size_t max_bytes;
  };

  struct Counters {
    std::uint64_t forwarded_packets = 0;
    std::uint64_t forwarded_bytes = 0;
    // Arrived while the queue was full (drop-tail).
    std::uint64_t dropped_packets = 0;
    std::uint64_t dropped_bytes = 0;
  };

  TimedQueue(clock::duration delay, Limits limits) : delay_(delay), limits_(limits) {}

  // Takes a packet that arrived at `now`, due at now + delay. A packet that would take
  // the queue past either bound is dropped and counted: false.
  bool push(std::span<const std::uint8_t> packet, clock::time_point now) {
    if (packets_.size() + 1 > limits_.max_packets || bytes_ + packet.size() > limits_.max_bytes) {
      ++counters_.dropped_packets;
      counters_.dropped_bytes += packet.size();
      return false;
    }
    packets_.push_back({now + delay_, {packet.begin(), packet.end()}});
    bytes_ += packet.size();
    return true;
  }

  // When the oldest packet is due; nothing when the queue is empty. The delay is the
  // same for every packet, so the oldest is always the first due.
  std::optional<clock::time_point> next_release() const {
    if (packets_.empty()) return std::nullopt;
    return packets_.front().release;
  }

  // The oldest packet when it is due at `now`, counted as forwarded.
  std::optional<std::vector<std::uint8_t>> pop_due(clock::time_point now) {
    if (packets_.empty() || packets_.front().release > now) return std::nullopt;
    auto data = std::move(packets_.front().data);
    packets_.pop_front();
    bytes_ -= data.size();
    ++counters_.forwarded_packets;
    counters_.forwarded_bytes += data.size();
    return data;
  }

  bool empty() const { return packets_.empty(); }
  std::size_t packets() const { return packets_.size(); }
  std::size_t bytes() const { return bytes_; }
  const Counters& counters() const { return counters_; }

 private:
  struct Entry {
    clock::time_point release;
    std::vector<std::uint8_t> data;
  };

  clock::duration delay_;
  Limits limits_;
  std::deque<Entry> packets_;
  std::size_t bytes_ = 0;
  Counters counters_;
};

}  // namespace egress25::bench
