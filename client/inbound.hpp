// `egress25 check --inbound`: the listeners on this computer (the reference port the
// reflector traces beside the mail ports, and with --inbound-listen the mail ports
// themselves), the CONNECT_BACK request over a family's own control connection, and the
// inbound probes' evidence and verdicts.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control_protocol.hpp"
#include "evidence.hpp"
#include "inbound_judgement.hpp"

namespace egress25::client {

namespace net = boost::asio;

// Listeners of one address family for the duration of a check. Each answers like a
// small mail server, "220 <nonce>.inbound.egress25.invalid egress25 inbound listener",
// then 250 to EHLO and 221 to QUIT, and closes: the greeting coming back in the
// reflector's answer proves the connect-back reached this very machine, whatever
// address the connection arrived from.
class InboundListeners {
 public:
  // A reference listener on a port the kernel picks (always), and with `listen` one on
  // each of `ports` (each as far as it can: a port in use or below 1024 without the
  // privilege is noted, not fatal).
  InboundListeners(net::any_io_executor executor, Family family, std::vector<std::uint16_t> ports,
                   bool listen, std::string nonce);
  ~InboundListeners();
  InboundListeners(const InboundListeners&) = delete;
  InboundListeners& operator=(const InboundListeners&) = delete;

  // The reference port the reflector traces beside the mail ports; nullopt when none
  // could be opened.
  std::optional<std::uint16_t> reference_port() const { return reference_port_; }
  // Whether this computer listened on `port` during the check.
  bool listening(std::uint16_t port) const;
  // One sentence for the report: listened (and whether anything arrived), or why not.
  std::string note(std::uint16_t port) const;
  // Connections the listener on `port` accepted.
  int accepted(std::uint16_t port) const;
  // The greeting's token: a banner that carries it came from one of these listeners.
  const std::string& nonce() const { return nonce_; }
  void close();

 private:
  struct Port;
  net::awaitable<void> serve(std::shared_ptr<Port> port);
  net::any_io_executor executor_;
  Family family_;
  std::string nonce_;
  std::optional<std::uint16_t> reference_port_;
  std::map<std::uint16_t, std::shared_ptr<Port>> ports_;
  std::shared_ptr<Port> reference_;
};

// What the reflector answered to one family's CONNECT_BACK.
struct ConnectBackOutcome {
  Family family = Family::ipv4;
  std::optional<control::ConnectBackResponse> response;
  std::string error;  // why there is none: the request failed or the reflector refused
  bool refused_by_reflector = false;
};

// Opens a control connection of its own to `endpoints` (the family's), and asks the
// reflector to connect back to this connection's source address on `ports`, tracing
// beside `reference_port`. Never throws for a network failure.
net::awaitable<ConnectBackOutcome> request_connect_back(
    net::any_io_executor executor, std::vector<net::ip::tcp::endpoint> endpoints, Family family,
    std::string token, std::vector<std::uint16_t> ports,
    std::optional<std::uint16_t> reference_port, std::chrono::milliseconds control_timeout);

// The evidence for one inbound probe (port, family), from the reflector's answer and
// this computer's listeners and addresses.
InboundEvidence inbound_evidence(std::uint16_t port, const ConnectBackOutcome& outcome,
                                 const InboundListeners* listeners,
                                 std::vector<std::string> local_addresses);

// The inbound probes' sentences for the summary, in plain words: who stops inbound mail
// ("Your ISP drops inbound port 25 ... at hop 2 from the reflector"), "" without any.
struct InboundRow {
  std::uint16_t port = 0;
  Family family = Family::ipv4;
  std::string address;  // the public address connected back to
  Classification classification;
  std::string banner;  // the greeting's first line, when one came
  std::optional<bool> reached_this_machine;
};
std::string inbound_sentences(const std::vector<InboundRow>& rows);

}  // namespace egress25::client
