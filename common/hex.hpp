// Lower-case hex: the one encoder of fingerprints, tokens and \xNN escapes.
// Boost.Algorithm's hex_lower does the work (a library rather than a digit table).
#pragma once

#include <boost/algorithm/hex.hpp>
#include <cstddef>
#include <iterator>
#include <string>

namespace egress25 {

// "00ff..." for `size` bytes.
inline std::string to_hex(const unsigned char* data, std::size_t size) {
  std::string out;
  out.reserve(size * 2);
  boost::algorithm::hex_lower(data, data + size, std::back_inserter(out));
  return out;
}

// Appends "\xNN" for one byte that is not shown as it is.
inline void append_hex_escape(std::string& out, unsigned char byte) {
  out += "\\x";
  boost::algorithm::hex_lower(&byte, &byte + 1, std::back_inserter(out));
}

}  // namespace egress25
