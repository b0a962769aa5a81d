// Test helper: the attacks of issue 7 against a reflector, from many source addresses,
// for a while, then a summary of what the attackers got.
//
//   abuse_load MODE --target ADDR --port PORT --sources FIRST[+COUNT[/STEP]]
//              [--per-source N] [--seconds S]
//
// Sources are COUNT addresses from FIRST, STEP apart (STEP 256 puts IPv4 sources in
// different /24s). Modes:
//   idle   each source holds N connections that say nothing, and opens a new one as soon
//          as one is closed (reading the greeting or refusal, if any)
//   drip   the same, each connection sending one byte every 5 s
//   hello  each source opens sessions (control HELLO) as fast as it can, N at once
//   flood  each source connects and closes as fast as it can, N at once
// Prints one line of key=value counts on stdout when the time is up, or at SIGTERM.
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "control_protocol.hpp"
#include "limits.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace egress25;
using Clock = std::chrono::steady_clock;

namespace {

struct Counts {
  std::uint64_t attempts = 0;  // connects tried
  std::uint64_t accepted = 0;  // connects that completed
  std::uint64_t refused = 0;   // answered with the reflector's refusal (421, busy)
  std::uint64_t closed = 0;    // closed by the reflector later (shed, timeouts)
  std::uint64_t sessions = 0;  // HELLOs answered with a session
  std::uint64_t failed = 0;    // connect errors (backlog full, ...)
  std::size_t held = 0;        // connections open now
  std::size_t max_held = 0;
};

struct Config {
  std::string mode;
  net::ip::address target;
  std::uint16_t port = 0;
  std::vector<net::ip::address> sources;
  int per_source = 16;
  double seconds = 10;
};

Counts counts;
Clock::time_point until;

// FIRST[+COUNT[/STEP]]
std::vector<net::ip::address> parse_sources(const std::string& text) {
  auto plus = text.find('+');
  auto first = net::ip::make_address(text.substr(0, plus));
  std::size_t count = 1, step = 1;
  if (plus != std::string::npos) {
    auto slash = text.find('/', plus);
    count = std::stoul(text.substr(plus + 1, slash - plus - 1));
    if (slash != std::string::npos) step = std::stoul(text.substr(slash + 1));
  }
  std::vector<net::ip::address> out;
  for (std::size_t i = 0; i < count; ++i) {
    if (first.is_v4()) {
      out.push_back(
          net::ip::address_v4(first.to_v4().to_uint() + static_cast<std::uint32_t>(i * step)));
    } else {
      auto bytes = first.to_v6().to_bytes();
      std::uint64_t low = 0;
      for (int b = 8; b < 16; ++b) low = (low << 8) | bytes[b];
      low += i * step;
      for (int b = 15; b >= 8; --b, low >>= 8) bytes[b] = static_cast<unsigned char>(low & 0xff);
      out.push_back(net::ip::address_v6(bytes));
    }
  }
  return out;
}

net::awaitable<bool> connect_from(tcp::socket& s, const net::ip::address& source, const Config& c) {
  boost::system::error_code ec;
  const tcp::endpoint target(c.target, c.port);
  s.open(target.protocol(), ec);
  if (!ec) {
    int one = 1;
    // Sources in a local route (IPv6 AnyIP) need no address of their own on the host.
    ::setsockopt(s.native_handle(), SOL_IP, IP_FREEBIND, &one, sizeof one);
    s.set_option(net::socket_base::reuse_address(true), ec);
    s.bind(tcp::endpoint(source, 0), ec);
  }
  ++counts.attempts;
  if (!ec) std::tie(ec) = co_await s.async_connect(target, net::as_tuple(net::use_awaitable));
  if (ec) {
    ++counts.failed;
    s.close(ec);
    co_return false;
  }
  ++counts.accepted;
  co_return true;
}

net::awaitable<void> pause(std::chrono::milliseconds d) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(net::as_tuple(net::use_awaitable));
}

// One slot of an idle or dripping attacker: a connection held until the reflector
// closes it, then another.
net::awaitable<void> hold(net::ip::address source, const Config& c, bool drip) {
  while (Clock::now() < until) {
    tcp::socket s(co_await net::this_coro::executor);
    if (!co_await connect_from(s, source, c)) {
      co_await pause(std::chrono::milliseconds(100));
      continue;
    }
    counts.max_held = std::max(counts.max_held, ++counts.held);
    std::array<char, 512> buffer;
    std::string first;
    bool refused = false;
    auto next_drip = Clock::now() + std::chrono::seconds(5);
    for (;;) {
      const auto now = Clock::now();
      if (now >= until) break;
      const auto wake = std::min(until, drip ? next_drip : until);
      net::steady_timer timer(s.get_executor(), wake);
      timer.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) s.cancel();
      });
      auto [ec, n] =
          co_await s.async_read_some(net::buffer(buffer), net::as_tuple(net::use_awaitable));
      timer.cancel();
      if (n > 0 && first.size() < 16) first.append(buffer.data(), std::min<std::size_t>(n, 16));
      if (ec == net::error::operation_aborted) {
        if (drip && Clock::now() >= next_drip) {
          boost::system::error_code wec;
          net::write(s, net::buffer("X", 1), wec);
          next_drip = Clock::now() + std::chrono::seconds(5);
          continue;
        }
        break;  // time is up
      }
      if (ec) {
        // The reflector's refusal comes first, in place of a greeting: a 421 on SMTP, an
        // error frame (its length's first byte is 0) on the control port.
        refused = first.starts_with("421 4.7.0") || (!first.empty() && first[0] == '\0');
        (refused ? counts.refused : counts.closed)++;
        break;
      }
    }
    --counts.held;
    boost::system::error_code ignored;
    s.close(ignored);
    if (!refused) continue;
    co_await pause(std::chrono::milliseconds(50));
  }
}

net::awaitable<void> hellos(net::ip::address source, const Config& c) {
  while (Clock::now() < until) {
    tcp::socket s(co_await net::this_coro::executor);
    if (!co_await connect_from(s, source, c)) {
      co_await pause(std::chrono::milliseconds(50));
      continue;
    }
    control::HelloRequest h;
    h.client_version = "abuse_load";
    boost::system::error_code ec;
    net::write(s, net::buffer(control::encode_frame(control::encode(control::Request{h}))), ec);
    control::FrameDecoder decoder(limits::max_response_frame);
    std::array<char, 4096> buffer;
    for (; !ec;) {
      auto frame = decoder.next();
      if (frame.status == control::FrameDecoder::Status::frame) {
        auto r = control::decode_response(frame.payload);
        const bool ok =
            std::holds_alternative<control::Response>(r) &&
            std::holds_alternative<control::HelloResponse>(std::get<control::Response>(r));
        (ok ? counts.sessions : counts.refused)++;
        break;
      }
      if (frame.status == control::FrameDecoder::Status::error) break;
      std::size_t n = 0;
      std::tie(ec, n) =
          co_await s.async_read_some(net::buffer(buffer), net::as_tuple(net::use_awaitable));
      decoder.feed(std::string_view(buffer.data(), n));
    }
    if (ec) ++counts.closed;
  }
}

net::awaitable<void> flood(net::ip::address source, const Config& c) {
  while (Clock::now() < until) {
    tcp::socket s(co_await net::this_coro::executor);
    if (!co_await connect_from(s, source, c)) {
      co_await pause(std::chrono::milliseconds(20));
      continue;
    }
    std::array<char, 64> buffer;
    // Wait for the first word (the greeting, or the refusal), then hang up.
    net::steady_timer timer(s.get_executor(), std::chrono::seconds(2));
    timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) s.cancel();
    });
    auto [ec, n] =
        co_await s.async_read_some(net::buffer(buffer), net::as_tuple(net::use_awaitable));
    timer.cancel();
    if (std::string_view(buffer.data(), n).starts_with("421 4.7.0")) ++counts.refused;
    boost::system::error_code ignored;
    s.close(ignored);
  }
}

int usage() {
  std::cerr << "usage: abuse_load idle|drip|hello|flood --target ADDR --port PORT "
               "--sources FIRST[+COUNT[/STEP]] [--per-source N] [--seconds S]\n";
  return 2;
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc < 2) return usage();
  Config c;
  c.mode = argv[1];
  try {
    for (int i = 2; i + 1 < argc; i += 2) {
      const std::string name = argv[i], value = argv[i + 1];
      if (name == "--target")
        c.target = net::ip::make_address(value);
      else if (name == "--port")
        c.port = static_cast<std::uint16_t>(std::stoi(value));
      else if (name == "--sources")
        c.sources = parse_sources(value);
      else if (name == "--per-source")
        c.per_source = std::stoi(value);
      else if (name == "--seconds")
        c.seconds = std::stod(value);
      else
        return usage();
    }
  } catch (const std::exception& e) {
    std::cerr << "abuse_load: " << e.what() << "\n";
    return usage();
  }
  if (c.port == 0 || c.sources.empty()) return usage();
  net::io_context io(1);
  until = Clock::now() + std::chrono::milliseconds(static_cast<long>(c.seconds * 1000));
  for (const auto& source : c.sources)
    for (int i = 0; i < c.per_source; ++i) {
      if (c.mode == "idle" || c.mode == "drip")
        net::co_spawn(io, hold(source, c, c.mode == "drip"), net::detached);
      else if (c.mode == "hello")
        net::co_spawn(io, hellos(source, c), net::detached);
      else if (c.mode == "flood")
        net::co_spawn(io, flood(source, c), net::detached);
      else
        return usage();
    }
  // SIGTERM or SIGINT ends the attack early, with its summary: the test stops it once
  // the real client is done. The load then is what the client met.
  std::size_t held_at_end = 0;
  net::signal_set stop(io, SIGTERM, SIGINT);
  stop.async_wait([&](const boost::system::error_code& ec, int) {
    if (ec) return;
    held_at_end = counts.held;
    until = Clock::now();
    io.stop();
  });
  net::steady_timer done(io, until);
  done.async_wait([&](const boost::system::error_code& ec) {
    if (ec) return;
    held_at_end = counts.held;
    stop.cancel();
    io.stop();
  });
  io.run();
  std::cout << "mode=" << c.mode << " sources=" << c.sources.size()
            << " per_source=" << c.per_source << " attempts=" << counts.attempts
            << " accepted=" << counts.accepted << " refused=" << counts.refused
            << " closed_by_reflector=" << counts.closed << " sessions=" << counts.sessions
            << " connect_failed=" << counts.failed << " held_at_end=" << held_at_end
            << " max_held=" << counts.max_held << "\n";
}
