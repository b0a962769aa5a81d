// Sans-io SMTP reply parser (RFC 5321 4.2): "250-..." continuation lines, "250 ..." last.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "limits.hpp"

namespace egress25::smtp {

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // the text after "NNN-" / "NNN " on each line
  std::string raw;                 // the exact bytes, CRLFs included
};

// Feed bytes as they arrive; take whole replies. Lines may end in CRLF or a bare LF
// (lenient, as real clients are). A line longer than max_line, more than max_lines
// lines, a non-digit code or codes that change mid-reply are errors, and the parser
// stays failed: the caller closes the connection.
class ReplyParser {
 public:
  explicit ReplyParser(std::size_t max_line = limits::max_smtp_line,
                       std::size_t max_lines = limits::max_reply_lines)
      : max_line_(max_line), max_lines_(max_lines) {}

  enum class Status { need_more, reply, error };
  struct Result {
    Status status = Status::need_more;
    Reply reply;
    std::string error;
  };

  void feed(std::string_view bytes);
  Result next();
  // Bytes received but not yet part of a whole reply.
  std::size_t buffered() const { return buffer_.size(); }

 private:
  Result fail(std::string why);

  std::size_t max_line_;
  std::size_t max_lines_;
  std::string buffer_;
  bool failed_ = false;
  std::string error_;       // why it failed, repeated by every later next()
  Reply partial_;           // the lines of the reply being assembled
  std::size_t parsed_ = 0;  // bytes of buffer_ already taken into partial_
};

// Server side: split a byte stream into command lines, capped.
class LineReader {
 public:
  explicit LineReader(std::size_t max_line = limits::max_smtp_line) : max_line_(max_line) {}

  enum class Status { need_more, line, too_long };
  struct Result {
    Status status = Status::need_more;
    std::string line;  // without CRLF / LF
  };

  void feed(std::string_view bytes);
  Result next();
  // RFC 3207 5: after STARTTLS the server must discard any plaintext that followed the
  // command (command injection). Returns how many bytes were dropped.
  std::size_t discard_buffered();
  std::size_t buffered() const { return buffer_.size(); }

 private:
  std::size_t max_line_;
  std::string buffer_;
  bool discarding_ = false;  // inside an over-long line: drop until its end
};

// EHLO keywords of a 250 reply (first line is the greeting, the rest keywords),
// upper-cased, e.g. {"PIPELINING", "STARTTLS", "SIZE"}.
std::vector<std::string> ehlo_keywords(const Reply& r);

}  // namespace egress25::smtp
