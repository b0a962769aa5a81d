// The client end of the control protocol: connect with a deadline, HELLO, REPORT.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "control_protocol.hpp"

namespace egress25::client {

namespace net = boost::asio;

class ControlClient {
 public:
  explicit ControlClient(net::any_io_executor executor);

  // Tries each endpoint in turn, each within `timeout`. "" on success, else a sentence
  // naming the last endpoint tried, what happened and what usually causes it
  // (connect_failure: "connection refused: ...", "no answer within 5 s: ...").
  net::awaitable<std::string> connect(std::vector<net::ip::tcp::endpoint> endpoints,
                                      std::chrono::milliseconds timeout);

  // One request, one response frame, within `timeout`. A transport or decoding failure
  // is a sentence; an error frame from the reflector is an ErrorResponse. When the peer
  // answered with something other than frames, foreign() says what it speaks.
  using Answer = std::variant<control::Response, std::string>;
  net::awaitable<Answer> request(control::Request request, std::chrono::milliseconds timeout);

  bool is_open() const { return socket_.is_open(); }
  void close();

  // Where the last connect went, and how long the TCP handshake took.
  const net::ip::tcp::endpoint& remote() const { return remote_; }
  const net::ip::tcp::endpoint& local() const { return local_; }
  double connect_ms() const { return connect_ms_; }
  // The round trip of the last request, in milliseconds.
  double last_request_ms() const { return last_request_ms_; }
  // The kernel's smallest round trip on this connection so far (TCP_INFO tcpi_min_rtt,
  // from every ACK it timed: the handshake's, the requests'), 0 when it cannot say.
  double kernel_min_rtt_ms() const;
  // The path's round trip: the smallest of the samples above (the connect, the last
  // request, the kernel's). A connect may have waited for neighbour discovery or ARP, a
  // request for the reflector's own work; the kernel times the ACK of the request's
  // first segment, which a peer in quick-ACK mode sends at once.
  double path_rtt_ms() const {
    return smallest_rtt_sample({connect_ms_, last_request_ms_, kernel_min_rtt_ms()});
  }
  // The smallest positive sample; 0 when there is none.
  static double smallest_rtt_sample(const std::vector<double>& samples);
  // What the peer speaks when its answer was not the control protocol ("speaks SMTP (it
  // greeted with '220 ...'), not ..."); nullopt otherwise.
  const std::optional<std::string>& foreign() const { return foreign_; }

 private:
  net::ip::tcp::socket socket_;
  control::FrameDecoder decoder_;
  net::ip::tcp::endpoint remote_;
  net::ip::tcp::endpoint local_;
  double connect_ms_ = 0;
  double last_request_ms_ = 0;
  std::string first_bytes_;  // the start of what the peer sent, to name a foreign protocol
  std::optional<std::string> foreign_;
};

// The transport failure a request returns when the peer closed without a frame.
inline constexpr const char* closed_by_peer = "the reflector closed the connection";

// "127.0.0.1:7025", "[::1]:7025".
std::string endpoint_text(const net::ip::tcp::endpoint& endpoint);

// An error code as an operator reads it: the system's words, lower case first letter.
std::string error_text(const boost::system::error_code& ec);

}  // namespace egress25::client
