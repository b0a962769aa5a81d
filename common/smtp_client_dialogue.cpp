// Sans-io client side of a probe's SMTP dialogue: banner, EHLO, STARTTLS, EHLO, QUIT.
#include "smtp_client_dialogue.hpp"

#include <algorithm>
#include <stdexcept>

namespace egress25::smtp {

ClientDialogue::ClientDialogue(Options options) : options_(std::move(options)) {
  // The name goes on the wire after "EHLO "; a line break in it would inject a command.
  const bool clean = !options_.ehlo_name.empty() &&
                     std::all_of(options_.ehlo_name.begin(), options_.ehlo_name.end(),
                                 [](char c) { return c > 0x20 && c < 0x7f; });
  if (!clean) throw std::invalid_argument("EHLO name must be non-empty printable ASCII");
}

ClientDialogue::Action ClientDialogue::send(std::string line) {
  line += "\r\n";
  return {Step::write, std::move(line)};
}

ClientDialogue::Action ClientDialogue::finish(std::string why) {
  if (facts_.stopped_because.empty()) facts_.stopped_because = std::move(why);
  state_ = State::done;
  return {Step::close, {}};
}

ClientDialogue::Action ClientDialogue::start() {
  if (state_ != State::idle) return finish("the dialogue was started twice");
  if (options_.kind == ServiceKind::smtps) {
    // RFC 8314 3.3: on implicit TLS the handshake comes first; the greeting is inside it.
    state_ = State::tls_handshake;
    facts_.tls_attempted = true;
    return {Step::start_tls, {}};
  }
  state_ = State::banner;
  return read();
}

ClientDialogue::Action ClientDialogue::on_written() {
  if (state_ == State::idle || state_ == State::done || state_ == State::tls_handshake)
    return finish("a write completed when none was pending");
  return read();
}

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

}  // namespace

ClientDialogue::Action ClientDialogue::on_reply(const Reply& reply) {
  switch (state_) {
    case State::banner:
      facts_.banner_code = reply.code;
      facts_.banner = joined(reply);
      if (reply.code != 220) {
        // RFC 5321 3.1: after a 554 greeting the client should QUIT and wait for the reply.
        facts_.stopped_because = "the server greeted with " + code_text(reply) + ", not 220";
        state_ = State::quit;
        return send("QUIT");
      }
      state_ = State::ehlo;
      return send("EHLO " + options_.ehlo_name);

    case State::ehlo:
      facts_.ehlo_code = reply.code;
      if (reply.code != 250) {
        facts_.stopped_because = "the server refused EHLO with " + code_text(reply);
        state_ = State::quit;
        return send("QUIT");
      }
      if (options_.kind == ServiceKind::smtps) {
        state_ = State::quit;
        return send("QUIT");
      }
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
      if (reply.code != 220) {
        facts_.stopped_because = "the server refused STARTTLS with " + code_text(reply) +
                                 (facts_.starttls_advertised ? " although it advertised it"
                                                             : " (it did not advertise it)");
        state_ = State::quit;
        return send("QUIT");
      }
      state_ = State::tls_handshake;
      facts_.tls_attempted = true;
      return {Step::start_tls, {}};

    case State::ehlo_tls:
      facts_.ehlo_after_tls_code = reply.code;
      if (reply.code != 250)
        facts_.stopped_because = "the server refused EHLO after STARTTLS with " + code_text(reply);
      state_ = State::quit;
      return send("QUIT");

    case State::quit:
      facts_.quit_code = reply.code;
      facts_.completed = true;
      state_ = State::done;
      return {Step::close, {}};

    case State::idle:
    case State::tls_handshake:
    case State::done:
      break;
  }
  return finish("a reply arrived when none was expected");
}

ClientDialogue::Action ClientDialogue::on_tls_established() {
  if (state_ != State::tls_handshake) return finish("TLS came up when no handshake was pending");
  facts_.tls_completed = true;
  if (options_.kind == ServiceKind::smtps) {
    state_ = State::banner;
    return read();
  }
  // RFC 3207 4.2: no new greeting after STARTTLS; the client starts over with EHLO.
  state_ = State::ehlo_tls;
  return send("EHLO " + options_.ehlo_name);
}

ClientDialogue::Action ClientDialogue::on_tls_failed(const std::string& why) {
  // The connection is in an unknown state after a failed handshake: close, no QUIT.
  facts_.tls_completed = false;
  return finish("the TLS handshake failed: " + why);
}

}  // namespace egress25::smtp
