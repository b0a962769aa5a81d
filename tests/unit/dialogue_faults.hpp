// The I/O faults the two SMTP dialogue tests inject at every step of an exchange (the
// probe's smtp::ClientDialogue, the reflector's SmtpServerDialogue), and their names.
#pragma once

#include <string>

namespace egress25::dialogue_test {

// What replaces the result of one action: how each becomes an Event is the test's own.
enum class Fault {
  reset,        // connection reset
  io_error,     // another I/O error (unreachable)
  timeout,      // the action's deadline passed
  peer_closed,  // a FIN
  truncated,    // TLS ended without close_notify
  tls_failure,  // the handshake failed
  malformed,    // bytes that break the protocol
  shutdown,     // the reflector stops (SIGTERM): its side only
};

inline std::string fault_name(Fault f) {
  switch (f) {
    case Fault::reset:
      return "reset";
    case Fault::io_error:
      return "io_error";
    case Fault::timeout:
      return "timeout";
    case Fault::peer_closed:
      return "peer_closed";
    case Fault::truncated:
      return "truncated";
    case Fault::tls_failure:
      return "tls_failure";
    case Fault::malformed:
      return "malformed";
    case Fault::shutdown:
      return "shutdown";
  }
  return "?";
}

}  // namespace egress25::dialogue_test
