// Integration test of the reflector's control service over loopback, in process: the
// real accept loop, framing, handler and session store, with small table limits.
#define BOOST_TEST_MODULE reflector_control
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>
#include <thread>

#include "control_protocol.hpp"
#include "control_session.hpp"
#include "limits.hpp"
#include "listener.hpp"
#include "session_store.hpp"

namespace net = boost::asio;
using net::ip::tcp;
using namespace egress25;
using namespace egress25::reflector;

namespace {

// A control service on 127.0.0.1:<ephemeral>, served on a thread of its own.
struct ControlServer {
  explicit ControlServer(std::size_t max_sessions_per_address)
      : store(limits(max_sessions_per_address)),
        service(store, config()),
        table(connection_limits()),
        listener{tcp::acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0)),
                 ListenerRole::control, "test"} {
    port = listener.acceptor.local_endpoint().port();
    net::co_spawn(
        io,
        accept_loop(listener, table,
                    [this](tcp::socket s, ConnectionTable::Slot slot) {
                      net::co_spawn(
                          io,
                          run_control_session(std::move(s), service,
                                              limits::control_connection_lifetime, std::move(slot)),
                          net::detached);
                    }),
        net::detached);
    thread = std::thread([this] { io.run(); });
  }
  ~ControlServer() {
    net::post(io, [this] {
      listener.acceptor.close();
      io.stop();
    });
    thread.join();
  }
  static ConnectionLimits connection_limits() {
    ConnectionLimits l;
    l.max_total = l.max_per_address = l.max_per_prefix = 64;
    return l;
  }
  static SessionStore::Limits limits(std::size_t max_sessions_per_address) {
    SessionStore::Limits l;
    l.max_sessions_per_address = max_sessions_per_address;
    return l;
  }
  static ControlConfig config() {
    ControlConfig c;
    c.services = {{10025, ServiceKind::smtp, "smtp"}, {10465, ServiceKind::smtps, "smtps"}};
    c.tls_fingerprint = std::string(64, 'a');
    c.banner_identity = "egress25-reflector";
    c.version = "test";
    c.witness = {false, "disabled by --witness off"};
    return c;
  }

  net::io_context io;
  SessionStore store;
  ControlService service;
  ConnectionTable table;
  BoundListener listener;
  std::uint16_t port = 0;
  std::thread thread;
};

// A blocking client: raw bytes out, whole frames in, and whether the server closed.
struct Client {
  explicit Client(std::uint16_t port) : socket(io) {
    socket.connect({net::ip::make_address("127.0.0.1"), port});
    timeval tv{5, 0};  // a server that never answers fails the test instead of hanging it
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  void send_raw(std::string_view bytes) { net::write(socket, net::buffer(bytes)); }
  void send(const control::Request& r) { send_raw(control::encode_frame(control::encode(r))); }
  // The next response, or nullopt when the server closed first.
  std::optional<control::Response> receive() {
    std::array<char, 65536> buffer;
    for (;;) {
      auto next = decoder.next();
      BOOST_REQUIRE(next.status != control::FrameDecoder::Status::error);
      if (next.status == control::FrameDecoder::Status::frame) {
        auto decoded = control::decode_response(next.payload);
        BOOST_REQUIRE(std::holds_alternative<control::Response>(decoded));
        return std::get<control::Response>(decoded);
      }
      boost::system::error_code ec;
      const auto n = socket.read_some(net::buffer(buffer), ec);
      if (ec == net::error::eof || ec == net::error::connection_reset) return std::nullopt;
      BOOST_REQUIRE_MESSAGE(!ec, "read: " << ec.message());
      decoder.feed(std::string_view(buffer.data(), n));
    }
  }
  control::Response exchange(const control::Request& r) {
    send(r);
    auto response = receive();
    BOOST_REQUIRE(response.has_value());
    return *response;
  }

  net::io_context io;
  tcp::socket socket;
  control::FrameDecoder decoder{limits::max_response_frame};
};

// The error code's wire name ("busy", ...): printable in a failed check.
std::string error_of(const control::Response& r) {
  BOOST_REQUIRE(std::holds_alternative<control::ErrorResponse>(r));
  return std::string(to_string(std::get<control::ErrorResponse>(r).code));
}

control::HelloRequest hello() {
  control::HelloRequest h;
  h.client_version = "test";
  return h;
}

}  // namespace

BOOST_AUTO_TEST_CASE(hello_then_report_on_one_connection) {
  ControlServer server(8);
  Client client(server.port);
  auto r = client.exchange(hello());
  BOOST_REQUIRE(std::holds_alternative<control::HelloResponse>(r));
  const auto& h = std::get<control::HelloResponse>(r);
  BOOST_TEST(h.token.size() >= 32u);
  BOOST_TEST(h.probe_id != h.token);
  BOOST_TEST(h.client_address == "127.0.0.1");
  BOOST_TEST(to_string(h.family) == "ipv4");
  BOOST_TEST(h.services.size() == 2u);
  BOOST_TEST(h.tls_fingerprint == std::string(64, 'a'));
  BOOST_TEST(!h.witness.active);
  BOOST_TEST(h.session_expires_unix_ms > h.server_time_unix_ms);

  auto report = client.exchange(control::ReportRequest{h.token});
  BOOST_REQUIRE(std::holds_alternative<control::ReportResponse>(report));
  const auto& rep = std::get<control::ReportResponse>(report);
  BOOST_TEST(rep.connections.empty());
  BOOST_TEST(rep.public_ipv4.value_or("") == "127.0.0.1");
  BOOST_TEST(!rep.public_ipv6.has_value());
}

BOOST_AUTO_TEST_CASE(wrong_token_is_refused_and_closed) {
  ControlServer server(8);
  Client client(server.port);
  BOOST_TEST(error_of(client.exchange(control::ReportRequest{std::string(32, '0')})) ==
             "unknown_token");
  BOOST_TEST(!client.receive().has_value());
}

BOOST_AUTO_TEST_CASE(sessions_under_way_are_bounded_per_source) {
  ControlServer server(2);
  for (int i = 0; i < 2; ++i) {
    Client c(server.port);
    BOOST_TEST(std::holds_alternative<control::HelloResponse>(c.exchange(hello())));
  }
  Client third(server.port);
  BOOST_TEST(error_of(third.exchange(hello())) == "busy");
}

BOOST_AUTO_TEST_CASE(request_budget_per_connection) {
  ControlServer server(8);
  Client client(server.port);
  auto h = std::get<control::HelloResponse>(client.exchange(hello()));
  for (int i = 1; i < limits::max_requests_per_control_connection; ++i)
    BOOST_TEST(std::holds_alternative<control::ReportResponse>(
        client.exchange(control::ReportRequest{h.token})));
  // The budget is spent: the next request is not answered, the connection closes.
  client.send(control::ReportRequest{h.token});
  BOOST_TEST(!client.receive().has_value());
}

BOOST_AUTO_TEST_CASE(bad_frames_get_an_error_then_a_close_and_the_service_goes_on) {
  ControlServer server(8);
  {
    Client c(server.port);
    const std::uint32_t n = limits::max_request_frame + 1;
    const char length[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                            static_cast<char>(n >> 8), static_cast<char>(n)};
    c.send_raw(std::string_view(length, 4));
    auto r = c.receive();
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(error_of(*r) == "too_large");
    BOOST_TEST(!c.receive().has_value());
  }
  {
    Client c(server.port);
    c.send_raw(control::encode_frame(R"({"v":1,"type":"frobnicate"})"));
    auto r = c.receive();
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(error_of(*r) == "unknown_type");
    BOOST_TEST(!c.receive().has_value());
  }
  {
    Client c(server.port);
    c.send_raw(control::encode_frame(R"({"v":99,"type":"hello"})"));
    auto r = c.receive();
    BOOST_REQUIRE(r.has_value());
    BOOST_TEST(error_of(*r) == "unsupported_version");
  }
  Client after(server.port);
  BOOST_TEST(std::holds_alternative<control::HelloResponse>(after.exchange(hello())));
}
