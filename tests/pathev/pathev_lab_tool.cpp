// A small driver for the path-evidence lab tests: trace, listen, connect, witness, dump.
#include <pcap/pcap.h>
#include <sys/capability.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "common/evidence_json.hpp"
#include "common/tracer.hpp"
#include "reflector/packet_witness.hpp"
#include "reflector/privileges.hpp"

namespace net = boost::asio;
namespace json = boost::json;
using net::ip::tcp;
using namespace net::experimental::awaitable_operators;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

int usage() {
  std::cerr << "usage: pathev_lab_tool trace ADDR PORT REF_PORT BUDGET_MS [MAX_TTL]\n"
               "       pathev_lab_tool listen READY_FILE LIFETIME_S PORT...\n"
               "       pathev_lab_tool connect ADDR PORT TIMEOUT_MS\n"
               "       pathev_lab_tool witness IFACE READY_FILE FROM PORT "
               "syn|synack|rst|handshake TIMEOUT_MS WATCHED_PORT...\n"
               "       pathev_lab_tool dump IFACE FILTER COUNT TIMEOUT_MS\n"
               "       pathev_lab_tool privdrop USER\n";
  return 2;
}

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

void touch(const std::string& path) {
  std::ofstream(path) << "ready\n";
}

int cmd_trace(int argc, char** argv) {
  if (argc < 6) return usage();
  const auto target = net::ip::make_address(argv[2]);
  const auto port = static_cast<std::uint16_t>(std::stoi(argv[3]));
  const auto ref = static_cast<std::uint16_t>(std::stoi(argv[4]));
  egress25::TraceOptions options;
  options.budget = std::chrono::milliseconds(std::stoi(argv[5]));
  if (argc > 6) options.max_ttl = std::stoi(argv[6]);
  net::io_context io;
  egress25::PathTrace result;
  const auto start = Clock::now();
  net::co_spawn(io, egress25::trace_path(target, port, ref, options),
                [&](std::exception_ptr e, egress25::PathTrace t) {
                  if (e) std::rethrow_exception(e);
                  result = std::move(t);
                });
  io.run();
  auto out = egress25::to_json(result);
  out["elapsed_ms"] = ms_since(start);
  std::cout << json::serialize(out) << "\n";
  return 0;
}

net::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    boost::system::error_code ignored;
    sock.shutdown(tcp::socket::shutdown_both, ignored);
  }
}

int cmd_listen(int argc, char** argv) {
  if (argc < 5) return usage();
  net::io_context io;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  for (int i = 4; i < argc; ++i) {
    auto a = std::make_unique<tcp::acceptor>(io);
    const tcp::endpoint ep(tcp::v6(), static_cast<std::uint16_t>(std::stoi(argv[i])));
    a->open(ep.protocol());
    a->set_option(net::ip::v6_only(false));
    a->set_option(tcp::acceptor::reuse_address(true));
    a->bind(ep);
    a->listen();
    net::co_spawn(io, accept_loop(*a), net::detached);
    acceptors.push_back(std::move(a));
  }
  touch(argv[2]);
  io.run_for(std::chrono::seconds(std::stoi(argv[3])));  // bounded even if never killed
  return 0;
}

int cmd_connect(int argc, char** argv) {
  if (argc < 5) return usage();
  net::io_context io;
  std::string outcome = "timeout";
  auto run = [&]() -> net::awaitable<void> {
    tcp::socket sock(io);
    net::steady_timer timer(io, std::chrono::milliseconds(std::stoi(argv[4])));
    const tcp::endpoint ep(net::ip::make_address(argv[2]),
                           static_cast<std::uint16_t>(std::stoi(argv[3])));
    auto r = co_await (sock.async_connect(ep, net::as_tuple(net::use_awaitable)) ||
                       timer.async_wait(net::as_tuple(net::use_awaitable)));
    if (r.index() == 0) {
      auto [ec] = std::get<0>(r);
      outcome =
          ec ? (ec == net::error::connection_refused ? "refused" : ec.message()) : "connected";
    }
  };
  net::co_spawn(io, run(), net::detached);
  io.run();
  std::cout << outcome << "\n";
  return 0;
}

bool condition_met(const std::vector<egress25::control::WitnessFlow>& flows, int port,
                   const std::string& until) {
  for (const auto& f : flows) {
    if (f.destination_port != port) continue;
    if (until == "syn" && f.syn_seen) return true;
    if (until == "synack" && f.synack_sent) return true;
    if (until == "rst" && f.rst_sent) return true;
    if (until == "handshake" && f.handshake_completed) return true;
  }
  return false;
}

int cmd_witness(int argc, char** argv) {
  if (argc < 9) return usage();
  egress25::reflector::PacketWitness::Options options;
  options.interface = argv[2];
  for (int i = 8; i < argc; ++i)
    options.ports.push_back(static_cast<std::uint16_t>(std::stoi(argv[i])));
  std::string error;
  auto witness = egress25::reflector::PacketWitness::open(options, error);
  if (!witness) {
    std::cout << json::serialize(json::object{{"error", error}}) << "\n";
    return 1;
  }
  witness->start();
  touch(argv[3]);
  const std::vector<std::string> from{argv[4]};
  const int port = std::stoi(argv[5]);
  const std::string until = argv[6];
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::stoi(argv[7]));
  bool met = false;
  // Bounded wait on the condition the test is about.
  while (!(met = condition_met(witness->flows_from(from, 0), port, until)) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  const auto stop_start = Clock::now();
  witness->stop();
  const double stop_ms = ms_since(stop_start);
  json::array flows;
  for (const auto& f : witness->flows_from(from, 0)) flows.push_back(egress25::to_json(f));
  std::cout << json::serialize(json::object{{"met", met},
                                            {"stop_ms", stop_ms},
                                            {"capture_error", witness->capture_error()},
                                            {"flows", std::move(flows)}})
            << "\n";
  return met ? 0 : 1;
}

// Prints captured frames as hex, to record test vectors for the unit tests.
int cmd_dump(int argc, char** argv) {
  if (argc < 6) return usage();
  char errbuf[PCAP_ERRBUF_SIZE];
  pcap_t* p = pcap_create(argv[2], errbuf);
  if (!p) return 1;
  pcap_set_snaplen(p, 256);
  pcap_set_immediate_mode(p, 1);
  pcap_set_timeout(p, 100);
  if (pcap_activate(p) < 0) return 1;
  bpf_program prog{};
  if (pcap_compile(p, &prog, argv[3], 1, PCAP_NETMASK_UNKNOWN) != 0 ||
      pcap_setfilter(p, &prog) != 0)
    return 1;
  const int count = std::stoi(argv[4]);
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::stoi(argv[5]));
  int seen = 0;
  while (seen < count && Clock::now() < deadline) {
    pcap_pkthdr* h;
    const u_char* d;
    if (pcap_next_ex(p, &h, &d) != 1) continue;
    std::printf("%d ", pcap_datalink(p));
    for (unsigned i = 0; i < h->caplen; ++i) std::printf("%02x", d[i]);
    std::printf("\n");
    std::fflush(stdout);
    ++seen;
  }
  pcap_close(p);
  return seen == count ? 0 : 1;
}

// As root: bind a port and open the capture, drop to USER, then check that root cannot
// be regained, no capability is left, and both handles still work.
int cmd_privdrop(int argc, char** argv) {
  if (argc < 3) return usage();
  net::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  const auto port = acceptor.local_endpoint().port();
  std::string error;
  egress25::reflector::PacketWitness::Options options;
  options.ports.push_back(port);
  options.interface = "lo";
  auto witness = egress25::reflector::PacketWitness::open(options, error);
  if (!witness) {
    std::cout << "FAIL open: " << error << "\n";
    return 1;
  }
  if (!egress25::reflector::drop_privileges(argv[2], error)) {
    std::cout << "FAIL drop: " << error << "\n";
    return 1;
  }
  int failures = 0;
  auto check = [&](bool ok, const std::string& what) {
    std::cout << (ok ? "ok   " : "FAIL ") << what << "\n";
    if (!ok) ++failures;
  };
  check(getuid() != 0 && geteuid() != 0, "uid is no longer 0 (" + std::to_string(getuid()) + ")");
  check(setuid(0) != 0, "setuid(0) fails");
  cap_t caps = cap_get_proc();
  cap_t none = cap_init();
  check(cap_compare(caps, none) == 0,
        std::string("no capabilities: ") + cap_to_text(caps, nullptr));
  cap_free(caps);
  cap_free(none);
  std::string reopen_error;
  const bool refused = egress25::reflector::PacketWitness::open(options, reopen_error) == nullptr;
  check(refused && reopen_error.find("CAP_NET_RAW") != std::string::npos,
        "a new capture is refused, saying why: " + reopen_error);
  witness->start();
  tcp::socket client(io);
  client.connect(acceptor.local_endpoint());
  tcp::socket server = acceptor.accept();
  check(server.is_open(), "the socket bound before the drop still accepts");
  const auto deadline = Clock::now() + 3s;
  bool seen = false;
  while (!(seen = !witness->flows_from({"127.0.0.1"}, 0).empty() &&
                  witness->flows_from({"127.0.0.1"}, 0).front().handshake_completed) &&
         Clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  check(seen, "the capture opened before the drop still sees the handshake");
  witness->stop();
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  try {
    if (cmd == "trace") return cmd_trace(argc, argv);
    if (cmd == "listen") return cmd_listen(argc, argv);
    if (cmd == "connect") return cmd_connect(argc, argv);
    if (cmd == "witness") return cmd_witness(argc, argv);
    if (cmd == "dump") return cmd_dump(argc, argv);
    if (cmd == "privdrop") return cmd_privdrop(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "pathev_lab_tool " << cmd << ": " << e.what() << "\n";
    return 1;
  }
  return usage();
}
