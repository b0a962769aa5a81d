// The control service: the request handler (no I/O) and the coroutine that serves one
// control connection with capped framing, a request budget and an idle deadline.
#pragma once

#include <boost/asio.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "connect_back.hpp"
#include "control_protocol.hpp"
#include "fair_share.hpp"
#include "limits.hpp"
#include "session_store.hpp"

namespace egress25::reflector {

namespace net = boost::asio;

class PacketWitness;
class Metrics;

struct ControlConfig {
  std::vector<control::Service> services;  // ports as bound
  std::string tls_fingerprint;
  std::string banner_identity;
  std::string version;
  control::WitnessStatus witness;
  std::optional<std::string> secret;              // --secret-file: HELLO must carry it
  const PacketWitness* packet_witness = nullptr;  // when active
  Metrics* metrics = nullptr;                     // when --metrics
  // CONNECT_BACK (check --inbound): the rules and what a connect-back needs; without a
  // gate the reflector answers that it does not connect back.
  ConnectBackGate* connect_back = nullptr;
  const ConnectBackIo* connect_back_io = nullptr;
};

class ControlService {
 public:
  ControlService(SessionStore& store, ControlConfig config)
      : store_(store), config_(std::move(config)) {}

  struct Peer {
    std::string address;  // unmapped
    std::uint16_t port = 0;
    Family family = Family::ipv4;
  };

  struct Handled {
    control::Response response;
    std::string log_line;  // what happened, for the one log line per request (no secrets)
  };

  // HELLO and REPORT, answered at once. A CONNECT_BACK goes to connect_back().
  Handled handle(const control::Request& request, const Peer& peer, std::int64_t now_ms);

  // CONNECT_BACK's rules (no I/O): `answer` when there is nothing to connect back to (an
  // error, or every port refused), else the plan, its ports claimed for the session and
  // counted in the gate (connect_back() releases them).
  struct ConnectBackStart {
    std::optional<Handled> answer;
    ConnectBackGate::Plan plan;
    std::string probe_id;  // the session's, for the log
  };
  ConnectBackStart begin_connect_back(const control::ConnectBackRequest& request, const Peer& peer,
                                      std::int64_t now_ms);
  // The rules, then each planned port in parallel (connect, EHLO/QUIT, a trace when no
  // connection was made), one log line each, and the answer.
  net::awaitable<Handled> connect_back(const control::ConnectBackRequest& request, Peer peer,
                                       std::int64_t now_ms);

  // A reload (SIGHUP): the fingerprint HELLO advertises and the secret it requires. The
  // sessions and the rest of the configuration stay.
  void reload(std::string tls_fingerprint, std::optional<std::string> secret) {
    config_.tls_fingerprint = std::move(tls_fingerprint);
    config_.secret = std::move(secret);
  }
  const ControlConfig& config() const { return config_; }
  // A REPORT's witness flows must include what the capture took before it arrived:
  // true when no witness runs, or when it has caught up with `unix_ms`.
  bool witness_caught_up(std::int64_t unix_ms) const;

 private:
  Handled hello(const control::HelloRequest& request, const Peer& peer, std::int64_t now_ms);
  Handled report(const control::ReportRequest& request, std::int64_t now_ms);
  bool secret_ok(const std::optional<std::string>& offered) const;
  // Why a HELLO got no session: the sentence for the client, and the log's words.
  std::pair<std::string, std::string> refusal_words(CreateRefusal refusal, const Peer& peer) const;
  // The witness as it is now: a capture may have stopped since start-up.
  control::WitnessStatus witness_status() const;

  SessionStore& store_;
  ControlConfig config_;
};

// Serves one control connection until the peer closes, a frame is bad, the request
// budget is spent, it idles, its lifetime is over or the table that gave `slot` closes
// it. Never throws for a network failure.
net::awaitable<void> run_control_session(
    net::ip::tcp::socket socket, ControlService& service,
    std::chrono::steady_clock::duration lifetime = limits::control_connection_lifetime,
    std::optional<ConnectionTable::Slot> slot = std::nullopt);

}  // namespace egress25::reflector
