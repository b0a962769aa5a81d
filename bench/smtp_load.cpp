// smtp_load: a closed-loop SMTP session load generator for the benchmark. N workers
// (coroutines on one thread), each bound to one of S source addresses, run sessions back
// to back: connect, greeting, EHLO, QUIT. Prints one JSON line with sessions/s, errors
// by step and latency percentiles.
//
//   smtp_load --server 127.0.0.1:10025 [--sessions 10000] [--concurrency 50]
//             [--sources 20] [--source-base 127.0.0.11] [--timeout 10]
//
// Sources are consecutive IPv4 addresses from --source-base (127.0.0.11..127.0.0.30 by
// default: every 127/8 address is on lo), so per-source limits see 20 hosts.
#include <netinet/in.h>
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/program_options.hpp>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "smtp_reply.hpp"

namespace egress25::bench {
namespace {

namespace net = boost::asio;
namespace po = boost::program_options;
using net::awaitable;
using net::use_awaitable;
using net::ip::tcp;
using clock_type = std::chrono::steady_clock;
constexpr auto use_tuple = net::as_tuple(use_awaitable);

struct Options {
  tcp::endpoint server;
  net::ip::address_v4 source_base;
  unsigned sessions = 10000;
  unsigned concurrency = 50;
  unsigned sources = 20;
  double timeout_s = 10;
  std::string ehlo_name = "load.bench.invalid";
};

// The step a session failed at; `ok` when it completed.
enum class Step { ok, connect, greeting, ehlo, quit, timeout };

const char* step_name(Step s) {
  switch (s) {
    case Step::ok:
      return "ok";
    case Step::connect:
      return "connect";
    case Step::greeting:
      return "greeting";
    case Step::ehlo:
      return "ehlo";
    case Step::quit:
      return "quit";
    case Step::timeout:
      return "timeout";
  }
  return "?";
}

class Load {
 public:
  Load(net::io_context& io, const Options& o) : io_(io), o_(o) {
    latencies_ms_.reserve(o.sessions);
  }

  void start() {
    started_ = clock_type::now();
    for (unsigned w = 0; w < o_.concurrency; ++w) {
      const auto source = net::ip::address_v4(o_.source_base.to_uint() + w % o_.sources);
      net::co_spawn(io_, worker(source), [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);  // a bug in the generator, not a server error
      });
    }
  }

  void print() const {
    const double elapsed = std::chrono::duration<double>(finished_ - started_).count();
    std::vector<double> sorted = latencies_ms_;
    std::sort(sorted.begin(), sorted.end());
    auto percentile = [&](double p) {
      if (sorted.empty()) return 0.0;
      return sorted[std::min(sorted.size() - 1, static_cast<std::size_t>(p * sorted.size()))];
    };
    unsigned errors = 0;
    std::string kinds;
    for (const auto& [step, n] : counts_) {
      if (step == Step::ok) continue;
      errors += n;
      kinds += std::string(kinds.empty() ? "" : ",") + "\"" + step_name(step) +
               "\":" + std::to_string(n);
    }
    const unsigned ok = counts_.count(Step::ok) ? counts_.at(Step::ok) : 0;
    // The generator's own CPU: on a small machine it shares the cores with the server,
    // and a reader should see how much it took.
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const double cpu_s = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    std::printf(
        "{\"sessions\":%u,\"ok\":%u,\"errors\":%u,\"errors_by_step\":{%s},\"elapsed_s\":%.4f,"
        "\"sessions_per_s\":%.1f,\"latency_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},"
        "\"concurrency\":%u,\"sources\":%u,\"generator_cpu_s\":%.3f}\n",
        o_.sessions, ok, errors, kinds.c_str(), elapsed, elapsed > 0 ? ok / elapsed : 0.0,
        percentile(0.5), percentile(0.99), sorted.empty() ? 0.0 : sorted.back(), o_.concurrency,
        o_.sources, cpu_s);
  }

  bool all_ok() const { return counts_.count(Step::ok) && counts_.at(Step::ok) == o_.sessions; }

 private:
  awaitable<void> worker(net::ip::address_v4 source) {
    while (next_ < o_.sessions) {
      ++next_;
      const auto begin = clock_type::now();
      const Step step = co_await session(source);
      const auto end = clock_type::now();
      ++counts_[step];
      if (step == Step::ok)
        latencies_ms_.push_back(std::chrono::duration<double, std::milli>(end - begin).count());
      if (++done_ == o_.sessions) finished_ = end;
    }
  }

  awaitable<Step> session(net::ip::address_v4 source) {
    // Shared with the deadline's handler, which may already be queued when the session
    // ends: it must find the socket still there.
    struct State {
      explicit State(net::io_context& io) : socket(io) {}
      tcp::socket socket;
      bool timed_out = false;
    };
    auto state = std::make_shared<State>(io_);
    boost::system::error_code ec;
    state->socket.open(tcp::v4(), ec);
    if (ec) co_return Step::connect;
    // The port is chosen at connect time, per destination (IP_BIND_ADDRESS_NO_PORT), so
    // 20 bound sources do not each exhaust the ephemeral range against one server.
    int one = 1;
    ::setsockopt(state->socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                 sizeof one);
    state->socket.bind(tcp::endpoint(source, 0), ec);
    if (ec) co_return Step::connect;
    // The session's deadline closes the socket, which ends whatever step is waiting.
    net::steady_timer deadline(io_);
    deadline.expires_after(std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(o_.timeout_s)));
    deadline.async_wait([state](const boost::system::error_code& e) {
      if (e) return;  // cancelled: the session ended first
      state->timed_out = true;
      state->socket.close();
    });
    const Step step = co_await dialogue(state->socket);
    deadline.cancel();
    state->socket.close(ec);
    co_return state->timed_out ? Step::timeout : step;
  }

  awaitable<Step> dialogue(tcp::socket& socket) {
    auto [ec] = co_await socket.async_connect(o_.server, use_tuple);
    if (ec) co_return Step::connect;
    ReplyReader reader;
    if (co_await reply(socket, reader) != 220) co_return Step::greeting;
    const std::string ehlo = "EHLO " + o_.ehlo_name + "\r\n";
    if (!co_await send(socket, ehlo) || co_await reply(socket, reader) != 250) co_return Step::ehlo;
    if (!co_await send(socket, "QUIT\r\n") || co_await reply(socket, reader) != 221)
      co_return Step::quit;
    co_return Step::ok;
  }

  static awaitable<bool> send(tcp::socket& socket, std::string_view line) {
    auto [ec, n] = co_await net::async_write(socket, net::buffer(line), use_tuple);
    co_return !ec;
  }

  // The next complete reply's code; 0 when the connection ended or the reply is malformed.
  static awaitable<int> reply(tcp::socket& socket, ReplyReader& reader) {
    std::array<char, 4096> buffer;
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(net::buffer(buffer), use_tuple);
      if (ec) co_return 0;
      switch (reader.feed({buffer.data(), n})) {
        case ReplyReader::Status::complete:
          co_return reader.code();
        case ReplyReader::Status::malformed:
          co_return 0;
        case ReplyReader::Status::need_more:
          break;
      }
    }
  }

  net::io_context& io_;
  const Options& o_;
  unsigned next_ = 0;
  unsigned done_ = 0;
  std::map<Step, unsigned> counts_;
  std::vector<double> latencies_ms_;
  clock_type::time_point started_, finished_;
};

std::optional<Options> parse(int argc, char** argv, int& exit_code) {
  po::options_description desc("usage: smtp_load --server ADDR:PORT [options]\nOptions");
  Options o;
  std::string server, source_base = "127.0.0.11";
  // clang-format off
  desc.add_options()
    ("server", po::value(&server)->required(), "IPv4 address and port of the SMTP server")
    ("sessions", po::value(&o.sessions)->default_value(o.sessions), "sessions in all")
    ("concurrency", po::value(&o.concurrency)->default_value(o.concurrency),
     "sessions in flight at once")
    ("sources", po::value(&o.sources)->default_value(o.sources), "source addresses")
    ("source-base", po::value(&source_base)->default_value(source_base),
     "the first source address (the others follow it)")
    ("timeout", po::value(&o.timeout_s)->default_value(o.timeout_s),
     "seconds one session may take before it counts as a timeout")
    ("ehlo", po::value(&o.ehlo_name)->default_value(o.ehlo_name), "the EHLO name")
    ("help,h", "this help");
  // clang-format on
  try {
    po::variables_map vm;
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::cout << desc;
      exit_code = 0;
      return std::nullopt;
    }
    po::notify(vm);
    const auto colon = server.rfind(':');
    if (colon == std::string::npos) throw po::error("--server must be ADDR:PORT");
    const int port = std::stoi(server.substr(colon + 1));
    if (port <= 0 || port > 65535) throw po::error("--server: bad port");
    o.server = tcp::endpoint(net::ip::make_address_v4(server.substr(0, colon)),
                             static_cast<std::uint16_t>(port));
    o.source_base = net::ip::make_address_v4(source_base);
    if (o.sessions == 0 || o.concurrency == 0 || o.sources == 0 || o.sources > 250 ||
        !(o.timeout_s > 0))
      throw po::error("--sessions, --concurrency must be positive, --sources 1..250");
  } catch (const std::exception& e) {
    std::cerr << "smtp_load: " << e.what() << "\n" << desc;
    exit_code = 2;
    return std::nullopt;
  }
  return o;
}

}  // namespace
}  // namespace egress25::bench

int main(int argc, char** argv) {
  int exit_code = 0;
  auto options = egress25::bench::parse(argc, argv, exit_code);
  if (!options) return exit_code;
  boost::asio::io_context io(1);
  egress25::bench::Load load(io, *options);
  load.start();
  io.run();
  load.print();
  return load.all_ok() ? 0 : 1;
}
