// One SMTP connection on a mail port, plain with STARTTLS or implicit TLS: the same
// dialogue over a stream that may switch to TLS, recorded byte for byte.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <string>

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
  TlsIdentity& identity;
  std::string hostname;
  // A session's whole life, however slowly its bytes come (tests shorten it).
  std::chrono::steady_clock::duration session_lifetime = limits::smtp_session_lifetime;
  Metrics* metrics = nullptr;  // when --metrics
};

// Serves one connection until QUIT, a timeout, an error or a cap; never throws for a
// network failure (those end up in the record's end_reason).
net::awaitable<void> run_smtp_session(net::ip::tcp::socket socket, ServiceKind kind,
                                      SmtpContext& context);

}  // namespace egress25::reflector
