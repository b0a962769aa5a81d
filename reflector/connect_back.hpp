// Connect-back (`egress25 check --inbound`): the rules that decide which ports a session
// may have the reflector connect back to (no I/O), and the coroutine that connects back,
// reads the banner, says EHLO and QUIT, and traces toward the client when it got nothing.
//
// Safe by construction: the target is never a parameter a client sets. The control
// connection's own source address is the only address, the fixed mail ports (25, 465,
// 587, shifted by --port-offset) the only ports, each once per family and session, and
// the only bytes sent are one EHLO and one QUIT (and a TLS ClientHello on 465).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "control_protocol.hpp"
#include "fair_share.hpp"
#include "limits.hpp"

namespace egress25::reflector {

struct ConnectBackRules {
  bool enabled = true;            // --connect-back on|off
  std::uint16_t port_offset = 0;  // --port-offset: the mail ports move with the reflector's
  double rate_per_minute = limits::connect_back_rate;
  std::size_t max_concurrent = limits::max_concurrent_connect_backs;
};

// The reflector-wide state of connect-backs: the rate and the ones under way. Used from
// the io_context's thread only.
class ConnectBackGate {
 public:
  explicit ConnectBackGate(ConnectBackRules rules);

  // The ports it ever connects back to: 25 and 587 (SMTP), 465 (implicit TLS), each plus
  // the port offset.
  std::vector<control::Service> ports() const;
  const ConnectBackRules& rules() const { return rules_; }

  struct Plan {
    std::vector<control::Service> connect;  // in the order asked, each port once
    std::vector<control::ConnectBackRefusal> refused;
    std::optional<std::uint16_t> reference_port;
  };
  // Which of the request's ports to connect back to over `family`, claiming each in
  // `claimed` (the session's) and in the reflector's rate and concurrency: a port not in
  // ports(), already claimed for the family, or past a cap is refused with the reason.
  // The caller has checked the session and that the peer is its address.
  Plan plan(const control::ConnectBackRequest& request, Family family,
            std::set<std::pair<std::uint16_t, Family>>& claimed, std::int64_t now_ms);
  // `n` connect-backs a plan started have ended.
  void release(std::size_t n);
  std::size_t in_flight() const { return in_flight_; }

 private:
  ConnectBackRules rules_;
  RateTable rate_;
  std::size_t in_flight_ = 0;
};

// What a connect-back needs besides its target.
struct ConnectBackIo {
  boost::asio::ssl::context* tls = nullptr;  // a client context for 465 (no verification)
  std::string ehlo_name;                     // the reflector's own name (--hostname)
  std::chrono::milliseconds connect_timeout = limits::connect_back_connect_timeout;
  std::chrono::milliseconds reply_timeout = limits::connect_back_reply_timeout;
  std::chrono::milliseconds trace_budget = limits::connect_back_trace_budget;
};

// Connects to `target` on `service`: banner, EHLO, QUIT (after a TLS handshake on an
// smtps port), and nothing else, whatever the peer says. The connect-back's dialogue, and
// the self-test's (self_test.hpp). Every network failure is recorded, never thrown.
boost::asio::awaitable<InboundAttempt> greet(boost::asio::ip::address target,
                                             control::Service service, const ConnectBackIo& io);

// Connects back to `target` on `service` (greet()); when the connection was not made,
// traces `service.port` beside
// `reference_port` toward `target`. Every network failure is recorded, never thrown.
boost::asio::awaitable<InboundAttempt> connect_back(boost::asio::ip::address target,
                                                    control::Service service,
                                                    std::optional<std::uint16_t> reference_port,
                                                    const ConnectBackIo& io);

// One line for the log: what the connect-back met ("banner 220 mx.example.org ESMTP",
// "refused", "no answer within 5000 ms", "ICMP ... from 198.51.100.1"), and its trace.
std::string describe(const InboundAttempt& attempt);

}  // namespace egress25::reflector
