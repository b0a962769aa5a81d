// One SMTP probe: connect, banner, EHLO, STARTTLS, TLS, EHLO, QUIT, keeping every byte.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "early_connect.hpp"
#include "evidence.hpp"

namespace egress25::client {

namespace net = boost::asio;

struct ProbeSpec {
  std::string host;  // as the user named it
  net::ip::address address;
  std::uint16_t port = 0;
  ServiceKind kind = ServiceKind::smtp;
  std::string probe_tag;
  // No defaults: every probe gets all three from its check (check_plan's probe_timeouts).
  // How long a SYN may go unanswered: the budget for a silent path.
  std::chrono::milliseconds connect_timeout{};
  // How long one step of a live dialogue (a reply, a write, the TLS handshake) may take.
  std::chrono::milliseconds step_timeout{};
  // The whole probe, whatever happens.
  std::chrono::milliseconds budget{};
  // EHLO argument and SNI; empty: the probe tag's hostname (for the reflector only).
  std::string ehlo_name;
  // Called once, as soon as the TCP handshake completes (a trace started in case the
  // SYN goes unanswered is then no longer needed).
  std::function<void()> on_connected = {};
  // Its TCP connect, when it was started early (early_connect.hpp): the probe waits for
  // it until `connect_timeout` after its SYN, and counts its time from then.
  std::shared_ptr<EarlyConnect> early = {};
};

// Runs one probe. Never throws for a network failure: refused, reset, timed out, an ICMP
// error or a TLS alert are all recorded in the result. `tls` must not verify the peer:
// the reflector's certificate is pinned by fingerprint, compared later.
net::awaitable<ClientProbe> run_smtp_probe(ProbeSpec spec, net::ssl::context& tls);

// A TLS client context for probes: no certificate verification, TLS 1.2 or later.
net::ssl::context make_probe_tls_context();

}  // namespace egress25::client
