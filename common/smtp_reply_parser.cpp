// Sans-io SMTP reply parser, capped command-line reader, and EHLO keyword extraction.
#include "smtp_reply_parser.hpp"

#include <algorithm>
#include <cctype>

namespace egress25::smtp {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// A line held in a buffer without its newline is over the cap once it has more than
// max_line bytes, not counting one trailing CR that may be the start of its CRLF.
bool unterminated_too_long(std::string_view tail, std::size_t max_line) {
  if (tail.size() <= max_line) return false;
  return !(tail.size() == max_line + 1 && tail.back() == '\r');
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

// ---- ReplyParser ----------------------------------------------------------------------

void ReplyParser::feed(std::string_view bytes) {
  if (!failed_) buffer_.append(bytes);
}

ReplyParser::Result ReplyParser::fail(std::string why) {
  failed_ = true;
  error_ = std::move(why);
  return {Status::error, {}, error_};
}

ReplyParser::Result ReplyParser::next() {
  if (failed_) return {Status::error, {}, error_};
  for (;;) {
    const auto nl = buffer_.find('\n', parsed_);
    if (nl == std::string::npos) {
      // Checked on every call, so a line that never ends fails as soon as it is over the
      // cap instead of growing the buffer.
      if (unterminated_too_long(std::string_view(buffer_).substr(parsed_), max_line_))
        return fail("a reply line is longer than " + std::to_string(max_line_) + " bytes");
      return {};
    }
    const auto line = strip_cr(std::string_view(buffer_).substr(parsed_, nl - parsed_));
    if (line.size() > max_line_)
      return fail("a reply line is longer than " + std::to_string(max_line_) + " bytes");
    // RFC 5321 4.2: three digits, then "-" (more lines follow), " " or the end of the line
    // (the last line). 4.2.1: the first digit is 2 to 5; we take 1 as well (RFC 821).
    if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]) ||
        line[0] < '1' || line[0] > '5')
      return fail("a reply line does not start with a three-digit reply code");
    if (line.size() > 3 && line[3] != ' ' && line[3] != '-')
      return fail("a reply code is followed by something other than a space or a hyphen");
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (!partial_.lines.empty() && code != partial_.code)
      return fail("the reply code changed from " + std::to_string(partial_.code) + " to " +
                  std::to_string(code) + " within one multi-line reply");
    partial_.code = code;
    partial_.lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view{});
    parsed_ = nl + 1;
    const bool more = line.size() > 3 && line[3] == '-';
    if (!more) {
      Result r{Status::reply, std::move(partial_), {}};
      r.reply.raw = buffer_.substr(0, parsed_);
      buffer_.erase(0, parsed_);
      parsed_ = 0;
      partial_ = Reply{};
      return r;
    }
    // Fail as soon as a line past the cap is announced, not once it arrives.
    if (partial_.lines.size() >= max_lines_)
      return fail("a multi-line reply has more than " + std::to_string(max_lines_) + " lines");
  }
}

// ---- LineReader -----------------------------------------------------------------------

void LineReader::feed(std::string_view bytes) {
  if (discarding_ && buffer_.empty()) {
    // Still inside an over-long line: drop its bytes as they come, up to its newline.
    const auto nl = bytes.find('\n');
    if (nl == std::string_view::npos) return;
    discarding_ = false;
    bytes.remove_prefix(nl + 1);
  }
  buffer_.append(bytes);
}

LineReader::Result LineReader::next() {
  if (discarding_) {
    const auto nl = buffer_.find('\n');
    if (nl == std::string::npos) {
      buffer_.clear();
      return {};
    }
    buffer_.erase(0, nl + 1);
    discarding_ = false;
  }
  const auto nl = buffer_.find('\n');
  if (nl == std::string::npos) {
    if (unterminated_too_long(buffer_, max_line_)) {
      // Reported once; the rest of this line is discarded as it arrives.
      buffer_.clear();
      discarding_ = true;
      return {Status::too_long, {}};
    }
    return {};
  }
  const auto line = strip_cr(std::string_view(buffer_).substr(0, nl));
  Result r;
  if (line.size() > max_line_) {
    r.status = Status::too_long;
  } else {
    r.status = Status::line;
    r.line = std::string(line);
  }
  buffer_.erase(0, nl + 1);
  return r;
}

std::size_t LineReader::discard_buffered() {
  const auto n = buffer_.size();
  buffer_.clear();
  discarding_ = false;
  return n;
}

// ---- EHLO keywords ----------------------------------------------------------------------

std::vector<std::string> ehlo_keywords(const Reply& r) {
  std::vector<std::string> out;
  for (std::size_t i = 1; i < r.lines.size(); ++i) {
    std::string_view line = r.lines[i];
    const auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) continue;
    line.remove_prefix(start);
    std::string keyword(line.substr(0, line.find(' ')));
    std::transform(keyword.begin(), keyword.end(), keyword.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    out.push_back(std::move(keyword));
  }
  return out;
}

}  // namespace egress25::smtp
