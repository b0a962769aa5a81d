// libFuzzer harness: a probe's side of an SMTP dialogue against any server, a hostile one
// included: bytes from the input in pieces drive the dialogue, with TLS coming up or
// failing and I/O failing as the input says. It ends in a bounded number of steps, writes
// only whole CRLF commands, records every byte, and says how it ended; once over it asks
// for nothing more.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_input.hpp"
#include "smtp_client_dialogue.hpp"

using namespace egress25;
using namespace egress25::smtp;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

// An I/O failure chosen by a byte of the input.
Event failure(std::uint8_t which) {
  namespace errc = boost::system::errc;
  switch (which % 4) {
    case 0:
      return Event::io_error(errc::make_error_code(errc::connection_reset), "reset");
    case 1:
      return Event::timed_out(std::chrono::milliseconds(5000));
    case 2:
      return Event::peer_closed(which & 4);
    default:
      return Event::tls_failed(errc::make_error_code(errc::protocol_error), "fuzzed failure");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  fuzz::Chunks chunks(data, size);
  Transcript transcript;
  ClientDialogue dialogue({flags & 1 ? ServiceKind::smtps : ServiceKind::smtp,
                           "p1-0123abcd.egress25.invalid", (flags & 2) != 0},
                          transcript);
  auto action = dialogue.resume(Event::start());
  int steps = 0;
  unsigned turn = 1;
  std::uint64_t received = 0;
  std::uint64_t sent = 0;
  while (!action.done()) {
    check(++steps < 256);
    // A command is in the transcript as soon as it is asked to be written.
    if (action.kind == Action::Kind::write) sent += action.bytes.size();
    // Now and then (as the flags say) the action fails instead of going through.
    const bool fail = ((flags >> (turn++ % 8)) & 1) && (turn % 5 == 0);
    if (fail) {
      action = dialogue.resume(failure(static_cast<std::uint8_t>(flags + turn)));
      check(action.done());
      break;
    }
    switch (action.kind) {
      case Action::Kind::write:
        check(action.bytes.ends_with("\r\n") && action.bytes.find('\n') == action.bytes.size() - 1);
        check(action.tls == dialogue.in_tls());
        action = dialogue.resume(Event::written());
        break;
      case Action::Kind::start_tls:
        action = (flags >> (turn++ % 8)) & 1
                     ? dialogue.resume(Event::tls_failed({}, "fuzzed failure"))
                     : dialogue.resume(Event::tls_up());
        break;
      case Action::Kind::read:
        if (chunks.done()) {
          action = dialogue.resume(Event::peer_closed());  // the server went away
        } else {
          const auto piece = chunks.next();
          received += piece.size();
          action = dialogue.resume(Event::received(piece));
        }
        break;
      case Action::Kind::close:
        break;
    }
  }
  const auto& facts = dialogue.facts();
  check(dialogue.done());
  check(facts.end != DialogueEnd::none);
  check(facts.end == DialogueEnd::completed || !facts.end_detail.empty());
  check(facts.tls_completed <= facts.tls_attempted);
  check(transcript.plain.to_client.total + transcript.tls.to_client.total == received);
  check(transcript.plain.to_server.total + transcript.tls.to_server.total == sent);
  check(dialogue.resume(Event::written()).done());
  check(dialogue.resume(Event::received("220 x\r\n")).done());
  return 0;
}
