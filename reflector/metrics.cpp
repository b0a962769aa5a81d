// The reflector's health for Prometheus: a small registry of counters and gauges, the
// text exposition format it renders to, and the plain-HTTP endpoint that serves it.
//
// Hand-written: prometheus-cpp is not packaged in Debian 12 (the only dependencies
// egress25 takes), and the text format for a dozen series is a page of code.
#include "metrics.hpp"

#include <memory>
#include <sstream>

#include "limits.hpp"
#include "logging.hpp"
#include "timed_io.hpp"

namespace egress25::reflector {

std::string_view to_string(RefusalReason r) {
  switch (r) {
    case RefusalReason::connections_total:
      return "connections_total";
    case RefusalReason::connections_per_source:
      return "connections_per_source";
    case RefusalReason::sessions_total:
      return "sessions_total";
    case RefusalReason::sessions_per_source:
      return "sessions_per_source";
    case RefusalReason::connections_rate:
      return "connections_rate";
    case RefusalReason::sessions_rate:
      return "sessions_rate";
  }
  return "unknown";
}

RefusalReason connection_refusal_reason(std::string_view why) {
  // ConnectionTable says "too many connections in all (N)", "too many connections from
  // ADDR (N)" (an address or a prefix), or "too many new connections from ADDR (N a minute)".
  if (why.find(" in all ") != std::string_view::npos) return RefusalReason::connections_total;
  if (why.find("new connections") != std::string_view::npos) return RefusalReason::connections_rate;
  return RefusalReason::connections_per_source;
}

MetricsSnapshot Metrics::snapshot() const {
  MetricsSnapshot s;
  s.sessions_opened = sessions_opened_;
  s.probes = probes_;
  s.refusals = refusals_;
  s.tls_handshakes_failed = tls_handshakes_failed_;
  return s;
}

namespace {

constexpr std::string_view prefix = "egress25_reflector_";

void header(std::ostringstream& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out << "# HELP " << prefix << name << ' ' << help << '\n'
      << "# TYPE " << prefix << name << ' ' << type << '\n';
}

}  // namespace

std::string render(const MetricsSnapshot& s) {
  // Label values are our own words and numbers (no quote, backslash or newline to escape).
  std::ostringstream out;
  header(out, "sessions_opened_total", "counter", "Sessions opened by a HELLO.");
  out << prefix << "sessions_opened_total " << s.sessions_opened << '\n';
  header(out, "sessions_live", "gauge", "Sessions not yet expired.");
  out << prefix << "sessions_live " << s.sessions_live << '\n';
  header(out, "probes_total", "counter",
         "Connections tagged for a session, by local port (as bound) and address family.");
  for (const auto& [key, n] : s.probes)
    out << prefix << "probes_total{port=\"" << key.first << "\",family=\"" << to_string(key.second)
        << "\"} " << n << '\n';
  header(out, "refused_total", "counter",
         "Connections and sessions refused for the reflector's own limits, by reason.");
  for (auto reason : all_refusal_reasons) {
    const auto it = s.refusals.find(reason);
    out << prefix << "refused_total{reason=\"" << to_string(reason) << "\"} "
        << (it == s.refusals.end() ? 0 : it->second) << '\n';
  }
  header(out, "tls_handshakes_failed_total", "counter",
         "TLS handshakes (STARTTLS or implicit TLS) that failed or timed out.");
  out << prefix << "tls_handshakes_failed_total " << s.tls_handshakes_failed << '\n';
  header(out, "witness_active", "gauge", "1 while the packet witness captures, else 0.");
  out << prefix << "witness_active " << (s.witness ? 1 : 0) << '\n';
  if (s.witness) {
    header(out, "witness_packets_total", "counter", "Packets the witness captured and parsed.");
    out << prefix << "witness_packets_total " << s.witness->packets_seen << '\n';
    header(out, "witness_packets_dropped_total", "counter",
           "Packets the capture lost (pcap_stats: kernel buffer full, interface drops).");
    out << prefix << "witness_packets_dropped_total " << s.witness->packets_dropped << '\n';
  }
  return out.str();
}

std::string metrics_http_response(std::string_view head, const std::string& body) {
  auto reply = [](std::string_view status, std::string_view type, std::string_view content) {
    std::string r = "HTTP/1.1 ";
    r += status;
    r += "\r\nContent-Type: ";
    r += type;
    r += "\r\nContent-Length: " + std::to_string(content.size()) + "\r\nConnection: close\r\n\r\n";
    r += content;
    return r;
  };
  const auto eol = head.find("\r\n");
  const auto line = head.substr(0, eol);
  // request-line = method SP request-target SP HTTP-version (RFC 9112 3)
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (eol == std::string_view::npos || sp2 == std::string_view::npos ||
      line.substr(sp2 + 1).substr(0, 5) != "HTTP/")
    return reply("400 Bad Request", "text/plain; charset=utf-8", "bad request\n");
  const auto method = line.substr(0, sp1);
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  target = target.substr(0, target.find('?'));  // Prometheus may add ?name[]=...
  if (target != "/metrics")
    return reply("404 Not Found", "text/plain; charset=utf-8", "not found; try /metrics\n");
  if (method != "GET")
    return reply("405 Method Not Allowed\r\nAllow: GET", "text/plain; charset=utf-8", "only GET\n");
  return reply("200 OK", "text/plain; version=0.0.4; charset=utf-8", body);
}

namespace {

net::awaitable<void> serve_scrape(net::ip::tcp::socket socket,
                                  const std::function<std::string()>& body) {
  // One deadline for the whole exchange: a scraper that trickles its request (slowloris)
  // holds one of a few slots for seconds, not for ever.
  const auto deadline = std::chrono::steady_clock::now() + limits::metrics_connection_timeout;
  auto left = [&] {
    return std::max(std::chrono::steady_clock::duration::zero(),
                    deadline - std::chrono::steady_clock::now());
  };
  std::string head;
  std::array<char, 1024> buffer;
  while (head.find("\r\n\r\n") == std::string::npos) {
    if (head.size() >= limits::max_metrics_request) co_return;  // not a scraper
    auto r = co_await within(
        socket.async_read_some(net::buffer(buffer), net::as_tuple(net::use_awaitable)), left());
    if (!r || std::get<0>(*r)) co_return;
    head.append(buffer.data(), std::get<1>(*r));
  }
  const auto response = metrics_http_response(head, body());
  co_await within(
      net::async_write(socket, net::buffer(response), net::as_tuple(net::use_awaitable)), left());
  boost::system::error_code ec;
  socket.shutdown(net::ip::tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

}  // namespace

net::awaitable<void> serve_metrics(net::ip::tcp::acceptor& acceptor,
                                   std::function<std::string()> body) {
  auto executor = co_await net::this_coro::executor;
  // Shared with each scrape, so the count is right even when a scrape outlives this loop.
  auto active = std::make_shared<std::size_t>(0);
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted || !acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors: back off instead of spinning on the error.
      net::steady_timer pause(executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    if (*active >= limits::max_concurrent_scrapes) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++*active;
    net::co_spawn(
        executor,
        [socket = std::move(socket), body, active]() mutable -> net::awaitable<void> {
          struct Release {
            std::shared_ptr<std::size_t> n;
            ~Release() { --*n; }
          } release{active};
          co_await serve_scrape(std::move(socket), body);
        },
        [](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            LOG(error) << "metrics scrape: unexpected exception: " << x.what();
          }
        });
  }
}

}  // namespace egress25::reflector
