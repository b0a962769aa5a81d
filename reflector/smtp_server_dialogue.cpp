// The reflector's side of an SMTP dialogue (RFC 5321, STARTTLS per RFC 3207), with no
// I/O: every event in, the next action out.
#include "smtp_server_dialogue.hpp"

#include <algorithm>
#include <cctype>

#include "end_reason.hpp"
#include "limits.hpp"

namespace egress25::reflector {

namespace {

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

// The words for a failed read or write, as the record keeps them.
std::string words_for(const smtp::Event& event) {
  if (event.kind == smtp::Event::Kind::peer_closed)
    return event.truncated ? "peer closed (no TLS close_notify)" : "peer closed";
  if (event.error == boost::system::errc::connection_reset) return "reset by peer";
  return event.detail.empty() ? event.error.message() : event.detail;
}

}  // namespace

SmtpServerDialogue::SmtpServerDialogue(Config config, Transcript& transcript)
    : config_(std::move(config)), transcript_(transcript) {}

std::string SmtpServerDialogue::greeting() const {
  return "220 " + config_.hostname + " ESMTP " + std::string(identity) + " " + EGRESS25_VERSION +
         " diagnostic reflector; mail is never accepted\r\n";
}

SmtpServerDialogue::Answer SmtpServerDialogue::refuse_mail() const {
  return Answer{
      "550 5.7.1 egress25 diagnostic reflector: mail is never accepted, relayed or stored\r\n",
      After::read,
      std::nullopt,
      {}};
}

SmtpServerDialogue::Answer SmtpServerDialogue::answer_too_long() {
  if (++long_lines_ >= limits::max_long_smtp_lines)
    return Answer{"421 4.7.0 " + config_.hostname + " too many over-long lines, closing\r\n",
                  After::close, std::nullopt, std::string(end_reason::too_many_long_lines)};
  return Answer{"500 5.5.2 line too long\r\n", After::read, std::nullopt, {}};
}

SmtpServerDialogue::Answer SmtpServerDialogue::answer(std::string_view line) {
  if (++commands_ > limits::max_smtp_commands)
    return Answer{"421 4.7.0 " + config_.hostname + " too many commands, closing\r\n", After::close,
                  std::nullopt, std::string(end_reason::too_many_commands)};

  // RFC 5321 2.4: verbs are case-insensitive; the verb ends at the first space.
  const auto space = line.find(' ');
  const std::string verb = upper(line.substr(0, space));
  std::string_view arg =
      space == std::string_view::npos ? std::string_view{} : line.substr(space + 1);
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);

  if (verb == "EHLO" || verb == "HELO") {
    if (arg.empty())
      return Answer{"501 5.5.4 Syntax: " + verb + " hostname\r\n", After::read, {}, {}};
    const std::string name(arg.substr(0, arg.find(' ')));
    const std::string hello =
        config_.hostname + " Hello " + echoable(name) + " [" + config_.peer_address + "]";
    if (verb == "HELO") return Answer{"250 " + hello + "\r\n", After::read, name, {}};
    // No PIPELINING: commands are answered one at a time, and saying otherwise would be
    // a lie a careful client could notice. No SIZE: nothing is ever accepted.
    std::string reply = "250-" + hello + "\r\n250-8BITMIME\r\n";
    if (config_.kind == ServiceKind::smtp && !tls_active_)
      reply += "250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n";
    else
      reply += "250 ENHANCEDSTATUSCODES\r\n";
    return Answer{std::move(reply), After::read, name, {}};
  }
  if (verb == "STARTTLS") {
    if (tls_active_) return Answer{"503 5.5.1 TLS already active\r\n", After::read, {}, {}};
    if (config_.kind != ServiceKind::smtp)
      return Answer{"502 5.5.1 STARTTLS not offered here\r\n", After::read, {}, {}};
    if (!arg.empty()) return Answer{"501 5.5.4 Syntax: STARTTLS\r\n", After::read, {}, {}};
    return Answer{"220 2.0.0 Ready to start TLS\r\n", After::start_tls, {}, {}};
  }
  if (verb == "NOOP") return Answer{"250 2.0.0 OK\r\n", After::read, {}, {}};
  if (verb == "RSET") return Answer{"250 2.0.0 OK\r\n", After::read, {}, {}};
  if (verb == "QUIT")
    return Answer{
        "221 2.0.0 " + config_.hostname + " closing connection\r\n", After::close, {}, "quit"};
  if (verb == "HELP")
    return Answer{
        "214 2.0.0 egress25 diagnostic reflector: EHLO, HELO, STARTTLS, NOOP, RSET, "
        "QUIT; mail is never accepted\r\n",
        After::read,
        {},
        {}};
  if (verb == "MAIL" || verb == "RCPT" || verb == "DATA" || verb == "BDAT" || verb == "VRFY" ||
      verb == "EXPN" || verb == "AUTH" || verb == "ETRN" || verb == "TURN" || verb == "ATRN")
    return refuse_mail();
  if (line.empty()) return Answer{"500 5.5.2 empty command\r\n", After::read, {}, {}};
  return Answer{"500 5.5.2 command not recognized\r\n", After::read, {}, {}};
}

smtp::Action SmtpServerDialogue::resume(const smtp::Event& event) {
  using Kind = smtp::Event::Kind;
  if (done_) return {};
  name_seen_.reset();
  switch (event.kind) {
    case Kind::start:
      if (started_) return finish("dialogue error: started twice");
      started_ = true;
      // RFC 8314 3.3: on implicit TLS the greeting is the first thing inside TLS.
      if (config_.kind == ServiceKind::smtps) {
        pending_ = smtp::Action::Kind::start_tls;
        return {smtp::Action::Kind::start_tls, {}, false, false};
      }
      greeted_ = true;
      return write(greeting(), After::read);
    case Kind::received:
      return on_received(event.bytes);
    case Kind::written:
      return on_written();
    case Kind::tls_up:
      return on_tls_up();
    case Kind::tls_failed:
    case Kind::io_error:
    case Kind::timed_out:
    case Kind::peer_closed:
      return on_failure(event);
  }
  return finish("dialogue error: an event of no known kind");
}

smtp::Action SmtpServerDialogue::write(std::string bytes, After after, bool farewell) {
  phase().to_client.append(bytes);
  pending_ = smtp::Action::Kind::write;
  after_write_ = after;
  return {smtp::Action::Kind::write, std::move(bytes), tls_active_, farewell};
}

smtp::Action SmtpServerDialogue::finish(std::string reason) {
  if (end_reason_.empty()) end_reason_ = std::move(reason);
  done_ = true;
  pending_ = smtp::Action::Kind::close;
  return {};
}

smtp::Action SmtpServerDialogue::next_command() {
  auto line = reader_.next();
  if (line.status == smtp::LineReader::Status::need_more) {
    pending_ = smtp::Action::Kind::read;
    return {smtp::Action::Kind::read, {}, tls_active_, false};
  }
  auto answered =
      line.status == smtp::LineReader::Status::too_long ? answer_too_long() : answer(line.line);
  // Said with the reply, for the session to look up: the name comes before the write.
  std::optional<NameSeen> name;
  if (answered.helo_name)
    name =
        NameSeen{std::move(*answered.helo_name),
                 config_.kind == ServiceKind::smtp && tls_active_ ? "ehlo_after_starttls" : "ehlo"};
  // The reason is the command's, whatever happens to the reply: a client that sends
  // QUIT and closes without reading the 221 still ended the session with QUIT.
  if (answered.after == After::close) end_reason_ = answered.end_reason;
  auto action = write(std::move(answered.reply), answered.after);
  name_seen_ = std::move(name);
  return action;
}

smtp::Action SmtpServerDialogue::on_received(std::string_view bytes) {
  phase().to_server.append(bytes);
  if (pending_ != smtp::Action::Kind::read)
    return finish("dialogue error: bytes arrived when no read was pending");
  reader_.feed(bytes);
  return next_command();
}

smtp::Action SmtpServerDialogue::on_written() {
  if (pending_ != smtp::Action::Kind::write)
    return finish("dialogue error: a write completed when none was pending");
  switch (after_write_) {
    case After::read:
      return next_command();
    case After::close:
      return finish({});
    case After::start_tls:
      // RFC 3207 5: plaintext that followed STARTTLS is an injection attempt (or a
      // client that cannot wait); it must not be read as if it came over TLS.
      discarded_ = reader_.discard_buffered();
      pending_ = smtp::Action::Kind::start_tls;
      return {smtp::Action::Kind::start_tls, {}, false, false};
  }
  return finish("dialogue error: nothing to do after a write");
}

smtp::Action SmtpServerDialogue::on_tls_up() {
  if (pending_ != smtp::Action::Kind::start_tls)
    return finish("dialogue error: TLS came up when no handshake was pending");
  // RFC 3207 4.2: the server forgets what it learnt before (it keeps no state from EHLO
  // anyway) and stops offering STARTTLS.
  tls_active_ = true;
  if (!greeted_) {
    greeted_ = true;
    return write(greeting(), After::read);
  }
  return next_command();
}

// What an I/O failure means depends on what the session was doing. Waiting for a
// command, a timeout gets a 421 (RFC 5321 4.5.3.2: a server that times out should say
// so); anything else ends the session as it stands.
smtp::Action SmtpServerDialogue::on_failure(const smtp::Event& event) {
  using Kind = smtp::Event::Kind;
  switch (pending_) {
    case smtp::Action::Kind::start_tls:
      return finish("tls failed: " +
                    (event.kind == Kind::timed_out ? std::string("timeout") : words_for(event)));
    case smtp::Action::Kind::read:
    case smtp::Action::Kind::write:
      if (event.kind == Kind::tls_failed)
        return finish("dialogue error: a TLS result arrived when no handshake was pending");
      break;
    case smtp::Action::Kind::close:
      return finish("dialogue error: an I/O result arrived when no I/O was pending");
  }
  if (pending_ == smtp::Action::Kind::read) {
    if (event.kind == Kind::timed_out) {
      end_reason_ = event.detail.empty() ? std::string(end_reason::idle_timeout) : event.detail;
      return write("421 4.4.2 " + config_.hostname + " " + end_reason_ + ", closing\r\n",
                   After::close, true);
    }
    return finish(words_for(event));
  }
  // A farewell or a final reply keeps the reason it was said for.
  return finish(event.kind == Kind::timed_out ? std::string(end_reason::write_timeout)
                                              : words_for(event));
}

smtp::Action SmtpServerDialogue::stop(std::string_view farewell, std::string reason) {
  if (done_) return {};
  name_seen_.reset();
  if (end_reason_.empty()) end_reason_ = std::move(reason);
  // A 421 only between commands: not across a reply on its way, not into a handshake.
  if (pending_ == smtp::Action::Kind::read && !farewell.empty())
    return write(std::string(farewell), After::close, true);
  return finish({});
}

}  // namespace egress25::reflector
