// libFuzzer harness: the reflector's side of an SMTP dialogue, fed any client's bytes in
// pieces as the session feeds them, with handshakes and I/O failing as the input says.
// Every reply is whole CRLF lines a client can parse, with a code; nothing a client sends
// makes the reflector accept mail; the command budget holds; every byte is recorded; it
// ends with a reason, and once over asks for nothing more.
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

smtp::Event failure(unsigned which) {
  namespace errc = boost::system::errc;
  switch (which % 4) {
    case 0:
      return smtp::Event::io_error(errc::make_error_code(errc::connection_reset), "reset");
    case 1:
      return smtp::Event::timed_out(std::chrono::milliseconds(30000));
    case 2:
      return smtp::Event::peer_closed(which & 4);
    default:
      return smtp::Event::tls_failed(errc::make_error_code(errc::protocol_error), "fuzzed");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Chunks chunks(data, size);
  const std::uint8_t flags = size > 0 ? data[0] : 0;
  const bool plain = flags & 1;
  Transcript transcript;
  SmtpServerDialogue dialogue(
      {"reflector.fuzz", "192.0.2.1", plain ? ServiceKind::smtp : ServiceKind::smtps}, transcript);
  auto action = dialogue.resume(smtp::Event::start());
  int writes = 0;
  unsigned turn = 0;
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  bool failed = false;
  while (!action.done()) {
    ++turn;
    if (action.kind == smtp::Action::Kind::write) {
      check_reply(action.bytes);
      sent += action.bytes.size();
      // Greeting, one reply per command, and a last 421: the budget closes the session.
      check(++writes <= limits::max_smtp_commands + 4);
    }
    // Now and then (as the flags say) the action fails instead of going through.
    if (!failed && (flags & 2) && turn % 7 == flags % 7) {
      failed = true;
      action = (flags & 4) ? dialogue.stop("421 4.3.2 reflector.fuzz shutting down\r\n",
                                           "reflector shutting down")
                           : dialogue.resume(failure(flags >> 3));
      // What follows a failure is a farewell at most.
      check(action.done() || (action.kind == smtp::Action::Kind::write && action.farewell));
      continue;
    }
    switch (action.kind) {
      case smtp::Action::Kind::write:
        action = dialogue.resume(smtp::Event::written());
        break;
      case smtp::Action::Kind::start_tls:
        check(plain ? !dialogue.tls_active() : !dialogue.tls_active() && turn == 1);
        action = dialogue.resume(smtp::Event::tls_up());
        check(dialogue.tls_active());
        break;
      case smtp::Action::Kind::read:
        if (chunks.done()) {
          action = dialogue.resume(smtp::Event::peer_closed());
        } else {
          const auto piece = chunks.next();
          received += piece.size();
          action = dialogue.resume(smtp::Event::received(piece));
        }
        break;
      case smtp::Action::Kind::close:
        break;
    }
  }
  check(dialogue.done());
  check(!dialogue.end_reason().empty());
  check(transcript.plain.to_server.total + transcript.tls.to_server.total == received);
  check(transcript.plain.to_client.total + transcript.tls.to_client.total == sent);
  check(dialogue.resume(smtp::Event::received("MAIL FROM:<a@b>\r\n")).done());
  return 0;
}
