// Test helper: a fake reflector whose every text field is hostile (terminal escape
// sequences, CR/LF that forge lines, bell, oversized fields), to show that the client
// prints none of it raw.
//
//   hostile_reflector MODE CONTROL_PORT SMTP_PORT
//
// MODE hello:     HELLO is answered with a hostile version, service name and witness
//                 reason, advertising SMTP_PORT, where a hostile greeting waits; REPORT
//                 with refusals and a witness reason that are hostile too.
// MODE refuse:    HELLO is refused with a hostile error message.
// MODE oversized: HELLO is answered with fields far over the protocol's caps.
// Serves until killed; prints "ready" on stdout once both ports listen.
#include <boost/asio.hpp>
#include <iostream>
#include <string>
#include <thread>

#include "control_protocol.hpp"
#include "limits.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace egress25;

namespace {

// Clears the screen, sets the window title, rings the bell, and forges lines that look
// like the client's own output.
const std::string hostile =
    "\x1b[2J\x1b[H\x1b]0;owned\x07\x1b[31mRED\r\negress25: all probes open\n\x9b"
    "1m";

control::Response hello_response(const std::string& mode, std::uint16_t smtp_port) {
  control::HelloResponse r;
  r.token = std::string(32, 'a');
  r.probe_id = std::string(24, 'b');
  r.client_address = "127.0.0.1";
  r.client_port = 1;
  r.family = Family::ipv4;
  r.tls_fingerprint = std::string(64, 'c');
  r.banner_identity = "egress25-reflector";
  r.server_time_unix_ms = 1;
  r.session_expires_unix_ms = 600001;
  if (mode == "oversized") {
    r.version = std::string(100000, 'V') + hostile;
    r.services = {{smtp_port, ServiceKind::smtp, std::string(100000, 'S') + hostile}};
    r.witness = {false, std::string(100000, 'W') + hostile};
  } else {
    r.version = "6.6.6" + hostile.substr(0, 40);
    r.services = {{smtp_port, ServiceKind::smtp, "smtp\x1b[2J\r\nX"}};
    r.witness = {false, "witness off" + hostile};
  }
  return r;
}

control::Response report_response(std::uint16_t smtp_port) {
  control::ReportResponse r;
  r.witness = {false, "gone" + hostile};
  r.public_ipv4 = "127.0.0.1";
  control::RefusedConnection refused;
  refused.peer_address = "127.0.0.1";
  refused.local_port = smtp_port;
  refused.reason = "refused" + hostile;
  refused.count = 1;
  refused.first_unix_ms = 1;
  refused.last_unix_ms = 4102444800000;
  r.refused.push_back(refused);
  return r;
}

void serve_control(tcp::socket socket, std::string mode, std::uint16_t smtp_port) {
  control::FrameDecoder decoder(limits::max_request_frame);
  std::array<char, 4096> buffer;
  boost::system::error_code ec;
  for (;;) {
    auto frame = decoder.next();
    if (frame.status == control::FrameDecoder::Status::error) return;
    if (frame.status == control::FrameDecoder::Status::need_more) {
      const auto n = socket.read_some(net::buffer(buffer), ec);
      if (ec) return;
      decoder.feed(std::string_view(buffer.data(), n));
      continue;
    }
    auto decoded = control::decode_request(frame.payload);
    if (!std::holds_alternative<control::Request>(decoded)) return;
    const auto& request = std::get<control::Request>(decoded);
    control::Response response;
    if (std::holds_alternative<control::ReportRequest>(request)) {
      response = report_response(smtp_port);
    } else if (mode == "refuse") {
      response = control::ErrorResponse{control::ErrorCode::busy, "no" + hostile};
    } else {
      response = hello_response(mode, smtp_port);
    }
    // Encoded by hand where the fields are over the caps: the encoder does not check them.
    net::write(socket, net::buffer(control::encode_frame(control::encode(response))), ec);
    if (ec) return;
  }
}

void serve_smtp(tcp::socket socket) {
  boost::system::error_code ec;
  net::write(socket, net::buffer("220 evil.example ESMTP" + hostile + "\r\n"), ec);
  std::array<char, 4096> buffer;
  for (int i = 0; i < 8 && !ec; ++i) {
    socket.read_some(net::buffer(buffer), ec);
    if (!ec) net::write(socket, net::buffer("250 ok" + hostile + "\r\n"), ec);
  }
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc != 4) {
    std::cerr << "usage: hostile_reflector hello|refuse|oversized CONTROL_PORT SMTP_PORT\n";
    return 2;
  }
  const std::string mode = argv[1];
  const auto control_port = static_cast<std::uint16_t>(std::stoi(argv[2]));
  const auto smtp_port = static_cast<std::uint16_t>(std::stoi(argv[3]));
  net::io_context io;
  const auto loopback = net::ip::make_address("127.0.0.1");
  tcp::acceptor control(io, {loopback, control_port});
  tcp::acceptor smtp(io, {loopback, smtp_port});
  std::cout << "ready" << std::endl;
  std::thread smtp_thread([&] {
    for (;;) std::thread(serve_smtp, smtp.accept()).detach();
  });
  for (;;) std::thread(serve_control, control.accept(), mode, smtp_port).detach();
}
