// The client end of the control protocol: connect with a deadline, HELLO, REPORT.
#include "control_client.hpp"

#include <array>
#include <boost/asio/write.hpp>
#include <boost/log/trivial.hpp>
#include <cctype>
#include <cmath>

#include "control_errors.hpp"
#include "deadline.hpp"
#include "limits.hpp"
#include "tcp_min_rtt.hpp"

namespace egress25::client {

using net::ip::tcp;

std::string endpoint_text(const tcp::endpoint& endpoint) {
  auto address = endpoint.address().to_string();
  if (endpoint.address().is_v6()) address = "[" + address + "]";
  return address + ":" + std::to_string(endpoint.port());
}

std::string error_text(const boost::system::error_code& ec) {
  std::string text = ec.message();
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

namespace {

std::string seconds_text(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

}  // namespace

ControlClient::ControlClient(net::any_io_executor executor)
    : socket_(std::move(executor)), decoder_(limits::max_response_frame) {}

void ControlClient::close() {
  boost::system::error_code ignored;
  socket_.close(ignored);
}

net::awaitable<std::string> ControlClient::connect(std::vector<tcp::endpoint> endpoints,
                                                   std::chrono::milliseconds timeout) {
  std::string error = "no address to connect to";
  for (const auto& endpoint : endpoints) {
    close();
    decoder_ = control::FrameDecoder(limits::max_response_frame);
    first_bytes_.clear();
    foreign_.reset();
    remote_ = endpoint;
    boost::system::error_code ec;
    socket_.open(endpoint.protocol(), ec);
    if (ec) {
      error = endpoint_text(endpoint) + ": " + error_text(ec);
      continue;
    }
    auto start = steady_clock::now();
    auto result = co_await before(start + timeout, socket_.async_connect(endpoint, as_result));
    if (!result) {
      error = connect_failure(endpoint_text(endpoint), {}, timeout);
    } else if (auto [connect_ec] = *result; connect_ec) {
      error = connect_failure(endpoint_text(endpoint), connect_ec, timeout);
    } else {
      connect_ms_ = ms_since(start);
      // Requests are single small frames: never hold one back for a delayed ACK.
      socket_.set_option(tcp::no_delay(true), ec);
      local_ = socket_.local_endpoint(ec);
      BOOST_LOG_TRIVIAL(debug) << "control: connected to " << endpoint_text(endpoint) << " in "
                               << connect_ms_ << " ms";
      co_return "";
    }
    BOOST_LOG_TRIVIAL(debug) << "control: " << error;
  }
  close();
  co_return error;
}

double ControlClient::kernel_min_rtt_ms() const {
  if (!socket_.is_open()) return 0;
  return tcp_min_rtt_ms(const_cast<net::ip::tcp::socket&>(socket_).native_handle());
}

double ControlClient::smallest_rtt_sample(const std::vector<double>& samples) {
  double best = 0;
  for (double s : samples)
    if (s > 0 && std::isfinite(s) && (best == 0 || s < best)) best = s;
  return best;
}

net::awaitable<ControlClient::Answer> ControlClient::request(control::Request request,
                                                             std::chrono::milliseconds timeout) {
  if (!socket_.is_open()) co_return std::string("the control connection is closed");
  auto start = steady_clock::now();
  auto deadline = start + timeout;
  const std::string frame = control::encode_frame(control::encode(request));
  auto written =
      co_await before(deadline, net::async_write(socket_, net::buffer(frame), as_result));
  if (!written) {
    close();
    co_return "no answer within " + seconds_text(timeout);
  }
  if (auto [ec, n] = *written; ec) {
    close();
    co_return "sending the request failed: " + error_text(ec);
  }
  std::array<char, 16 * 1024> buffer;
  for (;;) {
    auto next = decoder_.next();
    if (next.status == control::FrameDecoder::Status::error) {
      close();
      // "a frame announced 842149920 bytes" is "220 " read as a length: say what the
      // peer speaks instead.
      foreign_ = foreign_protocol(first_bytes_);
      co_return "the reflector's answer was malformed: " + next.error;
    }
    if (next.status == control::FrameDecoder::Status::frame) {
      last_request_ms_ = ms_since(start);
      auto decoded = control::decode_response(next.payload);
      if (auto* error = std::get_if<control::ErrorResponse>(&decoded)) {
        close();
        co_return "the reflector's answer was malformed: " + error->message;
      }
      co_return std::get<control::Response>(std::move(decoded));
    }
    auto got = co_await before(deadline, socket_.async_read_some(net::buffer(buffer), as_result));
    if (!got) {
      close();
      co_return "no answer within " + seconds_text(timeout);
    }
    auto [ec, n] = *got;
    if (ec) {
      close();
      foreign_ = foreign_protocol(first_bytes_);  // nullopt when it sent nothing
      if (ec == net::error::eof) co_return std::string(closed_by_peer);
      co_return "reading the answer failed: " + error_text(ec);
    }
    if (first_bytes_.size() < limits::control_first_bytes_kept)
      first_bytes_.append(buffer.data(),
                          std::min(n, limits::control_first_bytes_kept - first_bytes_.size()));
    decoder_.feed(std::string_view(buffer.data(), n));
  }
}

}  // namespace egress25::client
