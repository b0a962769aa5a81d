// Connect-back: the rules (which ports, how often) and the EHLO/QUIT dialogue with a trace.
#include "connect_back.hpp"
#include "net_types.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

#include "icmp_error_queue.hpp"
#include "smtp_reply_parser.hpp"
#include "timed_io.hpp"
#include "tracer.hpp"

namespace egress25::reflector {

namespace {

using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

// The mail ports of RFC 5321 (25), RFC 6409 (587) and RFC 8314 (465): a connect-back tests
// whether mail can reach the client, and no other service is its business.
constexpr std::array<std::pair<std::uint16_t, ServiceKind>, 3> mail_ports{{
    {25, ServiceKind::smtp},
    {465, ServiceKind::smtps},
    {587, ServiceKind::smtp},
}};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

// ---- The rules ----------------------------------------------------------------------

ConnectBackGate::ConnectBackGate(ConnectBackRules rules)
    : rules_(rules), rate_(rules.rate_per_minute, 1) {}

std::vector<control::Service> ConnectBackGate::ports() const {
  std::vector<control::Service> out;
  for (const auto& [port, kind] : mail_ports)
    out.push_back(
        {static_cast<std::uint16_t>(port + rules_.port_offset), kind, service_name(port, kind)});
  return out;
}

ConnectBackGate::Plan ConnectBackGate::plan(const control::ConnectBackRequest& request,
                                            Family family,
                                            std::set<std::pair<std::uint16_t, Family>>& claimed,
                                            std::int64_t now_ms) {
  Plan plan;
  plan.reference_port = request.reference_port;
  const auto allowed = ports();
  std::string list;
  for (const auto& s : allowed) list += (list.empty() ? "" : ", ") + std::to_string(s.port);
  std::set<std::uint16_t> seen;
  for (const auto port : request.ports) {
    if (!seen.insert(port).second) continue;  // named twice: once is what was asked
    const auto refuse = [&](std::string reason) {
      plan.refused.push_back({port, std::move(reason)});
    };
    const auto service = std::find_if(allowed.begin(), allowed.end(),
                                      [port](const control::Service& s) { return s.port == port; });
    if (service == allowed.end()) {
      refuse("not a mail port; this reflector connects back only to " + list);
      continue;
    }
    if (claimed.count({port, family})) {
      refuse("already connected back to port " + std::to_string(port) + " over " +
             family_label(family) + " in this session (once per port and family)");
      continue;
    }
    if (in_flight_ >= rules_.max_concurrent) {
      refuse("the reflector is making as many connect-backs as it may at once (" +
             std::to_string(rules_.max_concurrent) +
             "); this says nothing about your network: try again in a minute");
      continue;
    }
    if (!rate_.take("connect-back", now_ms)) {
      refuse("the reflector has made as many connect-backs as it may a minute (" +
             std::to_string(static_cast<long long>(rules_.rate_per_minute)) +
             "); this says nothing about your network: try again in a minute");
      continue;
    }
    claimed.insert({port, family});
    ++in_flight_;
    plan.connect.push_back(*service);
  }
  return plan;
}

void ConnectBackGate::release(std::size_t n) {
  in_flight_ -= std::min(n, in_flight_);
}

// ---- The connect-back ---------------------------------------------------------------

namespace {

std::string error_text(const error_code& ec) {
  return ec.message();
}

DialogueEnd end_for(const error_code& ec) {
  if (ec == net::error::connection_reset || ec == net::error::broken_pipe)
    return DialogueEnd::reset;
  if (ec == net::error::timed_out) return DialogueEnd::timed_out;
  return DialogueEnd::closed_early;
}

// The dialogue, EHLO and QUIT and nothing else: there is no code path here that sends
// any other command, so no input can make the reflector relay or say more. Written out
// rather than taken from the client's dialogue (which negotiates STARTTLS and carries
// probe tags) so that this stays obviously small.
template <class Stream>
class Dialogue {
 public:
  Dialogue(Stream& stream, InboundAttempt& attempt, const ConnectBackIo& io)
      : stream_(stream), attempt_(attempt), io_(io) {}

  net::awaitable<void> run() {
    auto banner = co_await read_reply("the greeting");
    if (!banner) co_return;
    attempt_.banner_code = banner->code;
    attempt_.banner = banner->raw.substr(0, limits::max_connect_back_banner);
    // A 554 greeting (RFC 5321 3.1) means "no service here": the client may only QUIT.
    if (banner->code == 220) {
      const std::string ehlo = "EHLO " + io_.ehlo_name + "\r\n";
      if (!co_await write(ehlo)) co_return;
      auto reply = co_await read_reply("the EHLO reply");
      if (!reply) co_return;
      attempt_.ehlo_code = reply->code;
    }
    const std::string quit_line = "QUIT\r\n";
    if (!co_await write(quit_line)) co_return;
    auto quit = co_await read_reply("the QUIT reply");
    if (quit) attempt_.quit_code = quit->code;
    attempt_.end = DialogueEnd::completed;
  }

 private:
  void fail(DialogueEnd end, std::string detail) {
    if (attempt_.end != DialogueEnd::none) return;
    attempt_.end = end;
    attempt_.end_detail = std::move(detail);
  }

  net::awaitable<bool> write(const std::string& line) {
    auto r = co_await within(
        net::async_write(stream_, net::buffer(line), net::as_tuple(net::use_awaitable)),
        io_.reply_timeout);
    if (!r) {
      fail(DialogueEnd::timed_out,
           "could not send within " + std::to_string(io_.reply_timeout.count()) + " ms");
      co_return false;
    }
    if (auto [ec, n] = *r; ec) {
      fail(end_for(ec), "sending: " + error_text(ec));
      co_return false;
    }
    co_return true;
  }

  net::awaitable<std::optional<smtp::Reply>> read_reply(const std::string& what) {
    const auto until = Clock::now() + io_.reply_timeout;
    for (;;) {
      auto next = parser_.next();
      if (next.status == smtp::ReplyParser::Status::reply) co_return std::move(next.reply);
      if (next.status == smtp::ReplyParser::Status::error) {
        fail(DialogueEnd::protocol_error, what + ": " + next.error);
        co_return std::nullopt;
      }
      const auto left = until - Clock::now();
      if (left <= Clock::duration::zero()) {
        fail(DialogueEnd::timed_out,
             "no " + what + " within " + std::to_string(io_.reply_timeout.count()) + " ms");
        co_return std::nullopt;
      }
      auto r = co_await within(
          stream_.async_read_some(net::buffer(buffer_), net::as_tuple(net::use_awaitable)), left);
      if (!r) continue;  // the deadline: judged at the top
      auto [ec, n] = *r;
      if (n > 0) parser_.feed(std::string_view(buffer_.data(), n));
      if (ec && n == 0) {
        fail(end_for(ec), what + ": " + error_text(ec));
        co_return std::nullopt;
      }
    }
  }

  Stream& stream_;
  InboundAttempt& attempt_;
  const ConnectBackIo& io_;
  smtp::ReplyParser parser_;
  std::array<char, 2048> buffer_{};
};

void record_connect_failure(InboundAttempt& a, int fd, const error_code& ec, bool timed_out,
                            std::chrono::milliseconds timeout) {
  a.icmp = read_error_queue(fd, a.family);
  a.connect_error =
      timed_out ? "no answer within " + std::to_string(timeout.count()) + " ms" : error_text(ec);
  if (a.icmp) {
    a.connect = ConnectOutcome::icmp_error;
  } else if (ec == net::error::no_permission || ec == net::error::access_denied) {
    // EPERM / EACCES: a netfilter rule in this host's OUTPUT path refused the SYN.
    a.connect = ConnectOutcome::local_error;
    a.blocked_locally = true;
  } else if (timed_out || ec == net::error::timed_out) {
    a.connect = ConnectOutcome::timed_out;
    a.syn_left_host = syn_left_host(fd);
  } else if (ec == net::error::connection_refused || ec == net::error::connection_reset) {
    a.connect = ConnectOutcome::refused;
  } else {
    // No route, this host's own firewall (EPERM): nothing left the reflector.
    a.connect = ConnectOutcome::local_error;
  }
}

net::awaitable<void> converse(tcp::socket& socket, InboundAttempt& a, const ConnectBackIo& io) {
  if (a.kind == ServiceKind::smtp || !io.tls) {
    Dialogue<tcp::socket> d(socket, a, io);
    co_await d.run();
    co_return;
  }
  // Implicit TLS (RFC 8314): the handshake first. Any certificate will do: the question is
  // whether a mail server answers, not whose it is.
  net::ssl::stream<tcp::socket&> tls(socket, *io.tls);
  a.tls_attempted = true;
  auto r = co_await within(
      tls.async_handshake(net::ssl::stream_base::client, net::as_tuple(net::use_awaitable)),
      io.reply_timeout);
  if (!r || std::get<0>(*r)) {
    a.tls_error = r ? error_text(std::get<0>(*r))
                    : "no handshake within " + std::to_string(io.reply_timeout.count()) + " ms";
    a.end = DialogueEnd::tls_failed;
    a.end_detail = a.tls_error;
    co_return;
  }
  a.tls_completed = true;
  a.tls_version = SSL_get_version(tls.native_handle());
  Dialogue<net::ssl::stream<tcp::socket&>> d(tls, a, io);
  co_await d.run();
  // close_notify, bounded: a peer that never answers must not hold the connect-back.
  co_await within(tls.async_shutdown(net::as_tuple(net::use_awaitable)), io.reply_timeout);
}

}  // namespace

net::awaitable<InboundAttempt> greet(net::ip::address target, control::Service service,
                                     const ConnectBackIo& io) {
  const auto start = Clock::now();
  InboundAttempt a;
  a.address = target.to_string();
  a.port = service.port;
  a.kind = service.kind;
  a.family = target.is_v4() ? Family::ipv4 : Family::ipv6;
  a.started_unix_ms = unix_ms_now();

  tcp::socket socket(co_await net::this_coro::executor);
  const tcp::endpoint endpoint(target, service.port);
  error_code ec;
  socket.open(endpoint.protocol(), ec);
  std::string queue_error;
  if (ec) {
    a.connect = ConnectOutcome::local_error;
    a.connect_error = error_text(ec);
  } else {
    enable_error_queue(socket.native_handle(), a.family, queue_error);
    const auto connect_start = Clock::now();
    auto connected = co_await within(
        socket.async_connect(endpoint, net::as_tuple(net::use_awaitable)), io.connect_timeout);
    a.connect_ms = ms_since(connect_start);
    if (!connected || std::get<0>(*connected)) {
      record_connect_failure(a, socket.native_handle(),
                             connected ? std::get<0>(*connected) : error_code{}, !connected,
                             io.connect_timeout);
    } else {
      a.connect = ConnectOutcome::connected;
      socket.set_option(tcp::no_delay(true), ec);
      if (auto local = socket.local_endpoint(ec); !ec)
        a.local_address = local.address().to_string();
      co_await converse(socket, a, io);
    }
  }
  socket.close(ec);
  a.elapsed_ms = ms_since(start);
  co_return a;
}

net::awaitable<InboundAttempt> connect_back(net::ip::address target, control::Service service,
                                            std::optional<std::uint16_t> reference_port,
                                            const ConnectBackIo& io) {
  const auto start = Clock::now();
  InboundAttempt a = co_await greet(target, service, io);
  // Where it died: only when no connection was made (a server that answered needs no
  // trace, and a trace past it would open connections its logs would show).
  if (a.connect != ConnectOutcome::connected && a.connect != ConnectOutcome::local_error) {
    if (!reference_port) {
      a.trace_unavailable = "the client named no reference port to trace beside this one";
    } else {
      TraceOptions options;
      options.budget = io.trace_budget;
      a.trace = co_await trace_path(target, service.port, *reference_port, options);
    }
  } else if (a.connect == ConnectOutcome::local_error) {
    a.trace_unavailable = "nothing left the reflector: " + a.connect_error;
  }
  a.elapsed_ms = ms_since(start);
  co_return a;
}

std::string describe(const InboundAttempt& a) {
  std::string out;
  switch (a.connect) {
    case ConnectOutcome::connected:
      if (a.tls_attempted && !a.tls_completed) {
        out = "connected, TLS failed: " + a.tls_error;
      } else if (a.banner_code) {
        auto first_line = a.banner.substr(0, a.banner.find_first_of("\r\n"));
        out = "banner \"" + printable(first_line, 120) + "\"";
        if (a.end != DialogueEnd::completed) out += ", then " + std::string(to_string(a.end));
      } else {
        out = "connected, no banner (" + std::string(to_string(a.end)) + ": " + a.end_detail + ")";
      }
      break;
    case ConnectOutcome::refused:
      out = "refused (TCP reset)";
      break;
    case ConnectOutcome::timed_out:
      out = "silence: " + a.connect_error;
      break;
    case ConnectOutcome::icmp_error:
      out = "ICMP " + (a.icmp ? a.icmp->description + " from " +
                                    (a.icmp->sender.empty() ? "?" : a.icmp->sender)
                              : std::string("error"));
      break;
    case ConnectOutcome::local_error:
    case ConnectOutcome::not_attempted:
      out = "not sent: " + a.connect_error;
      break;
  }
  if (a.trace) {
    int answered = 0;
    for (const auto& h : a.trace->probed.hops)
      if (h.kind != HopKind::silent) ++answered;
    out += "; trace: " + std::to_string(answered) + " of " +
           std::to_string(a.trace->probed.hops.size()) + " hops answered on port " +
           std::to_string(a.port);
  }
  return out;
}

}  // namespace egress25::reflector
