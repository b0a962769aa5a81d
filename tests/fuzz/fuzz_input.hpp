// Shared by the fuzz harnesses: the input as a stream of chunks, so that every harness
// also exercises data arriving in pieces, split anywhere (as TCP delivers it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace egress25::fuzz {

// The first byte chooses the chunk sizes; the rest is the data, cut into chunks of
// 1 to 64 bytes whose sizes cycle through that byte's bits.
class Chunks {
 public:
  Chunks(const std::uint8_t* data, std::size_t size)
      : seed_(size > 0 ? data[0] : 0),
        rest_(reinterpret_cast<const char*>(data) + (size > 0 ? 1 : 0), size > 0 ? size - 1 : 0) {}

  bool done() const { return rest_.empty(); }
  std::string_view next() {
    const unsigned turn = turn_++;
    const std::size_t n = 1 + ((seed_ >> (turn % 8)) * 7u + turn) % 64;
    const auto chunk = rest_.substr(0, n);
    rest_.remove_prefix(chunk.size());
    return chunk;
  }
  std::string_view all() const { return rest_; }

 private:
  std::uint8_t seed_;
  std::string_view rest_;
  unsigned turn_ = 0;
};

}  // namespace egress25::fuzz
