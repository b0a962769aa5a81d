// Integration test, in process over loopback: a peer that trickles bytes slowly enough to
// dodge every idle timeout is still cut off when its connection's lifetime is over, on
// the control port and on a mail port (slowloris).
#define BOOST_TEST_MODULE reflector_lifetime
#include <poll.h>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <thread>

#include "control_session.hpp"
#include "limits.hpp"
#include "session_store.hpp"
#include "smtp_session.hpp"
#include "tls_identity.hpp"

namespace net = boost::asio;
using net::ip::tcp;
using namespace egress25;
using namespace egress25::reflector;
using Clock = std::chrono::steady_clock;

namespace {

// The lifetime the sessions under test are given. A session must last at least this
// long (its clock starts at accept, after the trickle's clock started) and be closed
// soon after: the trickle notices a close within one 200 ms poll, and the rest of the
// slack is scheduling on a loaded machine (2 cores shared by parallel builds and tests).
// The idle timeouts (15 s and 30 s) are far beyond it: a close in the window is the
// lifetime's doing, not theirs.
constexpr auto lifetime = std::chrono::seconds(1);
constexpr auto close_slack = std::chrono::seconds(2);

// Serves every connection on 127.0.0.1:<ephemeral> with `serve`, on a thread of its own.
struct Server {
  using Serve = std::function<net::awaitable<void>(tcp::socket)>;
  explicit Server(Serve serve)
      : acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
        port(acceptor.local_endpoint().port()) {
    net::co_spawn(
        io,
        [this, serve]() -> net::awaitable<void> {
          for (;;) {
            auto [ec, s] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
            if (ec) co_return;
            net::co_spawn(io, serve(std::move(s)), net::detached);
          }
        },
        net::detached);
    thread = std::thread([this] { io.run(); });
  }
  ~Server() {
    net::post(io, [this] {
      acceptor.close();
      io.stop();
    });
    thread.join();
  }
  net::io_context io;
  tcp::acceptor acceptor;
  std::uint16_t port;
  std::thread thread;
};

struct Trickled {
  std::string received;
  bool closed = false;
  Clock::duration after{};
};

// Connects, then sends one byte of `bytes` at a time, each ~200 ms apart (the reads in
// between wait that long), until the server closes or 10 s pass.
Trickled trickle(std::uint16_t port, const std::string& bytes) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  Trickled out;
  const auto start = Clock::now();
  std::size_t next = 0;
  std::array<char, 4096> buffer;
  while (Clock::now() - start < std::chrono::seconds(10)) {
    boost::system::error_code ec;
    if (next < bytes.size()) net::write(socket, net::buffer(&bytes[next++], 1), ec);
    // poll, not SO_RCVTIMEO: Asio's blocking read waits again when recv times out.
    pollfd p{socket.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const auto n = socket.read_some(net::buffer(buffer), ec);
    out.received.append(buffer.data(), n);
    if (ec == net::error::eof || ec == net::error::connection_reset) {
      out.closed = true;
      break;
    }
  }
  out.after = Clock::now() - start;
  return out;
}

// Closed by the lifetime: not before it, and within the slack after it.
void check_closed_at_lifetime(const Trickled& got) {
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  BOOST_TEST(got.closed);
  BOOST_TEST(got.after >= lifetime, "closed after "
                                        << duration_cast<milliseconds>(got.after).count()
                                        << " ms, before the lifetime");
  BOOST_TEST(got.after < lifetime + close_slack,
             "closed after " << duration_cast<milliseconds>(got.after).count()
                             << " ms, later than the lifetime and its slack");
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_trickling_control_peer_is_closed_at_the_lifetime) {
  SessionStore store;
  ControlConfig config;
  config.tls_fingerprint = std::string(64, 'a');
  ControlService service(store, config);
  Server server(
      [&](tcp::socket s) { return run_control_session(std::move(s), service, lifetime); });
  // A frame announcing 8000 bytes, its payload sent a byte at a time: never complete,
  // never idle for control_idle_timeout.
  const auto got = trickle(server.port, std::string("\0\0\x1f\x40", 4) + std::string(100, 'x'));
  check_closed_at_lifetime(got);
  BOOST_TEST((lifetime + close_slack < limits::control_idle_timeout));
}

BOOST_AUTO_TEST_CASE(a_trickling_smtp_peer_is_told_and_closed_at_the_lifetime) {
  SessionStore store;
  std::string error;
  auto identity = TlsIdentity::generate("reflector.test", error);
  BOOST_TEST_REQUIRE(identity != nullptr, error);
  SmtpContext context{store, std::move(identity), "reflector.test", lifetime};
  Server server(
      [&](tcp::socket s) { return run_smtp_session(std::move(s), ServiceKind::smtp, context); });
  // One endless command line, a byte at a time.
  const auto got = trickle(server.port, "NOOP " + std::string(100, 'x'));
  check_closed_at_lifetime(got);
  BOOST_TEST((lifetime + close_slack < limits::smtp_idle_timeout));
  BOOST_TEST(got.received.find("220 ") == 0u, got.received);
  BOOST_TEST(got.received.find("421 4.4.2 reflector.test session time limit") != std::string::npos,
             got.received);
}

BOOST_AUTO_TEST_CASE(an_smtp_peer_that_never_shows_a_tag_is_closed_in_seconds) {
  SessionStore store;
  std::string error;
  auto identity = TlsIdentity::generate("reflector.test", error);
  BOOST_TEST_REQUIRE(identity != nullptr, error);
  // A whole session lifetime of minutes, but no live tag within a second: a scanner's or
  // a slow drip's connection is closed long before it.
  SmtpContext context{store, std::move(identity), "reflector.test", std::chrono::minutes(5),
                      lifetime};
  Server server(
      [&](tcp::socket s) { return run_smtp_session(std::move(s), ServiceKind::smtp, context); });
  const auto got = trickle(server.port, "EHLO scanner.example\r\nNOOP " + std::string(100, 'x'));
  check_closed_at_lifetime(got);
  BOOST_TEST(
      got.received.find("421 4.4.2 reflector.test no session tag in time") != std::string::npos,
      got.received);
}

BOOST_AUTO_TEST_CASE(the_default_lifetimes_are_the_declared_limits) {
  SessionStore store;
  std::string error;
  auto identity = TlsIdentity::generate("reflector.test", error);
  BOOST_TEST_REQUIRE(identity != nullptr, error);
  SmtpContext context{store, std::move(identity), "reflector.test"};
  BOOST_TEST((context.session_lifetime == limits::smtp_session_lifetime));
  BOOST_TEST((context.untagged_lifetime == limits::untagged_smtp_lifetime));
  BOOST_TEST((limits::untagged_smtp_lifetime < limits::smtp_session_lifetime));
  BOOST_TEST((limits::smtp_session_lifetime > limits::smtp_idle_timeout));
  BOOST_TEST((limits::control_connection_lifetime > limits::control_idle_timeout));
}
