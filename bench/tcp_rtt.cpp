// tcp_rtt: round-trip times by TCP connect. A connect completes one round trip after the
// SYN leaves, whether a SYN-ACK (something listens) or a reset (nothing does) answers,
// so it needs no listener, no raw socket and no ping.
//
//   tcp_rtt ADDRESS PORT [COUNT]
//
// Prints one JSON line: {"count":N,"min_ms":..,"median_ms":..,"max_ms":..,"samples_ms":[..]}.
// Exit 1 when a connect is not answered within 5 s (a lost SYN would cost a 1 s
// retransmission and is not a round trip) or is answered by anything but a connection
// or a reset.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

constexpr int max_count = 1000;

bool parse_address(const char* text, int port, sockaddr_storage& out, socklen_t& len) {
  std::memset(&out, 0, sizeof out);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out);
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *v4;
    return true;
  }
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *v6;
    return true;
  }
  return false;
}

// One connect's round trip in milliseconds, or a negative value on failure.
double one_round_trip(const sockaddr_storage& addr, socklen_t len) {
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval limit{5, 0};  // a blocking connect honours SO_SNDTIMEO
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  const auto start = std::chrono::steady_clock::now();
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), len);
  const int err = errno;
  const auto end = std::chrono::steady_clock::now();
  ::close(fd);
  if (rc != 0 && err != ECONNREFUSED) {
    std::fprintf(stderr, "tcp_rtt: connect: %s\n", std::strerror(err));
    return -1;
  }
  return std::chrono::duration<double, std::milli>(end - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: tcp_rtt ADDRESS PORT [COUNT]\n");
    return 2;
  }
  const int port = std::atoi(argv[2]);
  const int count = argc == 4 ? std::atoi(argv[3]) : 5;
  sockaddr_storage addr;
  socklen_t len = 0;
  if (port <= 0 || port > 65535 || count <= 0 || count > max_count ||
      !parse_address(argv[1], port, addr, len)) {
    std::fprintf(stderr, "tcp_rtt: bad address, port (1-65535) or count (1-%d)\n", max_count);
    return 2;
  }
  std::vector<double> samples;
  for (int i = 0; i < count; ++i) {
    const double ms = one_round_trip(addr, len);
    if (ms < 0) return 1;
    samples.push_back(ms);
  }
  std::vector<double> sorted = samples;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted.size() % 2
                            ? sorted[sorted.size() / 2]
                            : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
  std::printf("{\"count\":%d,\"min_ms\":%.3f,\"median_ms\":%.3f,\"max_ms\":%.3f,\"samples_ms\":[",
              count, sorted.front(), median, sorted.back());
  for (std::size_t i = 0; i < samples.size(); ++i) std::printf("%s%.3f", i ? "," : "", samples[i]);
  std::printf("]}\n");
  return 0;
}
