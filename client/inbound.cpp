// `check --inbound`: this computer's listeners, the CONNECT_BACK request, the inbound evidence.
#include "inbound.hpp"
#include "net_types.hpp"

#include <algorithm>
#include <array>
#include <boost/asio.hpp>

#include "attribution.hpp"
#include "control_client.hpp"
#include "limits.hpp"

namespace egress25::client {

namespace {

using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// The listener's caps, with their reasons in limits.hpp.
using limits::inbound_listener_max_commands;
using limits::inbound_listener_max_pending;
using limits::inbound_listener_session_lifetime;
using limits::inbound_listener_sessions_per_port;

std::string bind_advice(std::uint16_t port, const error_code& ec) {
  if (ec == net::error::access_denied)
    return " (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
  if (ec == net::error::address_in_use)
    return " (a server here listens on port " + std::to_string(port) +
           " already: the greeting the reflector met may be its)";
  return "";
}

}  // namespace

struct InboundListeners::Port {
  std::uint16_t port = 0;
  std::optional<tcp::acceptor> acceptor;
  std::string error;
  int accepted = 0;
  bool greets = true;
};

InboundListeners::InboundListeners(net::any_io_executor executor, Family family,
                                   std::vector<std::uint16_t> ports, bool listen, std::string nonce)
    : executor_(std::move(executor)), family_(family), nonce_(std::move(nonce)) {
  const auto open = [&](std::uint16_t port, bool greets) {
    auto p = std::make_shared<Port>();
    p->port = port;
    p->greets = greets;
    const tcp::endpoint at(family_ == Family::ipv4 ? tcp::v4() : tcp::v6(), port);
    tcp::acceptor acceptor(executor_);
    error_code ec;
    acceptor.open(at.protocol(), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && family_ == Family::ipv6) acceptor.set_option(net::ip::v6_only(true), ec);
    if (!ec) acceptor.bind(at, ec);
    if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      p->error = error_text(ec) + bind_advice(port, ec);
    } else {
      p->port = acceptor.local_endpoint(ec).port();
      p->acceptor.emplace(std::move(acceptor));
      net::co_spawn(executor_, serve(p), net::detached);
    }
    return p;
  };
  if (listen)
    for (const auto port : ports) ports_[port] = open(port, true);
  reference_ = open(0, false);
  if (reference_->acceptor) reference_port_ = reference_->port;
}

InboundListeners::~InboundListeners() {
  close();
}

void InboundListeners::close() {
  error_code ec;
  for (auto& [port, p] : ports_)
    if (p->acceptor) p->acceptor->close(ec);
  if (reference_ && reference_->acceptor) reference_->acceptor->close(ec);
}

bool InboundListeners::listening(std::uint16_t port) const {
  auto it = ports_.find(port);
  return it != ports_.end() && it->second->error.empty();
}

int InboundListeners::accepted(std::uint16_t port) const {
  auto it = ports_.find(port);
  return it == ports_.end() ? 0 : it->second->accepted;
}

std::string InboundListeners::note(std::uint16_t port) const {
  auto it = ports_.find(port);
  if (it == ports_.end()) return "";
  const auto& p = *it->second;
  if (!p.error.empty())
    return "this computer could not listen on port " + std::to_string(port) + ": " + p.error;
  return "this computer listened on port " + std::to_string(port) + " during the check (" +
         std::to_string(p.accepted) + " connection" + (p.accepted == 1 ? "" : "s") + " arrived)";
}

net::awaitable<void> InboundListeners::serve(std::shared_ptr<Port> port) {
  for (;;) {
    auto [ec, socket] = co_await port->acceptor->async_accept(net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted || !port->acceptor->is_open()) co_return;
    if (ec) continue;
    ++port->accepted;
    if (!port->greets || port->accepted > inbound_listener_sessions_per_port) {
      error_code ignored;
      socket.close(ignored);
      continue;
    }
    // One small SMTP-shaped session, bounded in commands and time; it shares nothing
    // with the check but the counters above.
    auto session = [](tcp::socket s, std::string greeting) -> net::awaitable<void> {
      net::steady_timer lifetime(s.get_executor(), inbound_listener_session_lifetime);
      lifetime.async_wait([&s](const error_code& e) {
        if (!e) {
          error_code ignored;
          s.close(ignored);
        }
      });
      auto [wec, wn] =
          co_await net::async_write(s, net::buffer(greeting), net::as_tuple(net::use_awaitable));
      (void)wn;
      std::string buffer;
      std::array<char, 512> chunk{};
      for (int commands = 0; !wec && commands < inbound_listener_max_commands;) {
        auto [rec, n] =
            co_await s.async_read_some(net::buffer(chunk), net::as_tuple(net::use_awaitable));
        if (rec) break;
        buffer.append(chunk.data(), n);
        if (buffer.size() > inbound_listener_max_pending) break;
        bool quit = false;
        for (auto eol = buffer.find('\n'); eol != std::string::npos; eol = buffer.find('\n')) {
          std::string line = buffer.substr(0, eol);
          buffer.erase(0, eol + 1);
          ++commands;
          std::string verb = line.substr(0, 4);
          std::transform(verb.begin(), verb.end(), verb.begin(),
                         [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
          std::string reply = verb == "EHLO" || verb == "HELO" ? "250 egress25 inbound listener\r\n"
                              : verb == "QUIT"                 ? "221 bye\r\n"
                                                               : "502 nothing here\r\n";
          quit = verb == "QUIT";
          auto [e2, n2] =
              co_await net::async_write(s, net::buffer(reply), net::as_tuple(net::use_awaitable));
          (void)n2;
          if (e2 || quit) break;
        }
        if (quit) break;
      }
      lifetime.cancel();
      error_code ignored;
      s.shutdown(tcp::socket::shutdown_both, ignored);
      s.close(ignored);
    };
    const std::string greeting =
        "220 " + nonce_ + ".inbound.egress25.invalid egress25 inbound listener\r\n";
    net::co_spawn(executor_, session(std::move(socket), greeting), net::detached);
  }
}

net::awaitable<ConnectBackOutcome> request_connect_back(net::any_io_executor executor,
                                                        std::vector<tcp::endpoint> endpoints,
                                                        Family family, std::string token,
                                                        std::vector<std::uint16_t> ports,
                                                        std::optional<std::uint16_t> reference_port,
                                                        std::chrono::milliseconds control_timeout) {
  ConnectBackOutcome out;
  out.family = family;
  ControlClient control(executor);
  auto error = co_await control.connect(std::move(endpoints), control_timeout);
  if (!error.empty()) {
    out.error = "the connect-back could not be asked for: " + error;
    co_return out;
  }
  control::ConnectBackRequest request;
  request.token = std::move(token);
  request.ports = std::move(ports);
  request.reference_port = reference_port;
  control::Request wrapped = request;
  const auto budget =
      std::chrono::duration_cast<std::chrono::milliseconds>(limits::connect_back_request_budget) +
      control_timeout;
  auto answer = co_await control.request(std::move(wrapped), budget);
  control.close();
  if (auto* failure = std::get_if<std::string>(&answer)) {
    out.error = "the connect-back request failed: " + *failure;
    co_return out;
  }
  auto& response = std::get<control::Response>(answer);
  if (auto* e = std::get_if<control::ErrorResponse>(&response)) {
    out.refused_by_reflector = true;
    out.error = e->code == control::ErrorCode::unknown_type
                    ? "this reflector does not connect back (an older version)"
                    : "the reflector did not connect back: " + e->message;
    co_return out;
  }
  if (auto* r = std::get_if<control::ConnectBackResponse>(&response)) {
    out.response = std::move(*r);
    co_return out;
  }
  out.error = "the reflector answered the connect-back request with another message";
  co_return out;
}

InboundEvidence inbound_evidence(std::uint16_t port, const ConnectBackOutcome& outcome,
                                 const InboundListeners* listeners,
                                 std::vector<std::string> local_addresses) {
  InboundEvidence e;
  e.port = port;
  e.family = outcome.family;
  e.local_addresses = std::move(local_addresses);
  if (!outcome.response) {
    e.unavailable = outcome.error;
    e.refused_by_reflector = outcome.refused_by_reflector;
  } else {
    const auto& r = *outcome.response;
    for (const auto& a : r.attempts)
      if (a.port == port) e.attempt = a;
    if (!e.attempt) {
      e.unavailable = "the reflector did not say what it met on port " + std::to_string(port);
      for (const auto& x : r.refused)
        if (x.port == port) {
          e.unavailable = "the reflector did not connect back to port " + std::to_string(port) +
                          ": " + x.reason;
          e.refused_by_reflector = true;
        }
    }
  }
  if (listeners) {
    e.listen_note = listeners->note(port);
    if (listeners->listening(port)) {
      const bool ours =
          e.attempt && e.attempt->banner.find(listeners->nonce()) != std::string::npos;
      e.reached_this_machine = ours;
      if (ours)
        e.listen_note = "the greeting is this computer's own listener on port " +
                        std::to_string(port) + ": the connect-back reached this machine";
    }
  }
  return e;
}

namespace {

std::string hops_words(const Classification& c) {
  if (c.blocking_hop) return "at " + hop_words(*c.blocking_hop);
  std::string list;
  for (std::size_t i = 0; i < c.blocking_candidates.size(); ++i)
    list += (i == 0 ? "" : " or ") + hop_words(c.blocking_candidates[i]);
  return list.empty() ? "" : "at " + list;
}

std::string inbound_sentence(const InboundRow& r) {
  const auto& c = r.classification;
  const std::string what = "inbound port " + std::to_string(r.port) + " over " +
                           family_label(r.family) +
                           (r.address.empty() ? "" : " (to " + r.address + ")");
  const auto hops = hops_words(c);
  const std::string seen = hops.empty() ? "" : " (" + hops + ", counted from the reflector)";
  switch (c.verdict) {
    case Verdict::open:
      return "Mail can reach you: " + what + " is answered by a mail server" +
             (r.banner.empty() ? "" : " (\"" + r.banner + "\")") +
             (r.reached_this_machine.value_or(false) ? ", this machine" : "") +
             (r.reached_this_machine && !*r.reached_this_machine
                  ? ", not this machine: your router forwards it to another one"
                  : "") +
             ".";
    case Verdict::not_listening:
      if (c.location == Location::client_host)
        return "Your router forwards " + what +
               " to a machine that refuses it: nothing listens on port " + std::to_string(r.port) +
               " there; start the mail server, or forward the port to the right machine.";
      if (c.location == Location::path && c.segment == Segment::upstream)
        return "Your ISP's carrier-grade NAT holds " + what + " and forwards nothing on port " +
               std::to_string(r.port) + seen +
               ": only your ISP can give this line a public address or forward the port to it.";
      return "Your router receives " + what + " but forwards nothing on port " +
             std::to_string(r.port) + ": add a port forward to your mail server" +
             " (or the router's firewall refuses it)" + seen + ".";
    case Verdict::dropped:
    case Verdict::reset:
    case Verdict::icmp_unreachable: {
      const std::string how = c.verdict == Verdict::dropped ? "drops"
                              : c.verdict == Verdict::reset ? "resets"
                                                            : "rejects";
      if (c.location == Location::reflector_host ||
          (c.location == Location::path && c.segment == Segment::reflector_network)) {
        const bool host = c.location == Location::reflector_host ||
                          std::any_of(c.blocking_candidates.begin(), c.blocking_candidates.end(),
                                      [](const BlockingHop& h) { return h.ttl == 0; });
        const bool provider = c.location == Location::path;
        return "The reflector could not test " + what + ": its own " +
               (host && provider ? "host or hosting provider"
                : host           ? "host"
                                 : "hosting provider") +
               " " + how + " outbound port " + std::to_string(r.port) + seen +
               ". This says nothing about your line; the reflector's operator may ask the "
               "provider to lift it.";
      }
      // The reflector's provider, or a network after it: the reflector's self-test tells.
      if (c.location == Location::path &&
          std::any_of(c.blocking_candidates.begin(), c.blocking_candidates.end(),
                      [](const BlockingHop& h) { return h.segment == Segment::reflector_network; }))
        return "The reflector's hosting provider or a network on the way (your ISP's among "
               "them) " +
               how + " " + what + seen +
               ", and the trace cannot say which; egress25-reflector --self-test on the "
               "reflector tells whether its provider blocks outbound port " +
               std::to_string(r.port) + ".";
      if (c.location == Location::path && c.segment == Segment::upstream)
        return "Your ISP (or a network on the way) " + how + " " + what + seen +
               ": mail cannot reach you on it; ask your ISP to open inbound port " +
               std::to_string(r.port) + " (many do on business lines).";
      if (c.location == Location::path && c.segment == Segment::local_network)
        return "Your router " + how + " " + what + seen + ": forward the port to your mail server.";
      return "Nothing answers " + what + seen +
             ": your ISP or your router stops it, and the evidence does not say which.";
    }
    case Verdict::inconclusive:
      return "The inbound test of port " + std::to_string(r.port) + " over " +
             family_label(r.family) + " decided nothing: " +
             (c.reasons.empty() ? std::string("no evidence") : c.reasons.front()) + ".";
    default:
      break;
  }
  return "Inbound port " + std::to_string(r.port) + " over " + family_label(r.family) + ": " +
         std::string(to_string(c.verdict)) + ".";
}

}  // namespace

std::string inbound_sentences(const std::vector<InboundRow>& rows) {
  std::string out;
  for (const auto& r : rows) out += (out.empty() ? "" : " ") + inbound_sentence(r);
  return out;
}

}  // namespace egress25::client
