// Sans-io client side of a probe's SMTP dialogue: banner, EHLO, STARTTLS, EHLO, QUIT.
//
// The I/O layer feeds every event through resume() (see dialogue_io.hpp) and performs the
// action returned; the dialogue never touches a socket. It keeps the reply parser, the
// TLS state, the transcript, and how the dialogue ended: an I/O failure becomes the
// DialogueEnd the classifier reads here, not in the I/O layer.
#pragma once

#include <optional>
#include <string>

#include "dialogue_io.hpp"
#include "evidence.hpp"
#include "net_types.hpp"
#include "smtp_reply_parser.hpp"
#include "transcript.hpp"

namespace egress25::smtp {

class ClientDialogue {
 public:
  struct Options {
    ServiceKind kind = ServiceKind::smtp;
    std::string ehlo_name;  // carries the probe tag
    // Read the reply to QUIT before closing. The reflector's probes do not: its own
    // record holds the 221, and waiting costs a round trip. A third party's server is
    // given the courtesy RFC 5321 4.1.1.10 asks for (the client SHOULD wait).
    bool await_quit_reply = false;
  };

  // What the dialogue learned and how it ended, for the evidence.
  struct Facts {
    std::optional<int> banner_code;
    std::string banner;  // greeting text lines joined by "\n"
    std::optional<int> ehlo_code;
    bool starttls_advertised = false;
    std::optional<int> starttls_reply_code;
    bool tls_attempted = false;
    bool tls_completed = false;
    std::string tls_error;  // why the handshake failed or did not finish in time
    std::optional<int> ehlo_after_tls_code;
    std::optional<int> quit_code;  // only when the reply to QUIT was awaited
    // Why it went to QUIT early: an answer it could not go on from ("" when none). The
    // dialogue still completes (QUIT was said); the codes above say what was refused.
    std::string stopped_because;
    // none until the dialogue is over; then completed (QUIT sent, and answered when
    // awaited) or why it stopped: an I/O failure, or an answer it could not go on from.
    DialogueEnd end = DialogueEnd::none;
    std::string end_detail;  // one sentence (and a note, when there is one)
  };

  // Throws std::invalid_argument when ehlo_name is empty or not printable ASCII (a bug).
  // Every byte sent and received is appended to `transcript`, in the phase the TLS
  // state says; it must outlive the dialogue.
  ClientDialogue(Options options, Transcript& transcript);

  // The one entry point: Event::start() first, then how each action went. Once the
  // dialogue has returned close, every later event returns close again and changes
  // nothing.
  Action resume(const Event& event);

  const Facts& facts() const { return facts_; }
  // True once TLS is up: bytes from now on belong to the TLS phase of the transcript.
  bool in_tls() const { return facts_.tls_completed; }
  bool done() const { return state_ == State::done; }

 private:
  enum class State { idle, banner, ehlo, starttls, tls_handshake, ehlo_tls, quit, done };

  Action on_start();
  Action on_received(std::string_view bytes);
  Action on_written();
  Action on_tls_up();
  Action on_failure(const Event& event);
  Action on_reply(const Reply& reply);
  Action await_reply();  // a reply already buffered, or a read
  Action send(std::string line);
  Action quit(std::string why);  // say QUIT; `why` the dialogue stopped early, or ""
  Action finish(DialogueEnd end, std::string why);
  PhaseTranscript& phase() { return in_tls() ? transcript_.tls : transcript_.plain; }

  Options options_;
  Transcript& transcript_;
  ReplyParser parser_;
  State state_ = State::idle;
  Action::Kind pending_ = Action::Kind::close;  // the action the I/O layer is carrying out
  std::string note_;  // said beside however it ends (bytes discarded at STARTTLS)
  Facts facts_;
};

}  // namespace egress25::smtp
