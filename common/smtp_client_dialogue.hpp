// Sans-io client side of a probe's SMTP dialogue: banner, EHLO, STARTTLS, EHLO, QUIT.
//
// The I/O layer feeds events (a reply arrived, a write finished, TLS came up or failed)
// and performs the action returned. The dialogue never touches a socket.
#pragma once

#include <optional>
#include <string>

#include "net_types.hpp"
#include "smtp_reply_parser.hpp"

namespace egress25::smtp {

class ClientDialogue {
 public:
  struct Options {
    ServiceKind kind = ServiceKind::smtp;
    std::string ehlo_name;  // carries the probe tag
  };

  enum class Step {
    read_reply,  // read until the parser yields a reply, then on_reply()
    write,       // write `bytes`, then on_written()
    start_tls,   // run the TLS handshake, then on_tls_established() / on_tls_failed()
    close,       // close the connection: the dialogue is over
  };
  struct Action {
    Step step = Step::close;
    std::string bytes;  // for write
  };

  // What the dialogue learned, for the evidence.
  struct Facts {
    std::optional<int> banner_code;
    std::string banner;  // greeting text lines joined by "\n"
    std::optional<int> ehlo_code;
    bool starttls_advertised = false;
    std::optional<int> starttls_reply_code;
    bool tls_attempted = false;
    bool tls_completed = false;
    std::optional<int> ehlo_after_tls_code;
    std::optional<int> quit_code;
    bool completed = false;       // reached the end (QUIT answered or skipped on purpose)
    std::string stopped_because;  // why it ended early, one sentence
  };

  // Throws std::invalid_argument when ehlo_name is empty or not printable ASCII (a bug).
  explicit ClientDialogue(Options options);

  Action start();  // smtp: read the banner; smtps: start TLS first (RFC 8314 3.3)
  Action on_reply(const Reply& reply);
  Action on_written();
  Action on_tls_established();
  Action on_tls_failed(const std::string& why);

  const Facts& facts() const { return facts_; }
  // True once TLS is up: bytes from now on belong to the TLS phase of the transcript.
  bool in_tls() const { return facts_.tls_completed; }

 private:
  enum class State { idle, banner, ehlo, starttls, tls_handshake, ehlo_tls, quit, done };
  Action read() { return {Step::read_reply, {}}; }
  Action send(std::string line);
  Action finish(std::string why);

  Options options_;
  State state_ = State::idle;
  Facts facts_;
};

}  // namespace egress25::smtp
