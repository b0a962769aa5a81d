// Test helper: one control request to a reflector on loopback, the answer as key=value
// lines a shell test can grep (independent of the JSON field names).
//
//   reflector_ctl PORT hello [--token T] [--secret S]
//   reflector_ctl PORT report TOKEN
//   reflector_ctl PORT connect-back TOKEN PORT[,PORT...] [REFERENCE_PORT]
//   reflector_ctl PORT raw JSON        (one frame of JSON as given: hostile requests)
//
// The address is 127.0.0.1, or $REFLECTOR_CTL_HOST (e.g. ::1); the connection comes from
// $REFLECTOR_CTL_BIND when set (e.g. 127.0.0.2, to be another client on loopback).
// Exit 0 with the answer, 1 with "error=<code> <message>", 2 on bad usage or no answer.
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <boost/asio.hpp>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

#include "control_protocol.hpp"
#include "limits.hpp"

namespace net = boost::asio;
using namespace egress25;

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out.empty() ? "-" : out;
}

void print(const control::HelloResponse& r) {
  std::cout << "token=" << r.token << "\nprobe_id=" << r.probe_id
            << "\nclient_address=" << r.client_address << "\nfamily=" << to_string(r.family)
            << "\nfingerprint=" << r.tls_fingerprint << "\nbanner_identity=" << r.banner_identity
            << "\nversion=" << r.version
            << "\nwitness=" << (r.witness.active ? "active" : "inactive: " + r.witness.reason)
            << "\nexpires_in_s=" << (r.session_expires_unix_ms - r.server_time_unix_ms) / 1000
            << "\n";
  for (const auto& s : r.services)
    std::cout << "service=" << s.port << "/" << to_string(s.kind) << "\n";
}

void print(const control::ReportResponse& r) {
  for (const auto& c : r.connections) {
    std::cout << "connection tag=" << c.probe_tag << " port=" << c.local_port
              << " kind=" << to_string(c.kind) << " family=" << to_string(c.family)
              << " peer=" << c.peer_address << " seen_in=" << join(c.tag_seen_in)
              << " tls=" << (c.tls_version.empty() ? "-" : c.tls_version)
              << " sni=" << (c.tls_sni.empty() ? "-" : c.tls_sni) << " end=" << c.end_reason
              << " ended=" << (c.ended_unix_ms ? "yes" : "no") << "\n";
    std::cout << "plain_to_server=" << printable(c.transcript.plain.to_server.kept, 4000) << "\n"
              << "plain_to_client=" << printable(c.transcript.plain.to_client.kept, 4000) << "\n"
              << "tls_to_server=" << printable(c.transcript.tls.to_server.kept, 4000) << "\n"
              << "tls_to_client=" << printable(c.transcript.tls.to_client.kept, 4000) << "\n";
  }
  for (const auto& u : r.untagged)
    std::cout << "untagged peer=" << u.peer_address << " port=" << u.local_port
              << " end=" << (u.end_reason.empty() ? "-" : u.end_reason) << "\n";
  for (const auto& x : r.refused)
    std::cout << "refused peer=" << x.peer_address << " port=" << x.local_port
              << " family=" << to_string(x.family) << " count=" << x.count
              << " first=" << x.first_unix_ms << " last=" << x.last_unix_ms
              << " reason=" << x.reason << "\n";
  std::cout << "public_ipv4=" << r.public_ipv4.value_or("-")
            << "\npublic_ipv6=" << r.public_ipv6.value_or("-") << "\n";
  std::cout << "witness=" << (r.witness.active ? "active" : "inactive: " + r.witness.reason)
            << "\nwitness_flows=" << r.witness_flows.size() << "\n";
}

void print(const control::ConnectBackResponse& r) {
  std::cout << "address=" << r.address << "\nfamily=" << to_string(r.family) << "\n";
  for (const auto& a : r.attempts)
    std::cout << "attempt port=" << a.port << " to=" << a.address
              << " connect=" << to_string(a.connect)
              << " banner=" << (a.banner_code ? std::to_string(*a.banner_code) : "-")
              << " ehlo=" << (a.ehlo_code ? std::to_string(*a.ehlo_code) : "-")
              << " quit=" << (a.quit_code ? std::to_string(*a.quit_code) : "-")
              << " end=" << to_string(a.end) << " trace=" << (a.trace ? "yes" : "no")
              << " banner_text=" << printable(a.banner, 200) << "\n";
  for (const auto& x : r.refused)
    std::cout << "refused port=" << x.port << " reason=" << x.reason << "\n";
}

void print(const control::ErrorResponse& e) {
  std::cout << "error=" << to_string(e.code) << " " << e.message << "\n";
}

int usage() {
  std::cerr << "usage: reflector_ctl PORT hello [--token T] [--secret S] | PORT report TOKEN"
               " | PORT connect-back TOKEN PORTS [REFERENCE] | PORT raw JSON\n";
  return 2;
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc < 3) return usage();
  const std::string command = argv[2];
  control::Request request;
  std::optional<std::string> raw;
  if (command == "hello") {
    control::HelloRequest hello;
    hello.client_version = "reflector_ctl";
    for (int i = 3; i + 1 < argc; i += 2) {
      const std::string name = argv[i];
      if (name == "--token") {
        hello.token = argv[i + 1];
      } else if (name == "--secret") {
        hello.secret = argv[i + 1];
      } else {
        return usage();
      }
    }
    request = hello;
  } else if (command == "report" && argc == 4) {
    request = control::ReportRequest{argv[3]};
  } else if (command == "connect-back" && (argc == 5 || argc == 6)) {
    control::ConnectBackRequest cb;
    cb.token = argv[3];
    std::string list = argv[4];
    for (std::size_t at = 0; at <= list.size();) {
      const auto comma = std::min(list.find(',', at), list.size());
      cb.ports.push_back(static_cast<std::uint16_t>(std::stoi(list.substr(at, comma - at))));
      at = comma + 1;
    }
    if (argc == 6) cb.reference_port = static_cast<std::uint16_t>(std::stoi(argv[5]));
    request = cb;
  } else if (command == "raw" && argc == 4) {
    raw = argv[3];
  } else {
    return usage();
  }
  try {
    net::io_context io;
    net::ip::tcp::socket socket(io);
    const char* host = std::getenv("REFLECTOR_CTL_HOST");
    const net::ip::tcp::endpoint to(net::ip::make_address(host ? host : "127.0.0.1"),
                                    static_cast<unsigned short>(std::stoi(argv[1])));
    socket.open(to.protocol());
    if (const char* bind = std::getenv("REFLECTOR_CTL_BIND"))
      socket.bind({net::ip::make_address(bind), 0});
    socket.connect(to);
    // A blocking helper: a receive timeout keeps a silent reflector from hanging a test
    // (a connect-back takes up to limits::connect_back_request_budget).
    timeval tv{command == "connect-back" || command == "raw" ? 40 : 5, 0};
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const auto payload = raw ? *raw : control::encode(request);
    net::write(socket, net::buffer(control::encode_frame(payload)));
    control::FrameDecoder decoder(limits::max_response_frame);
    std::array<char, 65536> buffer;
    for (;;) {
      auto next = decoder.next();
      if (next.status == control::FrameDecoder::Status::error) {
        std::cerr << "bad frame: " << next.error << "\n";
        return 2;
      }
      if (next.status == control::FrameDecoder::Status::frame) {
        auto decoded = control::decode_response(next.payload);
        if (auto* bad = std::get_if<control::ErrorResponse>(&decoded)) {
          std::cerr << "undecodable response: " << bad->message << "\n";
          return 2;
        }
        auto& response = std::get<control::Response>(decoded);
        std::visit([](const auto& r) { print(r); }, response);
        return std::holds_alternative<control::ErrorResponse>(response) ? 1 : 0;
      }
      const auto n = socket.read_some(net::buffer(buffer));
      decoder.feed(std::string_view(buffer.data(), n));
    }
  } catch (const std::exception& e) {
    std::cerr << "reflector_ctl: " << e.what() << "\n";
    return 2;
  }
}
