// The reflector's health for Prometheus: a small registry of counters and gauges, the
// text exposition format it renders to, and the plain-HTTP endpoint that serves it.
#pragma once

#include <boost/asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "net_types.hpp"
#include "packet_witness.hpp"

namespace egress25::reflector {

namespace net = boost::asio;

// Why the reflector refused a connection or a session for its own limits. A fixed set:
// a label value taken from a sentence would carry the peer's address, and a label
// with one value per source is a time series per source (unbounded).
enum class RefusalReason {
  connections_total,       // the accept loop's cap on concurrent connections in all
  connections_per_source,  // ... and per source address or prefix
  connections_rate,        // new connections from an address or prefix over its rate
  sessions_total,          // HELLO: the session table is full of checks under way
  sessions_per_source,     // HELLO: the address or prefix holds its checks under way
  sessions_rate,           // HELLO: the address or prefix asks faster than its rate
};
inline constexpr RefusalReason all_refusal_reasons[] = {
    RefusalReason::connections_total,   RefusalReason::connections_per_source,
    RefusalReason::connections_rate,    RefusalReason::sessions_total,
    RefusalReason::sessions_per_source, RefusalReason::sessions_rate};
std::string_view to_string(RefusalReason r);
// The reason of a ConnectionTable's refusal sentence (Admission::why).
RefusalReason connection_refusal_reason(std::string_view why);

// Everything a scrape shows, at one instant.
struct MetricsSnapshot {
  std::uint64_t sessions_opened = 0;
  std::uint64_t sessions_live = 0;
  // Tagged connections by local port (as bound) and family. Bounded: the ports are the
  // reflector's own listeners, a handful.
  std::map<std::pair<std::uint16_t, Family>, std::uint64_t> probes;
  std::map<RefusalReason, std::uint64_t> refusals;
  std::uint64_t tls_handshakes_failed = 0;
  std::optional<WitnessCounts> witness;  // nullopt: no witness is capturing
};

// The counters the io_context's thread moves. The reflector serves every session and
// the endpoint on that one thread, so they are plain integers, read without locks; the
// witness's thread keeps its own atomics (PacketWitness::counts()).
class Metrics {
 public:
  void session_opened() { ++sessions_opened_; }
  void probe(std::uint16_t local_port, Family family) { ++probes_[{local_port, family}]; }
  void refused(RefusalReason reason) { ++refusals_[reason]; }
  void tls_handshake_failed() { ++tls_handshakes_failed_; }

  // The registry's counters; the caller adds the gauges it reads elsewhere.
  MetricsSnapshot snapshot() const;

 private:
  std::uint64_t sessions_opened_ = 0;
  std::map<std::pair<std::uint16_t, Family>, std::uint64_t> probes_;
  std::map<RefusalReason, std::uint64_t> refusals_;
  std::uint64_t tls_handshakes_failed_ = 0;
};

// The Prometheus text exposition format, version 0.0.4. Pure: no clock, no I/O.
std::string render(const MetricsSnapshot& snapshot);

// The whole HTTP/1.x response to a request head (the bytes up to and including the
// blank line): 200 with `body` for GET /metrics, 404 for any other path, 405 for another
// method on /metrics, 400 for what is not a request line. Pure, so tests need no socket.
std::string metrics_http_response(std::string_view request_head, const std::string& body);

// Serves GET /metrics on `acceptor` until it is closed: one request per connection,
// the head bounded by limits::max_metrics_request, each connection by
// limits::metrics_connection_timeout, at most limits::max_concurrent_scrapes at once.
// `body` renders the scrape when a request asks for it.
net::awaitable<void> serve_metrics(net::ip::tcp::acceptor& acceptor,
                                   std::function<std::string()> body);

}  // namespace egress25::reflector
