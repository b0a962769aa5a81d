// What a sans-io SMTP dialogue and the I/O layer say to each other: the layer reports how
// the last action went (an Event), the dialogue answers with the next Action.
//
// The shape is Boost.MySQL's sans-io algorithms (impl/internal/sansio): one resume(event)
// entry point, every I/O result (bytes, a write done, TLS up or failed, an error, a
// timeout, the peer gone) goes through it, and the answer is read, write, start TLS or
// close. The dialogue keeps the protocol state, the TLS state and the transcript, and
// decides what an I/O failure means; the coroutine that owns the socket only performs
// actions. Both dialogues use it: smtp::ClientDialogue (common/) and the reflector's
// SmtpServerDialogue.
#pragma once

#include <boost/system/error_code.hpp>
#include <chrono>
#include <string>
#include <string_view>

namespace egress25::smtp {

struct Event {
  enum class Kind {
    start,        // the connection is up; nothing done yet
    received,     // bytes arrived: `bytes`, valid during resume() only
    written,      // the whole write completed
    tls_up,       // the TLS handshake completed
    tls_failed,   // the TLS handshake failed: `error`, `detail` (the system's words)
    io_error,     // a read or write failed: `error`, `detail`
    timed_out,    // the action's deadline passed: `waited`, and `detail` when the I/O
                  // layer has a reason of its own (the reflector's idle or lifetime clock)
    peer_closed,  // the peer ended the stream: a FIN, or TLS ended without close_notify
                  // (`truncated`)
  };
  Kind kind = Kind::start;
  std::string_view bytes;
  boost::system::error_code error;
  std::string detail;
  std::chrono::milliseconds waited{0};
  bool truncated = false;

  static Event start() { return {}; }
  static Event received(std::string_view b) { return {Kind::received, b, {}, {}, {}, false}; }
  static Event written() { return {Kind::written, {}, {}, {}, {}, false}; }
  static Event tls_up() { return {Kind::tls_up, {}, {}, {}, {}, false}; }
  static Event tls_failed(boost::system::error_code ec, std::string why) {
    return {Kind::tls_failed, {}, ec, std::move(why), {}, false};
  }
  static Event io_error(boost::system::error_code ec, std::string why) {
    return {Kind::io_error, {}, ec, std::move(why), {}, false};
  }
  static Event timed_out(std::chrono::milliseconds waited, std::string why = {}) {
    return {Kind::timed_out, {}, {}, std::move(why), waited, false};
  }
  static Event peer_closed(bool truncated = false) {
    return {Kind::peer_closed, {}, {}, {}, {}, truncated};
  }
};

struct Action {
  enum class Kind {
    read,       // read some bytes, then resume(received) (or the failure)
    write,      // write all of `bytes`, then resume(written) (or the failure)
    start_tls,  // run the TLS handshake, then resume(tls_up) / resume(tls_failed)
    close,      // the dialogue is over: close the connection; its outcome says how it ended
  };
  Kind kind = Kind::close;
  std::string bytes;  // write: whole CRLF-terminated lines
  // read and write: through TLS (the dialogue's TLS state, as Boost.MySQL's use_ssl).
  bool tls = false;
  // write: the last words before a close (a 421): worth a short deadline only.
  bool farewell = false;

  bool done() const { return kind == Kind::close; }
};

}  // namespace egress25::smtp
