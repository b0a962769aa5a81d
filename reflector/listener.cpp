// Listening sockets: binding every configured address and port at start, the accept
// loop, and the caps on concurrent connections.
#include "listener.hpp"

#include <array>
#include <chrono>

#include "control_protocol.hpp"
#include "limits.hpp"
#include "logging.hpp"
#include "smtp_server_dialogue.hpp"

namespace egress25::reflector {

std::string endpoint_text(const tcp::endpoint& e) {
  const auto a = unmapped(e.address());
  if (a.is_v6()) return "[" + a.to_string() + "]:" + std::to_string(e.port());
  return a.to_string() + ":" + std::to_string(e.port());
}

net::ip::address unmapped(const net::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    return net::ip::make_address_v4(net::ip::v4_mapped, a.to_v6());
  return a;
}

Family family_of(const net::ip::address& a) {
  return unmapped(a).is_v4() ? Family::ipv4 : Family::ipv6;
}

std::string bind_error_text(const std::string& address, std::uint16_t port,
                            const boost::system::error_code& ec) {
  const std::string where =
      (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
      std::to_string(port);
  std::string reason;
  if (ec == net::error::access_denied) {
    reason = "permission denied";
    if (port < 1024) reason += " (needs CAP_NET_BIND_SERVICE or root; try --port-offset 10000)";
  } else if (ec == net::error::address_in_use) {
    reason = "address already in use (another program listens on port " + std::to_string(port) +
             "; see 'ss -ltnp')";
  } else if (ec == boost::system::errc::address_not_available) {
    reason = "address not available (it is not an address of this host)";
  } else if (ec == net::error::address_family_not_supported) {
    reason = "address family not supported (is IPv6 disabled on this host?)";
  } else {
    reason = ec.message();
  }
  return "cannot listen on " + where + ": " + reason;
}

std::vector<BoundListener> bind_listeners(const net::any_io_executor& executor,
                                          const Options& options) {
  struct Wanted {
    std::uint16_t port;
    ListenerRole role;
  };
  std::vector<Wanted> wanted;
  for (auto p : options.bound_smtp_ports()) wanted.push_back({p, ListenerRole::smtp});
  for (auto p : options.bound_tls_ports()) wanted.push_back({p, ListenerRole::smtps});
  wanted.push_back({options.bound_control_port(), ListenerRole::control});

  std::vector<BoundListener> out;
  for (const auto& text : options.listen) {
    boost::system::error_code ec;
    const auto address = net::ip::make_address(text, ec);
    if (ec) throw StartupError("cannot listen on '" + text + "': not an IP address");
    for (const auto& w : wanted) {
      const tcp::endpoint endpoint(address, w.port);
      tcp::acceptor acceptor(executor);
      acceptor.open(endpoint.protocol(), ec);
      if (ec && options.listen_is_default && address.is_v6() &&
          ec == net::error::address_family_not_supported) {
        LOG(warning) << "IPv6 is not available on this host; listening on IPv4 only";
        break;
      }
      if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
      // Each family on its own socket: the IPv4 wildcard then owns IPv4, and peers show
      // as plain IPv4 addresses rather than ::ffff:a.b.c.d.
      if (!ec && address.is_v6()) acceptor.set_option(net::ip::v6_only(true), ec);
      if (!ec) acceptor.bind(endpoint, ec);
      if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
      if (ec) throw StartupError(bind_error_text(address.to_string(), w.port, ec));
      out.push_back(BoundListener{std::move(acceptor), w.role, endpoint_text(endpoint)});
    }
  }
  return out;
}

// ---- refusals ---------------------------------------------------------------------------

std::string refusal_farewell(ListenerRole role, std::string_view hostname, std::string_view why) {
  switch (role) {
    case ListenerRole::smtp:
      return "421 4.7.0 " + std::string(hostname) + " " +
             std::string(SmtpServerDialogue::identity) + " " + std::string(why) + ", closing\r\n";
    case ListenerRole::control:
      return control::encode_frame(control::encode(control::Response{control::ErrorResponse{
          control::ErrorCode::busy,
          "the reflector refused this connection for its own limits: " + std::string(why) +
              ". This says nothing about your network; try again when your other connections "
              "to it have ended"}}));
    case ListenerRole::smtps:
      break;
  }
  return {};
}

void say_and_close(tcp::socket& socket, std::string_view bytes) {
  boost::system::error_code ec;
  if (!bytes.empty()) {
    socket.non_blocking(true, ec);
    if (!ec) socket.write_some(net::buffer(bytes.data(), bytes.size()), ec);
    std::array<char, 4096> sink;
    std::size_t drained = 0;
    while (!ec && drained < limits::refusal_drain_max_bytes)
      drained += socket.read_some(net::buffer(sink), ec);
  }
  socket.close(ec);
}

// ---- accept loop ----------------------------------------------------------------------

net::awaitable<void> accept_loop(BoundListener& listener, ConnectionTable& table,
                                 ServeFunction serve, RefuseFunction refuse, ShedFunction shed) {
  for (;;) {
    // The peer's address as accept() returns it: no getpeername() for it.
    tcp::endpoint peer;
    auto [ec, socket] =
        co_await listener.acceptor.async_accept(peer, net::as_tuple(net::use_awaitable));
    if (ec == net::error::operation_aborted || !listener.acceptor.is_open()) co_return;
    if (ec) {
      // Out of descriptors or memory: back off briefly instead of spinning on the error.
      LOG_EVERY(warning, "accept failed on " + listener.name)
          << "accept on " << listener.name << " failed: " << ec.message();
      net::steady_timer pause(co_await net::this_coro::executor, std::chrono::milliseconds(100));
      co_await pause.async_wait(net::as_tuple(net::use_awaitable));
      continue;
    }
    boost::system::error_code peer_ec;
    auto admission = table.admit(peer.address(), steady_ms_now());
    if (admission.shed > 0 && shed) shed(peer, admission.shed);
    if (!admission.slot) {
      say_and_close(socket, refuse ? refuse(peer, admission.why) : std::string());
      continue;
    }
    // Replies are small and each waits for the peer's next command: never hold one back
    // for a delayed ACK (the greeting on 465 waited 40 ms behind TLS session tickets).
    socket.set_option(tcp::no_delay(true), peer_ec);
    serve(std::move(socket), std::move(*admission.slot));
  }
}

}  // namespace egress25::reflector
