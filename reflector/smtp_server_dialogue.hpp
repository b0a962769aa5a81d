// The reflector's side of an SMTP dialogue (RFC 5321, STARTTLS per RFC 3207), with no
// I/O: fed command lines, it answers with the reply to send and what to do next.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace egress25::reflector {

class SmtpServerDialogue {
 public:
  struct Config {
    std::string hostname;          // in the greeting and the EHLO reply
    std::string peer_address;      // echoed in the EHLO/HELO reply, as the reflector saw it
    bool starttls_offered = true;  // plain SMTP ports; false on implicit TLS
  };

  enum class Next {
    read,       // send `reply`, then read the next command
    start_tls,  // send `reply`, discard buffered plaintext, then the TLS handshake
    close,      // send `reply`, then close
  };

  struct Step {
    std::string reply;  // whole lines, CRLF-terminated
    Next next = Next::read;
    // The EHLO/HELO argument, when this line was one: where a probe carries its tag.
    std::optional<std::string> helo_name;
    std::string end_reason;  // when next == close: "quit", "too many commands", ...
  };

  explicit SmtpServerDialogue(Config config) : config_(std::move(config)) {}

  std::string greeting() const;
  Step on_line(std::string_view line);  // one command, without its CRLF
  Step on_line_too_long();
  // The TLS handshake after STARTTLS (or on an implicit-TLS port) completed. RFC 3207
  // 4.2: the server forgets what it learnt before (it keeps no state from EHLO anyway)
  // and stops offering STARTTLS.
  void on_tls_started();

  bool tls_active() const { return tls_active_; }

  // A banner_identity: every greeting contains it.
  static constexpr std::string_view identity = "egress25-reflector";

 private:
  Step refuse_mail() const;

  Config config_;
  bool tls_active_ = false;
  int commands_ = 0;
  int long_lines_ = 0;
};

}  // namespace egress25::reflector
