// The control service: the request handler (no I/O) and the coroutine that serves one
// control connection with capped framing, a request budget and an idle deadline.
#include "control_session.hpp"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>

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

ControlService::Handled ControlService::handle(const control::Request& request, const Peer& peer,
                                               std::int64_t now_ms) {
  if (const auto* h = std::get_if<control::HelloRequest>(&request)) return hello(*h, peer, now_ms);
  return report(std::get<control::ReportRequest>(request), now_ms);
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
    if (!session && config_.metrics)
      config_.metrics->refused(refusal == CreateRefusal::source_full
                                   ? RefusalReason::sessions_per_source
                                   : RefusalReason::sessions_total);
    if (!session && refusal == CreateRefusal::source_full)
      return {error(control::ErrorCode::busy,
                    "your address holds as many sessions as one source may; try again in a "
                    "few minutes"),
              "HELLO refused: sessions per source at the cap"};
    if (!session)
      return {error(control::ErrorCode::busy,
                    "the reflector is serving as many sessions as it may; try again in a few "
                    "minutes"),
              "HELLO refused: session table full"};
    if (config_.metrics) config_.metrics->session_opened();
    what = "new session " + session->probe_id;
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
  return {std::move(r),
          "HELLO: " + what + " (client " + printable(request.client_version, 40) + ")"};
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
    r.witness_flows = config_.packet_witness->flows_from(addresses, session->started_unix_ms);
    if (r.witness_flows.size() > limits::max_witness_flows_per_report) {
      // Part of the flows would read as "no SYN seen" for the rest: say nothing instead.
      r.witness = {false, "the packet witness saw " + std::to_string(r.witness_flows.size()) +
                              " flows from your address since the session began (a flood, "
                              "or forged SYNs), too many to tell your probes apart"};
      r.witness_flows.clear();
    }
  }
  std::string line =
      "REPORT: session " + session->probe_id + ", " + std::to_string(r.connections.size()) +
      " connections (" + std::to_string(r.connections_dropped) + " dropped), " +
      std::to_string(r.untagged.size()) + " untagged, " + std::to_string(r.refused.size()) +
      " refusals, " + std::to_string(r.witness_flows.size()) + " witness flows";
  return {std::move(r), std::move(line)};
}

namespace {

class ControlConnection {
 public:
  ControlConnection(tcp::socket socket, ControlService& service,
                    std::chrono::steady_clock::duration lifetime)
      : socket_(std::move(socket)),
        service_(service),
        deadline_(std::chrono::steady_clock::now() + lifetime) {
    error_code ec;
    const auto peer = socket_.remote_endpoint(ec);
    peer_.address = unmapped(peer.address()).to_string();
    peer_.port = peer.port();
    peer_.family = family_of(peer.address());
    peer_text_ = endpoint_text(peer);
  }

  net::awaitable<void> run() {
    co_await serve();
    co_await lingering_close(socket_);
  }

 private:
  net::awaitable<void> serve() {
    std::array<char, 4096> buffer;
    for (;;) {
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
        auto handled = service_.handle(std::get<control::Request>(decoded), peer_, unix_ms_now());
        const bool refused = std::holds_alternative<control::ErrorResponse>(handled.response);
        LOG(info) << "control " << peer_text_ << " " << handled.log_line;
        if (!co_await send(handled.response) || refused) co_return;
        if (++requests_ >= limits::max_requests_per_control_connection) {
          LOG(info) << "control " << peer_text_ << " closed: request budget spent";
          co_return;
        }
        continue;
      }
      const auto left = deadline_ - std::chrono::steady_clock::now();
      const bool last_read = left < limits::control_idle_timeout;
      auto r = co_await within(
          socket_.async_read_some(net::buffer(buffer), net::as_tuple(net::use_awaitable)),
          last_read ? std::max(left, std::chrono::steady_clock::duration::zero())
                    : std::chrono::steady_clock::duration(limits::control_idle_timeout));
      if (!r) {
        LOG(debug) << "control " << peer_text_
                   << " closed: " << (last_read ? "connection time limit" : "idle");
        co_return;
      }
      const auto [ec, n] = *r;
      if (n > 0) decoder_.feed(std::string_view(buffer.data(), n));
      if (ec) co_return;  // the peer closed: the ordinary end of a control connection
    }
  }

  // An error frame, then the connection closes: after a bad frame the stream cannot be
  // trusted to be in step.
  net::awaitable<void> fail(control::ErrorCode code, const std::string& message) {
    LOG(info) << "control " << peer_text_ << " bad request: " << to_string(code) << ": "
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
    auto r = co_await within(
        net::async_write(socket_, net::buffer(frame), net::as_tuple(net::use_awaitable)),
        limits::control_idle_timeout);
    co_return r && !std::get<0>(*r);
  }

  tcp::socket socket_;
  ControlService& service_;
  ControlService::Peer peer_;
  std::string peer_text_;
  std::chrono::steady_clock::time_point deadline_;
  control::FrameDecoder decoder_{limits::max_request_frame};
  int requests_ = 0;
};

}  // namespace

net::awaitable<void> run_control_session(tcp::socket socket, ControlService& service,
                                         std::chrono::steady_clock::duration lifetime) {
  ControlConnection connection(std::move(socket), service, lifetime);
  co_await connection.run();
}

}  // namespace egress25::reflector
