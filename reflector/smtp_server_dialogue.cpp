// The reflector's side of an SMTP dialogue (RFC 5321, STARTTLS per RFC 3207), with no
// I/O: fed command lines, it answers with the reply to send and what to do next.
#include "smtp_server_dialogue.hpp"

#include <algorithm>
#include <cctype>

#include "limits.hpp"

namespace egress25::reflector {

namespace {

// Over-long lines tolerated before the session is closed: a client that keeps sending
// them is not speaking SMTP.
constexpr int max_long_lines = 3;

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// The argument as it may be echoed into a reply: printable ASCII, no spaces, capped.
std::string echoable(std::string_view arg) {
  std::string out;
  for (char c : arg.substr(0, 255)) out.push_back(c > 0x20 && c < 0x7f ? c : '?');
  return out;
}

}  // namespace

std::string SmtpServerDialogue::greeting() const {
  return "220 " + config_.hostname + " ESMTP " + std::string(identity) + " " + EGRESS25_VERSION +
         " diagnostic reflector; mail is never accepted\r\n";
}

SmtpServerDialogue::Step SmtpServerDialogue::refuse_mail() const {
  return Step{
      "550 5.7.1 egress25 diagnostic reflector: mail is never accepted, relayed or stored\r\n",
      Next::read,
      std::nullopt,
      {}};
}

void SmtpServerDialogue::on_tls_started() {
  tls_active_ = true;
}

SmtpServerDialogue::Step SmtpServerDialogue::on_line_too_long() {
  if (++long_lines_ >= max_long_lines)
    return Step{"421 4.7.0 " + config_.hostname + " too many over-long lines, closing\r\n",
                Next::close, std::nullopt, "too many over-long lines"};
  return Step{"500 5.5.2 line too long\r\n", Next::read, std::nullopt, {}};
}

SmtpServerDialogue::Step SmtpServerDialogue::on_line(std::string_view line) {
  if (++commands_ > limits::max_smtp_commands)
    return Step{"421 4.7.0 " + config_.hostname + " too many commands, closing\r\n", Next::close,
                std::nullopt, "too many commands"};

  // RFC 5321 2.4: verbs are case-insensitive; the verb ends at the first space.
  const auto space = line.find(' ');
  const std::string verb = upper(line.substr(0, space));
  std::string_view arg =
      space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);

  if (verb == "EHLO" || verb == "HELO") {
    if (arg.empty()) return Step{"501 5.5.4 Syntax: " + verb + " hostname\r\n", Next::read, {}, {}};
    const std::string name(arg.substr(0, arg.find(' ')));
    const std::string hello =
        config_.hostname + " Hello " + echoable(name) + " [" + config_.peer_address + "]";
    if (verb == "HELO") return Step{"250 " + hello + "\r\n", Next::read, name, {}};
    // No PIPELINING: commands are answered one at a time, and saying otherwise would be
    // a lie a careful client could notice. No SIZE: nothing is ever accepted.
    std::string reply = "250-" + hello + "\r\n250-8BITMIME\r\n";
    if (config_.starttls_offered && !tls_active_)
      reply += "250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n";
    else
      reply += "250 ENHANCEDSTATUSCODES\r\n";
    return Step{std::move(reply), Next::read, name, {}};
  }
  if (verb == "STARTTLS") {
    if (tls_active_) return Step{"503 5.5.1 TLS already active\r\n", Next::read, {}, {}};
    if (!config_.starttls_offered)
      return Step{"502 5.5.1 STARTTLS not offered here\r\n", Next::read, {}, {}};
    if (!arg.empty()) return Step{"501 5.5.4 Syntax: STARTTLS\r\n", Next::read, {}, {}};
    return Step{"220 2.0.0 Ready to start TLS\r\n", Next::start_tls, {}, {}};
  }
  if (verb == "NOOP") return Step{"250 2.0.0 OK\r\n", Next::read, {}, {}};
  if (verb == "RSET") return Step{"250 2.0.0 OK\r\n", Next::read, {}, {}};
  if (verb == "QUIT")
    return Step{
        "221 2.0.0 " + config_.hostname + " closing connection\r\n", Next::close, {}, "quit"};
  if (verb == "HELP")
    return Step{
        "214 2.0.0 egress25 diagnostic reflector: EHLO, HELO, STARTTLS, NOOP, RSET, "
        "QUIT; mail is never accepted\r\n",
        Next::read,
        {},
        {}};
  if (verb == "MAIL" || verb == "RCPT" || verb == "DATA" || verb == "BDAT" || verb == "VRFY" ||
      verb == "EXPN" || verb == "AUTH" || verb == "ETRN" || verb == "TURN" || verb == "ATRN")
    return refuse_mail();
  if (line.empty()) return Step{"500 5.5.2 empty command\r\n", Next::read, {}, {}};
  return Step{"500 5.5.2 command not recognized\r\n", Next::read, {}, {}};
}

}  // namespace egress25::reflector
