// The load generator's reply reader: splits received bytes into lines and says when a
// whole SMTP reply (RFC 5321 4.2.1: "250-" lines, then "250 ") has arrived. Pure.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace egress25::bench {

class ReplyReader {
 public:
  // A reply longer than this ends the session: a server that never finishes its reply
  // must not grow the buffer without bound.
  static constexpr std::size_t max_reply = 64 * 1024;

  enum class Status { need_more, complete, malformed };

  // Appends received bytes and looks for the end of the reply.
  Status feed(std::string_view bytes) {
    buffer_.append(bytes);
    for (;;) {
      const auto eol = buffer_.find('\n', scanned_);
      if (eol == std::string::npos) break;
      std::string_view line(buffer_.data() + scanned_, eol - scanned_);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      scanned_ = eol + 1;
      if (line.size() < 3 || !digit(line[0]) || !digit(line[1]) || !digit(line[2]) ||
          (line.size() > 3 && line[3] != ' ' && line[3] != '-'))
        return Status::malformed;
      if (line.size() == 3 || line[3] == ' ') {
        code_ = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        // A server does not talk ahead of the client; whatever follows is not ours.
        buffer_.clear();
        scanned_ = 0;
        return Status::complete;
      }
    }
    return buffer_.size() > max_reply ? Status::malformed : Status::need_more;
  }

  // The completed reply's code.
  int code() const { return code_; }

 private:
  static bool digit(char c) { return c >= '0' && c <= '9'; }

  std::string buffer_;
  std::size_t scanned_ = 0;
  int code_ = 0;
};

}  // namespace egress25::bench
