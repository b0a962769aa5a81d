// The kernel's smallest round trip on a TCP socket. A file of its own: glibc's
// <netinet/tcp.h> (which Boost.Asio includes) stops short of tcpi_min_rtt, and Linux's
// <linux/tcp.h>, which has it, clashes with it in one translation unit.
#include "tcp_min_rtt.hpp"

#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>

namespace egress25::client {

double tcp_min_rtt_ms(int fd) {
  tcp_info info{};
  socklen_t size = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return 0;
  // An older kernel fills less of the struct (tcpi_min_rtt came in Linux 4.6).
  if (size < offsetof(tcp_info, tcpi_min_rtt) + sizeof info.tcpi_min_rtt) return 0;
  if (info.tcpi_min_rtt == 0 || info.tcpi_min_rtt == ~0U) return 0;  // not measured yet
  return info.tcpi_min_rtt / 1000.0;                                 // microseconds
}

}  // namespace egress25::client
