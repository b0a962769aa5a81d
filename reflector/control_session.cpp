// The control service: the request handler (no I/O) and the coroutine that serves one
// control connection with capped framing, a request budget and an idle deadline.
#include "control_session.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>
#include <boost/asio/experimental/parallel_group.hpp>

#include "limits.hpp"
#include "listener.hpp"
#include "logging.hpp"
#include "metrics.hpp"
#include "packet_witness.hpp"
#include "timed_io.hpp"

namespace egress25::reflector {

namespace {

using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

control::ErrorResponse error(control::ErrorCode code, std::string message) {
  return control::ErrorResponse{code, std::move(message)};
}

RefusalReason metrics_reason(CreateRefusal r) {
  switch (r) {
    case CreateRefusal::address_full:
    case CreateRefusal::prefix_full:
      return RefusalReason::sessions_per_source;
    case CreateRefusal::address_rate:
    case CreateRefusal::prefix_rate:
      return RefusalReason::sessions_rate;
    case CreateRefusal::table_full:
    case CreateRefusal::none:
      break;
  }
  return RefusalReason::sessions_total;
}

}  // namespace

bool ControlService::secret_ok(const std::optional<std::string>& offered) const {
  if (!config_.secret) return true;
  if (!offered) return false;
  // Compare digests in constant time: neither the secret's bytes nor its length leak
  // through how long a wrong guess takes.
  unsigned char a[SHA256_DIGEST_LENGTH];
  unsigned char b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(offered->data()), offered->size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(config_.secret->data()), config_.secret->size(), b);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

std::pair<std::string, std::string> ControlService::refusal_words(CreateRefusal refusal,
                                                                  const Peer& peer) const {
  const auto& l = store_.limits();
  const auto keys = source_keys(peer.address, l.prefixes);
  auto rate = [](double per_minute) {
    return std::to_string(static_cast<long long>(per_minute)) + " a minute";
  };
  const std::string later = "; this says nothing about your network: try again in a minute";
  switch (refusal) {
    case CreateRefusal::address_rate:
      return {"your address " + keys.address +
                  " asked for sessions faster than this reflector "
                  "serves one source (" +
                  rate(l.hello_rate_per_address) + ")" + later,
              "HELLOs from " + keys.address + " over " + rate(l.hello_rate_per_address)};
    case CreateRefusal::prefix_rate:
      return {"your network " + keys.prefix +
                  " asked for sessions faster than this reflector "
                  "serves one network (" +
                  rate(l.hello_rate_per_prefix) + ")" + later,
              "HELLOs from " + keys.prefix + " over " + rate(l.hello_rate_per_prefix)};
    case CreateRefusal::address_full:
      return {"your address " + keys.address +
                  " holds as many checks under way as one source "
                  "may (" +
                  std::to_string(l.max_sessions_per_address) + ")" + later,
              "sessions of " + keys.address + " at the cap (" +
                  std::to_string(l.max_sessions_per_address) + ")"};
    case CreateRefusal::prefix_full:
      return {"your network " + keys.prefix +
                  " holds as many checks under way as one network "
                  "may (" +
                  std::to_string(l.max_sessions_per_prefix) + ")" + later,
              "sessions of " + keys.prefix + " at the cap (" +
                  std::to_string(l.max_sessions_per_prefix) + ")"};
    case CreateRefusal::table_full:
    case CreateRefusal::none:
      break;
  }
  return {"the reflector is serving as many checks as it may (" + std::to_string(l.max_sessions) +
              ")" + later,
          "session table full of checks under way"};
}

ControlService::Handled ControlService::handle(const control::Request& request, const Peer& peer,
                                               std::int64_t now_ms) {
  if (const auto* h = std::get_if<control::HelloRequest>(&request)) return hello(*h, peer, now_ms);
  if (const auto* r = std::get_if<control::ReportRequest>(&request)) return report(*r, now_ms);
  // Only its rules can be judged without I/O: the connection serves it with connect_back().
  auto start = begin_connect_back(std::get<control::ConnectBackRequest>(request), peer, now_ms);
  if (start.answer) return std::move(*start.answer);
  if (config_.connect_back) config_.connect_back->release(start.plan.connect.size());
  return {error(control::ErrorCode::internal, "connect-back is served on a control connection"),
          "CONNECT_BACK outside a control connection"};
}

ControlService::ConnectBackStart ControlService::begin_connect_back(
    const control::ConnectBackRequest& request, const Peer& peer, std::int64_t now_ms) {
  ConnectBackStart start;
  if (!config_.connect_back || !config_.connect_back->rules().enabled) {
    start.answer =
        Handled{error(control::ErrorCode::forbidden,
                      "this reflector does not connect back (its operator set --connect-back off)"),
                "CONNECT_BACK refused: --connect-back off"};
    return start;
  }
  const Session* session = store_.find_by_token(request.token, now_ms);
  auto* claimed = store_.connect_back_claims(request.token, now_ms);
  if (!session || !claimed) {
    start.answer =
        Handled{error(control::ErrorCode::unknown_token, "unknown or expired session token"),
                "CONNECT_BACK refused: unknown token"};
    return start;
  }
  // The only target is the address this request comes from, and only when it is the
  // session's own: a token alone never points the reflector anywhere.
  const auto& own = peer.family == Family::ipv4 ? session->public_ipv4 : session->public_ipv6;
  if (!own || *own != peer.address) {
    start.answer =
        Handled{error(control::ErrorCode::forbidden,
                      "this control connection comes from " + peer.address +
                          ", which is not the session's address over " +
                          (peer.family == Family::ipv4 ? "IPv4" : "IPv6") +
                          ": the reflector connects back only to the address that opened or joined "
                          "the session, over its own control connection"),
                "CONNECT_BACK refused: " + peer.address + " is not the session's address"};
    return start;
  }
  if (request.reference_port && *request.reference_port < limits::min_reference_port) {
    start.answer =
        Handled{error(control::ErrorCode::forbidden,
                      "the reference port must be " + std::to_string(limits::min_reference_port) +
                          " or above (the client's own listener, which needs no privilege)"),
                "CONNECT_BACK refused: reference port " + std::to_string(*request.reference_port)};
    return start;
  }
  start.probe_id = session->probe_id;
  start.plan = config_.connect_back->plan(request, peer.family, *claimed, now_ms);
  if (start.plan.connect.empty()) {
    control::ConnectBackResponse r;
    r.address = peer.address;
    r.family = peer.family;
    r.refused = start.plan.refused;
    std::string line =
        "CONNECT_BACK: session " + session->probe_id + ", nothing to connect back to";
    for (const auto& x : r.refused) line += "; " + std::to_string(x.port) + ": " + x.reason;
    start.answer = Handled{std::move(r), std::move(line)};
  }
  return start;
}

net::awaitable<ControlService::Handled> ControlService::connect_back(
    const control::ConnectBackRequest& request, Peer peer, std::int64_t now_ms) {
  auto start = begin_connect_back(request, peer, now_ms);
  if (start.answer) co_return std::move(*start.answer);
  // The ports claimed in the gate are released however this ends.
  struct Release {
    ConnectBackGate& gate;
    std::size_t n;
    ~Release() { gate.release(n); }
  } release{*config_.connect_back, start.plan.connect.size()};

  boost::system::error_code ec;
  const auto target = net::ip::make_address(peer.address, ec);
  control::ConnectBackResponse r;
  r.address = peer.address;
  r.family = peer.family;
  r.refused = start.plan.refused;
  if (ec) {
    co_return Handled{error(control::ErrorCode::internal, "the peer's address did not parse"),
                      "CONNECT_BACK failed: " + peer.address + " did not parse"};
  }
  auto ex = co_await net::this_coro::executor;
  static const ConnectBackIo default_io;
  const ConnectBackIo& io = config_.connect_back_io ? *config_.connect_back_io : default_io;
  const control::Service some_service;
  const std::optional<std::uint16_t> some_port;
  using Op = decltype(net::co_spawn(
      ex, egress25::reflector::connect_back(target, some_service, some_port, io), net::deferred));
  std::vector<Op> ops;
  for (const auto& service : start.plan.connect)
    ops.push_back(net::co_spawn(
        ex, egress25::reflector::connect_back(target, service, start.plan.reference_port, io),
        net::deferred));
  auto [order, exceptions, attempts] =
      co_await net::experimental::make_parallel_group(std::move(ops))
          .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
  (void)order;
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    if (exceptions[i]) continue;  // a bug, not a network failure: the port is left out
    // Every connect-back is named in the log, unsummarised: the gate's rate bounds them.
    const net::ip::tcp::endpoint to(target, attempts[i].port);
    LOG(info) << "connect-back to " << endpoint_text(to) << " (session " << start.probe_id
              << "): " << describe(attempts[i]);
    r.attempts.push_back(std::move(attempts[i]));
  }
  std::string line = "CONNECT_BACK: session " + start.probe_id + ", " +
                     std::to_string(r.attempts.size()) + " ports connected back to, " +
                     std::to_string(r.refused.size()) + " refused";
  co_return Handled{std::move(r), std::move(line)};
}

ControlService::Handled ControlService::hello(const control::HelloRequest& request,
                                              const Peer& peer, std::int64_t now_ms) {
  if (!secret_ok(request.secret))
    return {error(control::ErrorCode::forbidden,
                  "this reflector serves only clients that hold its secret (--secret-file)"),
            "HELLO refused: secret missing or wrong"};
  const Session* session = nullptr;
  std::string what;
  if (request.token) {
    session = store_.join(*request.token, peer.address, peer.family, now_ms);
    if (!session)
      return {error(control::ErrorCode::unknown_token, "unknown or expired session token"),
              "HELLO refused: unknown token"};
    what = "joined session " + session->probe_id;
  } else {
    CreateRefusal refusal = CreateRefusal::none;
    session = store_.create(peer.address, peer.family, now_ms, &refusal);
    if (!session) {
      if (config_.metrics) config_.metrics->refused(metrics_reason(refusal));
      auto [message, line] = refusal_words(refusal, peer);
      return {error(control::ErrorCode::busy, message), "HELLO refused: " + line};
    }
    if (config_.metrics) config_.metrics->session_opened();
    what = "new session " + session->probe_id;
    if (request.probes_started_ms_ago) {
      const std::string token = session->token;
      store_.set_probes_since(token, *request.probes_started_ms_ago, now_ms);
      session = store_.find_by_token(token, now_ms);
    }
  }
  control::HelloResponse r;
  r.token = session->token;
  r.probe_id = session->probe_id;
  r.client_address = peer.address;
  r.client_port = peer.port;
  r.family = peer.family;
  r.services = config_.services;
  r.tls_fingerprint = config_.tls_fingerprint;
  r.banner_identity = config_.banner_identity;
  r.version = config_.version;
  r.witness = witness_status();
  r.server_time_unix_ms = now_ms;
  r.session_expires_unix_ms = session->expires_unix_ms;
  r.witness_lookback_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(limits::witness_lookback).count();
  return {std::move(r),
          "HELLO: " + what + " (client " + printable(request.client_version, 40) + ")"};
}

bool ControlService::witness_caught_up(std::int64_t unix_ms) const {
  return !config_.packet_witness || !config_.witness.active ||
         config_.packet_witness->caught_up(unix_ms);
}

control::WitnessStatus ControlService::witness_status() const {
  // A capture that died after start-up must not report "active" with no flows: that
  // reads as "no SYN arrived" and blames the path.
  if (config_.packet_witness && config_.witness.active) {
    if (auto failed = config_.packet_witness->capture_error(); !failed.empty())
      return {false, "the packet witness stopped: " + failed};
  }
  return config_.witness;
}

ControlService::Handled ControlService::report(const control::ReportRequest& request,
                                               std::int64_t now_ms) {
  const Session* session = store_.find_by_token(request.token, now_ms);
  if (!session)
    return {error(control::ErrorCode::unknown_token, "unknown or expired session token"),
            "REPORT refused: unknown token"};
  control::ReportResponse r;
  r.connections.reserve(session->connections.size());
  for (const auto& c : session->connections) r.connections.push_back(*c);
  r.untagged = store_.untagged_for(*session);
  r.refused = store_.refused_for(*session, now_ms);
  r.witness = witness_status();
  r.public_ipv4 = session->public_ipv4;
  r.public_ipv6 = session->public_ipv6;
  r.connections_dropped = session->connections_dropped;
  if (config_.packet_witness && r.witness.active) {
    std::vector<std::string> addresses;
    if (session->public_ipv4) addresses.push_back(*session->public_ipv4);
    if (session->public_ipv6) addresses.push_back(*session->public_ipv6);
    // From the probes' first SYN: they may have left beside the control connection,
    // before HELLO made the session.
    r.witness_flows = config_.packet_witness->flows_from(addresses, session->probes_since_unix_ms);
    if (r.witness_flows.size() > limits::max_witness_flows_per_report) {
      // Part of the flows would read as "no SYN seen" for the rest: say nothing instead.
      r.witness = {false, "the packet witness saw " + std::to_string(r.witness_flows.size()) +
                              " flows from your address since the session began (a flood, "
                              "or forged SYNs), too many to tell your probes apart"};
      r.witness_flows.clear();
    }
  }
  store_.note_reported(request.token, now_ms);
  std::string line =
      "REPORT: session " + session->probe_id + ", " + std::to_string(r.connections.size()) +
      " connections (" + std::to_string(r.connections_dropped) + " dropped), " +
      std::to_string(r.untagged.size()) + " untagged, " + std::to_string(r.refused.size()) +
      " refusals, " + std::to_string(r.witness_flows.size()) + " witness flows";
  return {std::move(r), std::move(line)};
}

namespace {

// Reads go into one buffer the thread shares: a read waits for readability with no
// buffer, then takes what is there and hands it to the decoder before anything else
// runs, so an idle connection holds no read buffer.
thread_local std::array<char, limits::session_read_size> shared_read_buffer;

class ControlConnection {
 public:
  ControlConnection(tcp::socket socket, ControlService& service,
                    std::chrono::steady_clock::duration lifetime,
                    std::optional<ConnectionTable::Slot> slot)
      : socket_(std::move(socket)),
        service_(service),
        clock_{std::chrono::steady_clock::now(), lifetime, limits::control_idle_timeout},
        deadline_(socket_.get_executor()),
        slot_(std::move(slot)) {
    error_code ec;
    const auto peer = socket_.remote_endpoint(ec);
    peer_.address = unmapped(peer.address()).to_string();
    peer_.port = peer.port();
    peer_.family = family_of(peer.address());
    peer_text_ = endpoint_text(peer);
    prefix_ = source_keys(peer.address(), {}).prefix;
  }

  net::awaitable<void> run() {
    // Closed by the table (to make room, under stress, at shutdown): nothing is said, as
    // an unasked frame would be read as the answer to the client's next request; a client
    // reconnects for its REPORT when its connection is gone.
    if (slot_)
      slot_->on_close([this](CloseReason) {
        closed_by_table_ = true;
        error_code ec;
        socket_.close(ec);
      });
    co_await serve();
    if (!closed_by_table_) co_await lingering_close(socket_, deadline_);
  }

 private:
  net::awaitable<void> serve() {
    for (;;) {
      if (closed_by_table_) co_return;
      auto frame = decoder_.next();
      if (frame.status == control::FrameDecoder::Status::error) {
        co_await fail(control::ErrorCode::too_large, frame.error);
        co_return;
      }
      if (frame.status == control::FrameDecoder::Status::frame) {
        auto decoded = control::decode_request(frame.payload);
        if (auto* bad = std::get_if<control::ErrorResponse>(&decoded)) {
          co_await fail(bad->code, bad->message);
          co_return;
        }
        const auto& request = std::get<control::Request>(decoded);
        if (std::holds_alternative<control::ReportRequest>(request))
          co_await wait_for_witness(unix_ms_now());
        if (closed_by_table_) co_return;
        ControlService::Handled handled;
        if (const auto* cb = std::get_if<control::ConnectBackRequest>(&request))
          handled = co_await service_.connect_back(*cb, peer_, unix_ms_now());
        else
          handled = service_.handle(request, peer_, unix_ms_now());
        const bool refused = std::holds_alternative<control::ErrorResponse>(handled.response);
        if (!refused && slot_) slot_->note_useful();
        LOG_EVERY(info, "control requests from " + prefix_)
            << "control " << peer_text_ << " " << handled.log_line;
        if (!co_await send(handled.response) || refused) co_return;
        if (++requests_ >= limits::max_requests_per_control_connection) {
          LOG_EVERY(info, "control connections closed for their request budget")
              << "control " << peer_text_ << " closed: request budget spent";
          co_return;
        }
        continue;
      }
      const auto wait = clock_.next_wait();
      deadline_.arm(socket_, wait.timeout);
      auto [wait_ec] =
          co_await socket_.async_wait(tcp::socket::wait_read, net::as_tuple(net::use_awaitable));
      const bool timed_out = deadline_.disarm();
      if (closed_by_table_) co_return;
      if (timed_out) {
        LOG_EVERY(debug, "control connections closed idle")
            << "control " << peer_text_
            << " closed: " << (wait.last ? "connection time limit" : "idle");
        co_return;
      }
      if (wait_ec) co_return;
      error_code ec;
      socket_.non_blocking(true, ec);
      const auto n = ec ? 0 : socket_.read_some(net::buffer(shared_read_buffer), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) continue;
      if (n > 0) {
        if (slot_) slot_->note_active(steady_ms_now());
        decoder_.feed(std::string_view(shared_read_buffer.data(), n));
      }
      if (ec) co_return;  // the peer closed: the ordinary end of a control connection
    }
  }

  // The capture hands packets over a few milliseconds late (a block at a time): a REPORT
  // waits until it has caught up with the REPORT's arrival, witness_report_wait at most,
  // so that a SYN or reset of the last moment is in it.
  net::awaitable<void> wait_for_witness(std::int64_t arrived_unix_ms) {
    const auto until = std::chrono::steady_clock::now() + limits::witness_report_wait;
    net::steady_timer timer(socket_.get_executor());
    while (!service_.witness_caught_up(arrived_unix_ms) &&
           std::chrono::steady_clock::now() < until) {
      timer.expires_after(std::chrono::milliseconds(1));
      co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    }
  }

  // An error frame, then the connection closes: after a bad frame the stream cannot be
  // trusted to be in step.
  net::awaitable<void> fail(control::ErrorCode code, const std::string& message) {
    LOG_EVERY(info, "bad control requests from " + prefix_)
        << "control " << peer_text_ << " bad request: " << to_string(code) << ": "
        << printable(message, 200);
    co_await send(error(code, message));
  }

  net::awaitable<bool> send(const control::Response& response) {
    auto payload = control::encode(response);
    if (payload.size() > limits::max_response_frame) {
      LOG(error) << "control " << peer_text_ << " response of " << payload.size()
                 << " bytes is over the cap; sending an error instead";
      payload = control::encode(control::Response{
          error(control::ErrorCode::internal, "the report is larger than the frame cap")});
    }
    const auto frame = control::encode_frame(payload);
    auto r = co_await deadline_.run(
        socket_, net::async_write(socket_, net::buffer(frame), net::as_tuple(net::use_awaitable)),
        limits::control_idle_timeout);
    co_return r && !std::get<0>(*r);
  }

  tcp::socket socket_;
  ControlService& service_;
  ControlService::Peer peer_;
  std::string peer_text_;
  std::string prefix_;
  io::SessionClock clock_;  // idle: control_idle_timeout; lifetime: as given
  Deadline deadline_;
  control::FrameDecoder decoder_{limits::max_request_frame};
  int requests_ = 0;
  std::optional<ConnectionTable::Slot> slot_;
  bool closed_by_table_ = false;
};

}  // namespace

net::awaitable<void> run_control_session(tcp::socket socket, ControlService& service,
                                         std::chrono::steady_clock::duration lifetime,
                                         std::optional<ConnectionTable::Slot> slot) {
  ControlConnection connection(std::move(socket), service, lifetime, std::move(slot));
  co_await connection.run();
}

}  // namespace egress25::reflector
