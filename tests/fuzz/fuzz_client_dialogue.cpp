// libFuzzer harness: a probe's side of an SMTP dialogue against any server, a hostile one
// included: replies parsed from the input in pieces drive the dialogue, with TLS coming up
// or failing as the input says. It ends in a bounded number of steps, writes only whole
// CRLF commands, and says why whenever it stops early.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_input.hpp"
#include "smtp_client_dialogue.hpp"
#include "smtp_reply_parser.hpp"

using namespace egress25;
using Dialogue = egress25::smtp::ClientDialogue;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  fuzz::Chunks chunks(data, size);
  Dialogue dialogue(
      {flags & 1 ? ServiceKind::smtps : ServiceKind::smtp, "p1-0123abcd.egress25.invalid"});
  smtp::ReplyParser parser;
  auto action = dialogue.start();
  int steps = 0;
  unsigned tls_turn = 1;
  while (action.step != Dialogue::Step::close) {
    check(++steps < 64);
    switch (action.step) {
      case Dialogue::Step::write:
        check(action.bytes.ends_with("\r\n") && action.bytes.find('\n') == action.bytes.size() - 1);
        action = dialogue.on_written();
        break;
      case Dialogue::Step::start_tls:
        action = (flags >> (tls_turn++ % 8)) & 1 ? dialogue.on_tls_failed("fuzzed failure")
                                                 : dialogue.on_tls_established();
        break;
      case Dialogue::Step::read_reply: {
        auto r = parser.next();
        while (r.status == smtp::ReplyParser::Status::need_more && !chunks.done()) {
          parser.feed(chunks.next());
          r = parser.next();
        }
        if (r.status != smtp::ReplyParser::Status::reply) return 0;  // the server went away
        action = dialogue.on_reply(r.reply);
        break;
      }
      case Dialogue::Step::close:
        break;
    }
  }
  const auto& facts = dialogue.facts();
  check(facts.completed || !facts.stopped_because.empty());
  return 0;
}
