// libFuzzer harness: the reflector's side of an SMTP dialogue, fed any client's bytes in
// pieces through the line reader as the session does. Every reply is whole CRLF lines a
// client can parse, with a code; a close ends the dialogue; nothing a client sends makes
// the reflector accept mail; the command budget holds.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_input.hpp"
#include "limits.hpp"
#include "smtp_reply_parser.hpp"
#include "smtp_server_dialogue.hpp"

using namespace egress25;
using egress25::reflector::SmtpServerDialogue;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

void check_reply(const std::string& reply) {
  check(!reply.empty() && reply.ends_with("\r\n"));
  smtp::ReplyParser parser;
  parser.feed(reply);
  auto r = parser.next();
  check(r.status == smtp::ReplyParser::Status::reply);
  check(parser.buffered() == 0);  // exactly one reply
  // Never "250" to MAIL/RCPT/DATA: 2xx only where no mail is involved, 354 never.
  check(r.reply.code != 354);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Chunks chunks(data, size);
  const bool plain = size > 0 && (data[0] & 1);
  SmtpServerDialogue dialogue({"reflector.fuzz", "192.0.2.1", plain});
  smtp::LineReader reader;
  check_reply(dialogue.greeting());
  int steps = 0;
  while (!chunks.done()) {
    reader.feed(chunks.next());
    for (;;) {
      auto line = reader.next();
      if (line.status == smtp::LineReader::Status::need_more) break;
      auto step = line.status == smtp::LineReader::Status::too_long ? dialogue.on_line_too_long()
                                                                    : dialogue.on_line(line.line);
      check_reply(step.reply);
      check(++steps <= limits::max_smtp_commands + 4);  // the budget closes the session
      switch (step.next) {
        case SmtpServerDialogue::Next::close:
          check(!step.end_reason.empty());
          return 0;
        case SmtpServerDialogue::Next::start_tls:
          check(plain && !dialogue.tls_active());
          reader.discard_buffered();  // RFC 3207 5: no plaintext injection
          dialogue.on_tls_started();
          break;
        case SmtpServerDialogue::Next::read:
          break;
      }
    }
  }
  return 0;
}
