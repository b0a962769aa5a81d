// The reflector's side of an SMTP dialogue (RFC 5321, STARTTLS per RFC 3207), with no
// I/O: every event of the connection goes through resume() (see dialogue_io.hpp), and
// the answer is the next action: write a reply, read, start TLS, close.
//
// It keeps the command line reader, the TLS state, the transcript and why the session
// ended (its end_reason, as the record and the classifier read it). The session
// coroutine (smtp_session.cpp) carries the actions out and owns the clocks: it says when
// a wait timed out, and why.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "dialogue_io.hpp"
#include "net_types.hpp"
#include "smtp_reply_parser.hpp"
#include "transcript.hpp"

namespace egress25::reflector {

class SmtpServerDialogue {
 public:
  struct Config {
    std::string hostname;      // in the greeting and the EHLO reply
    std::string peer_address;  // echoed in the EHLO/HELO reply, as the reflector saw it
    // smtp: STARTTLS offered (ports 25, 587); smtps: the TLS handshake comes first and
    // STARTTLS is never offered (RFC 8314 3.3).
    ServiceKind kind = ServiceKind::smtp;
  };

  // A name the client gave in the command a write answers: the EHLO/HELO argument, where
  // a probe carries its tag.
  struct NameSeen {
    std::string name;
    std::string_view where;  // "ehlo", or "ehlo_after_starttls" inside STARTTLS
  };

  // Every byte received and every reply is appended to `transcript`, in the phase the
  // TLS state says, before the write is asked for: a REPORT asked for the moment the
  // client has a reply finds it there. `transcript` must outlive the dialogue.
  SmtpServerDialogue(Config config, Transcript& transcript);

  // The one entry point: Event::start() first, then how each action went, or stop()
  // when the reflector ends the session for its own reasons. Once it has returned close,
  // it asks for nothing more.
  smtp::Action resume(const smtp::Event& event);

  // The reflector ends the session (its connection table made room, the process shuts
  // down): `reason` becomes the end reason unless the session already had one, and
  // `farewell` (a 421; "" for none) is said if the session was waiting for a command.
  smtp::Action stop(std::string_view farewell, std::string reason);

  // With the write just asked for: the name given in the command it answers.
  const std::optional<NameSeen>& name_seen() const { return name_seen_; }
  // Bytes that followed STARTTLS in the clear and were dropped (RFC 3207 5), at the
  // last start_tls action.
  std::size_t discarded_at_starttls() const { return discarded_; }

  bool tls_active() const { return tls_active_; }
  // Between commands: the session is reading, no reply or handshake under way.
  bool waiting_for_command() const { return pending_ == smtp::Action::Kind::read; }
  bool done() const { return done_; }
  // Why the session ended ("quit", "idle timeout", "peer closed", "tls failed: ...");
  // "" while it goes on.
  const std::string& end_reason() const { return end_reason_; }

  std::string greeting() const;

  // A banner_identity: every greeting contains it.
  static constexpr std::string_view identity = "egress25-reflector";

 private:
  enum class After { read, start_tls, close };  // what follows the reply being written
  struct Answer {
    std::string reply;  // whole lines, CRLF-terminated
    After after = After::read;
    std::optional<std::string> helo_name;
    std::string end_reason;  // when after == close
  };

  Answer answer(std::string_view line);  // one command, without its CRLF
  Answer answer_too_long();
  Answer refuse_mail() const;

  smtp::Action on_received(std::string_view bytes);
  smtp::Action on_written();
  smtp::Action on_tls_up();
  smtp::Action on_failure(const smtp::Event& event);
  smtp::Action next_command();  // answer a line already received, or read
  smtp::Action write(std::string bytes, After after, bool farewell = false);
  smtp::Action finish(std::string reason);
  PhaseTranscript& phase() { return tls_active_ ? transcript_.tls : transcript_.plain; }

  Config config_;
  Transcript& transcript_;
  smtp::LineReader reader_;
  smtp::Action::Kind pending_ = smtp::Action::Kind::close;  // what the session is doing
  After after_write_ = After::read;
  bool started_ = false;
  bool greeted_ = false;
  bool tls_active_ = false;
  bool done_ = false;
  int commands_ = 0;
  int long_lines_ = 0;
  std::size_t discarded_ = 0;
  std::optional<NameSeen> name_seen_;
  std::string end_reason_;
};

}  // namespace egress25::reflector
