// Sans-io client side of a probe's SMTP dialogue: banner, EHLO, STARTTLS, EHLO, QUIT.
#include "smtp_client_dialogue.hpp"

#include <algorithm>
#include <stdexcept>

namespace egress25::smtp {

namespace {

std::string joined(const Reply& r) {
  std::string out;
  for (const auto& line : r.lines) {
    if (!out.empty()) out += '\n';
    out += line;
  }
  return out;
}

std::string code_text(const Reply& r) {
  return std::to_string(r.code);
}

std::string ms_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + " ms";
}

// How a failed read or write ended the dialogue, by what the system said.
DialogueEnd end_for(const boost::system::error_code& ec) {
  namespace errc = boost::system::errc;
  if (ec == errc::connection_reset || ec == errc::broken_pipe) return DialogueEnd::reset;
  if (ec == errc::timed_out) return DialogueEnd::timed_out;
  return DialogueEnd::closed_early;
}

constexpr const char* closed_by_server =
    "the server closed the connection before the dialogue was over";

}  // namespace

ClientDialogue::ClientDialogue(Options options, Transcript& transcript)
    : options_(std::move(options)), transcript_(transcript) {
  // The name goes on the wire after "EHLO "; a line break in it would inject a command.
  const bool clean = !options_.ehlo_name.empty() &&
                     std::all_of(options_.ehlo_name.begin(), options_.ehlo_name.end(),
                                 [](char c) { return c > 0x20 && c < 0x7f; });
  if (!clean) throw std::invalid_argument("EHLO name must be non-empty printable ASCII");
}

Action ClientDialogue::resume(const Event& event) {
  if (state_ == State::done) return {};
  switch (event.kind) {
    case Event::Kind::start:
      return on_start();
    case Event::Kind::received:
      return on_received(event.bytes);
    case Event::Kind::written:
      return on_written();
    case Event::Kind::tls_up:
      return on_tls_up();
    case Event::Kind::tls_failed:
    case Event::Kind::io_error:
    case Event::Kind::timed_out:
    case Event::Kind::peer_closed:
      return on_failure(event);
  }
  return finish(DialogueEnd::protocol_error, "an event of no known kind arrived");
}

Action ClientDialogue::send(std::string line) {
  line += "\r\n";
  // Kept before it is sent, so a write cut short still shows what we meant to send.
  phase().to_server.append(line);
  pending_ = Action::Kind::write;
  return {Action::Kind::write, std::move(line), in_tls(), false};
}

Action ClientDialogue::quit(std::string why) {
  if (facts_.stopped_because.empty()) facts_.stopped_because = std::move(why);
  state_ = State::quit;
  return send("QUIT");
}

Action ClientDialogue::finish(DialogueEnd end, std::string why) {
  facts_.end = end;
  facts_.end_detail = why.empty() || note_.empty() ? why + note_ : why + "; " + note_;
  state_ = State::done;
  pending_ = Action::Kind::close;
  return {};
}

Action ClientDialogue::await_reply() {
  auto result = parser_.next();
  if (result.status == ReplyParser::Status::error)
    return finish(DialogueEnd::protocol_error, result.error);
  if (result.status == ReplyParser::Status::reply) return on_reply(result.reply);
  pending_ = Action::Kind::read;
  return {Action::Kind::read, {}, in_tls(), false};
}

Action ClientDialogue::on_start() {
  if (state_ != State::idle)
    return finish(DialogueEnd::protocol_error, "the dialogue was started twice");
  if (options_.kind == ServiceKind::smtps) {
    // RFC 8314 3.3: on implicit TLS the handshake comes first; the greeting is inside it.
    state_ = State::tls_handshake;
    facts_.tls_attempted = true;
    pending_ = Action::Kind::start_tls;
    return {Action::Kind::start_tls, {}, false, false};
  }
  state_ = State::banner;
  return await_reply();
}

Action ClientDialogue::on_received(std::string_view bytes) {
  // Every byte is kept, wanted or not: the transcript is evidence.
  phase().to_client.append(bytes);
  if (pending_ != Action::Kind::read)
    return finish(DialogueEnd::protocol_error, "bytes arrived when no read was pending");
  parser_.feed(bytes);
  return await_reply();
}

Action ClientDialogue::on_written() {
  if (pending_ != Action::Kind::write)
    return finish(DialogueEnd::protocol_error, "a write completed when none was pending");
  // The reply to QUIT tells nothing the reflector's record does not: the dialogue is
  // complete once QUIT is on its way (the transcript then ends with QUIT and no 221).
  if (state_ == State::quit && !options_.await_quit_reply)
    return finish(DialogueEnd::completed, {});
  return await_reply();
}

Action ClientDialogue::on_reply(const Reply& reply) {
  switch (state_) {
    case State::banner:
      facts_.banner_code = reply.code;
      facts_.banner = joined(reply);
      // RFC 5321 3.1: after a 554 greeting the client should QUIT and wait for the reply.
      if (reply.code != 220)
        return quit("the server greeted with " + code_text(reply) + ", not 220");
      state_ = State::ehlo;
      return send("EHLO " + options_.ehlo_name);

    case State::ehlo:
      facts_.ehlo_code = reply.code;
      if (reply.code != 250) return quit("the server refused EHLO with " + code_text(reply));
      if (options_.kind == ServiceKind::smtps) return quit({});
      {
        const auto keywords = ehlo_keywords(reply);
        facts_.starttls_advertised =
            std::find(keywords.begin(), keywords.end(), "STARTTLS") != keywords.end();
      }
      // Sent even when not advertised: a server that accepts it although the EHLO reply
      // the client saw did not offer it means something removed it on the way.
      state_ = State::starttls;
      return send("STARTTLS");

    case State::starttls:
      facts_.starttls_reply_code = reply.code;
      if (reply.code != 220)
        return quit("the server refused STARTTLS with " + code_text(reply) +
                    (facts_.starttls_advertised ? " although it advertised it"
                                                : " (it did not advertise it)"));
      if (parser_.buffered() > 0) {
        // RFC 3207 5: anything sent before the handshake must be discarded; a server
        // (or a middlebox) that sends it is noted.
        note_ = std::to_string(parser_.buffered()) +
                " bytes arrived after the reply to STARTTLS and were discarded";
      }
      parser_ = ReplyParser{};
      state_ = State::tls_handshake;
      facts_.tls_attempted = true;
      pending_ = Action::Kind::start_tls;
      return {Action::Kind::start_tls, {}, false, false};

    case State::ehlo_tls:
      facts_.ehlo_after_tls_code = reply.code;
      return quit(reply.code == 250
                      ? std::string()
                      : "the server refused EHLO after STARTTLS with " + code_text(reply));

    case State::quit:
      facts_.quit_code = reply.code;
      return finish(DialogueEnd::completed, {});

    case State::idle:
    case State::tls_handshake:
    case State::done:
      break;
  }
  return finish(DialogueEnd::protocol_error, "a reply arrived when none was expected");
}

Action ClientDialogue::on_tls_up() {
  if (pending_ != Action::Kind::start_tls)
    return finish(DialogueEnd::protocol_error, "TLS came up when no handshake was pending");
  facts_.tls_completed = true;
  if (options_.kind == ServiceKind::smtps) {
    state_ = State::banner;
    return await_reply();
  }
  // RFC 3207 4.2: no new greeting after STARTTLS; the client starts over with EHLO.
  state_ = State::ehlo_tls;
  return send("EHLO " + options_.ehlo_name);
}

// An I/O failure ends the dialogue; what it was waiting for says what the failure means.
// The connection is in an unknown state afterwards (a failed handshake above all): no
// QUIT, just close.
Action ClientDialogue::on_failure(const Event& event) {
  using Kind = Event::Kind;
  switch (pending_) {
    case Action::Kind::start_tls:
      facts_.tls_error = event.kind == Kind::timed_out
                             ? "no TLS handshake within " + ms_text(event.waited)
                         : event.kind == Kind::peer_closed ? std::string(closed_by_server)
                                                           : event.detail;
      return finish(
          event.kind == Kind::timed_out ? DialogueEnd::timed_out : DialogueEnd::tls_failed,
          facts_.tls_error);
    case Action::Kind::read:
    case Action::Kind::write:
      break;
    case Action::Kind::close:
      return finish(DialogueEnd::protocol_error, "an I/O result arrived when no I/O was pending");
  }
  const bool reading = pending_ == Action::Kind::read;
  switch (event.kind) {
    case Kind::timed_out:
      return finish(DialogueEnd::timed_out,
                    reading ? "no reply within " + ms_text(event.waited) : "sending timed out");
    case Kind::peer_closed:
      return finish(DialogueEnd::closed_early, closed_by_server);
    case Kind::io_error:
      return finish(end_for(event.error),
                    (reading ? "receiving failed: " : "sending failed: ") + event.detail);
    default:
      return finish(DialogueEnd::protocol_error,
                    "a TLS result arrived when no handshake was pending");
  }
}

}  // namespace egress25::smtp
