// libFuzzer harness: the SMTP reply parser (the client reading any server, a hostile one
// included) and the line reader (the reflector reading any client), fed in pieces. Every
// reply has a code and at most limits::max_reply_lines lines of at most
// limits::max_smtp_line bytes; every command line is within the cap; nothing is buffered
// past what one line or reply may hold.
#include <cstdint>
#include <cstdlib>

#include "fuzz_input.hpp"
#include "limits.hpp"
#include "smtp_reply_parser.hpp"

using namespace egress25;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Chunks chunks(data, size);
  smtp::ReplyParser parser;
  smtp::LineReader reader;
  bool parser_failed = false;
  while (!chunks.done()) {
    const auto chunk = chunks.next();
    if (!parser_failed) parser.feed(chunk);
    reader.feed(chunk);
    while (!parser_failed) {
      auto r = parser.next();
      if (r.status == smtp::ReplyParser::Status::need_more) break;
      if (r.status == smtp::ReplyParser::Status::error) {
        check(!r.error.empty());
        parser_failed = true;
        // Once failed, it stays failed.
        check(parser.next().status == smtp::ReplyParser::Status::error);
        break;
      }
      check(r.reply.code >= 100 && r.reply.code <= 999);
      check(!r.reply.lines.empty() && r.reply.lines.size() <= limits::max_reply_lines);
      for (const auto& line : r.reply.lines) check(line.size() <= limits::max_smtp_line);
      (void)smtp::ehlo_keywords(r.reply);
    }
    for (;;) {
      auto line = reader.next();
      if (line.status == smtp::LineReader::Status::need_more) break;
      if (line.status == smtp::LineReader::Status::line)
        check(line.line.size() <= limits::max_smtp_line);
    }
    check(reader.buffered() <= limits::max_smtp_line + 2 * 64);
  }
  reader.discard_buffered();
  check(reader.buffered() == 0);
  return 0;
}
