// Hop tracing: TTL-limited TCP connects whose ICMP answers come from the error queue.
#include "tracer.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/unicast.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "icmp_error_queue.hpp"

namespace egress25 {

namespace net = boost::asio;
using net::ip::tcp;
using namespace net::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

// How often a waiting probe looks at its socket without a readiness event (limits.hpp).
constexpr auto recheck_interval = limits::trace_recheck_interval;

bool is_time_exceeded(Family family, int type) {
  return family == Family::ipv4 ? type == 11 : type == 3;
}

// Looks at a connecting socket once. nullopt: still waiting. A hop: this TTL is settled
// (a silent hop here means the connect died without anything we can attribute).
std::optional<TraceHop> examine(tcp::socket& sock, const tcp::endpoint& target, int ttl) {
  const int fd = sock.native_handle();
  const Family family = target.address().is_v4() ? Family::ipv4 : Family::ipv6;
  TraceHop hop;
  hop.ttl = ttl;
  // The error queue first: an ICMP error also sets SO_ERROR (EHOSTUNREACH for
  // time-exceeded on Linux), and only the queue says who sent it.
  if (auto icmp = read_error_queue(fd, family)) {
    hop.address = icmp->sender;
    hop.icmp_type = icmp->type;
    hop.icmp_code = icmp->code;
    // The ICMP family is the socket's (a v4-mapped target aside, which we never use).
    hop.kind = is_time_exceeded(family, icmp->type) ? HopKind::time_exceeded : HopKind::unreachable;
    return hop;
  }
  int so_error = 0;
  socklen_t len = sizeof so_error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) so_error = errno;
  if (so_error == ECONNREFUSED) {
    hop.kind = HopKind::reset;
    hop.address = target.address().to_string();
    return hop;
  }
  if (so_error != 0) return hop;  // silent: dead without an attributable answer
  // getpeername succeeds only once the handshake is complete (Linux answers ENOTCONN
  // in SYN_SENT), which tells a SYN-ACK apart from a spurious wake-up.
  sockaddr_storage peer{};
  socklen_t peer_len = sizeof peer;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) == 0) {
    hop.kind = HopKind::reached;
    hop.address = target.address().to_string();
    return hop;
  }
  return std::nullopt;
}

// An answer past which higher TTLs can add nothing: the SYN went no further.
bool terminal(const TraceHop& hop) {
  return hop.kind == HopKind::reached || hop.kind == HopKind::reset ||
         hop.kind == HopKind::unreachable;
}

// The probes of one port: their sockets (so a settled trace can cut the rest short)
// and their results, all touched only on the trace's strand.
struct PortRun {
  std::map<int, tcp::socket*> pending;  // ttl -> socket of a probe still waiting
  std::map<int, TraceHop> settled;      // ttl -> answer (silent when it timed out)
  bool finished = false;
  int finish_ttl = 0;

  // Settled when some TTL got a terminal answer (reached, reset, unreachable) and every
  // lower TTL has its answer: higher TTLs cannot add anything, so they are cancelled.
  void note(const TraceHop& hop) {
    settled[hop.ttl] = hop;
    if (finished) return;
    int expect = 1;
    for (const auto& [ttl, h] : settled) {
      if (ttl != expect) return;
      if (terminal(h)) {
        finished = true;
        finish_ttl = ttl;
        for (auto& [pttl, sock] : pending) {
          if (pttl > ttl) {
            boost::system::error_code ignored;
            sock->cancel(ignored);
          }
        }
        return;
      }
      ++expect;
    }
  }
};

net::awaitable<TraceHop> probe(tcp::endpoint target, int ttl, Clock::time_point deadline,
                               PortRun& run) {
  auto ex = co_await net::this_coro::executor;
  TraceHop hop;
  hop.ttl = ttl;
  const Family family = target.address().is_v4() ? Family::ipv4 : Family::ipv6;

  tcp::socket sock(ex);
  boost::system::error_code ec;
  sock.open(target.protocol(), ec);
  std::string error;
  if (!ec) sock.set_option(net::ip::unicast::hops(ttl), ec);
  if (!ec) sock.non_blocking(true, ec);
  if (ec || !enable_error_queue(sock.native_handle(), family, error)) {
    run.note(hop);
    co_return hop;
  }
  // What Linux does (measured on 6.x, v4 and v6 alike): connect() says EINPROGRESS;
  // when the ICMP error arrives in SYN_SENT the kernel aborts the connect (SO_ERROR
  // EHOSTUNREACH for time-exceeded, POLLERR without POLLOUT) and queues the details
  // with the sender. If the error lands while the socket is busy in a system call it
  // is only a soft error: the connect goes on, and POLLERR with SO_ERROR 0 is all there
  // is, which asio's async_connect would report as success. So the connect is started
  // by hand and the socket examined on every wake-up.
  if (::connect(sock.native_handle(), target.data(), static_cast<socklen_t>(target.size())) != 0 &&
      errno != EINPROGRESS) {
    const int err = errno;
    if (err == ECONNREFUSED) {
      hop.kind = HopKind::reset;
      hop.address = target.address().to_string();
    }
    run.note(hop);
    co_return hop;
  }

  run.pending[ttl] = &sock;
  net::steady_timer timer(ex);
  for (;;) {
    if (auto settled = examine(sock, target, ttl)) {
      hop = *settled;
      break;
    }
    if ((run.finished && ttl > run.finish_ttl) || Clock::now() >= deadline) break;
    timer.expires_at(std::min(deadline, Clock::now() + recheck_interval));
    co_await (sock.async_wait(tcp::socket::wait_write, net::as_tuple(net::use_awaitable)) ||
              timer.async_wait(net::as_tuple(net::use_awaitable)));
  }
  run.pending.erase(ttl);
  // An abortive close: no FIN exchange and no TIME_WAIT for a probe that reached.
  sock.set_option(tcp::socket::linger(true, 0), ec);
  sock.close(ec);
  run.note(hop);
  co_return hop;
}

net::awaitable<PortTrace> trace_port(tcp::endpoint target, int max_ttl,
                                     std::chrono::milliseconds budget) {
  auto ex = co_await net::this_coro::executor;
  PortRun run;
  const int wave_size = std::max(1, limits::trace_parallelism);
  for (int first = 1; first <= max_ttl && !run.finished; first += wave_size) {
    const int last = std::min(max_ttl, first + wave_size - 1);
    const auto deadline = Clock::now() + budget;
    std::vector<decltype(net::co_spawn(ex, probe(target, 1, deadline, run), net::deferred))> ops;
    for (int ttl = first; ttl <= last; ++ttl) {
      ops.push_back(net::co_spawn(ex, probe(target, ttl, deadline, run), net::deferred));
    }
    // Results are collected in `run` as each probe settles; exceptions would be bugs
    // (probes take every network failure as data), so they are not expected here.
    co_await net::experimental::make_parallel_group(std::move(ops))
        .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
  }
  PortTrace trace;
  trace.port = target.port();
  for (const auto& [ttl, hop] : run.settled) {
    trace.hops.push_back(hop);
    if (terminal(hop)) break;
  }
  co_return trace;
}

int last_answered_ttl(const PortTrace& t) {
  int last = 0;
  for (const auto& h : t.hops) {
    if (h.kind != HopKind::silent) last = std::max(last, h.ttl);
  }
  return last;
}

void trim_after(PortTrace& t, int ttl) {
  std::erase_if(t.hops, [ttl](const TraceHop& h) { return h.ttl > ttl; });
}

net::awaitable<PathTrace> trace_both(tcp::endpoint probed, tcp::endpoint reference,
                                     TraceOptions options) {
  const int max_ttl = std::clamp(options.max_ttl, 1, 255);
  auto [probed_trace, reference_trace] = co_await (trace_port(probed, max_ttl, options.budget) &&
                                                   trace_port(reference, max_ttl, options.budget));
  // Silent hops past the furthest TTL either port got an answer from say nothing.
  const int keep = std::max(last_answered_ttl(probed_trace), last_answered_ttl(reference_trace));
  trim_after(probed_trace, keep);
  trim_after(reference_trace, keep);
  co_return PathTrace{std::move(probed_trace), std::move(reference_trace)};
}

}  // namespace

net::awaitable<PathTrace> trace_path(net::ip::address target, std::uint16_t probed_port,
                                     std::uint16_t reference_port, TraceOptions options) {
  // Every probe's bookkeeping lives on one strand, whatever the caller's executor.
  auto strand = net::make_strand(co_await net::this_coro::executor);
  co_return co_await net::co_spawn(strand,
                                   trace_both(tcp::endpoint(target, probed_port),
                                              tcp::endpoint(target, reference_port), options),
                                   net::use_awaitable);
}

}  // namespace egress25
