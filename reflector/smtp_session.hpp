// One SMTP connection on a mail port, plain with STARTTLS or implicit TLS: the same
// dialogue over a stream that may switch to TLS, recorded byte for byte.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "fair_share.hpp"
#include "limits.hpp"
#include "net_types.hpp"
#include "session_store.hpp"
#include "tls_identity.hpp"

namespace egress25::reflector {

class Metrics;

namespace net = boost::asio;

// What every SMTP session shares. Outlives the sessions (see Reflector).
struct SmtpContext {
  SessionStore& store;
  // The identity TLS is offered with. A reload replaces it; a session keeps the one it
  // began with, so a handshake in flight never sees a half-changed context.
  std::shared_ptr<TlsIdentity> identity;
  std::string hostname;
  // A session's whole life, however slowly its bytes come (tests shorten it).
  std::chrono::steady_clock::duration session_lifetime = limits::smtp_session_lifetime;
  // How long a connection may go without showing a live session's tag.
  std::chrono::steady_clock::duration untagged_lifetime = limits::untagged_smtp_lifetime;
  Metrics* metrics = nullptr;  // when --metrics
};

// Serves one connection until QUIT, a timeout, an error, a cap, or the table that gave
// `slot` asks it to close (to make room, under stress, at shutdown: a 421 says which);
// never throws for a network failure (those end up in the record's end_reason).
net::awaitable<void> run_smtp_session(net::ip::tcp::socket socket, ServiceKind kind,
                                      SmtpContext& context,
                                      std::optional<ConnectionTable::Slot> slot = std::nullopt);

// The 421 a connection closed by the table gets, in place of its next reply.
std::string closing_reply(CloseReason why, std::string_view hostname);

}  // namespace egress25::reflector
