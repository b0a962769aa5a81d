// ICMP errors for an ordinary TCP socket, read from the kernel's error queue.
#include "icmp_error_queue.hpp"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "limits.hpp"

namespace egress25 {

namespace {

// ICMPv4 (RFC 792, RFC 1812 5.2.7.1) destination-unreachable codes.
std::string icmp4_unreachable(int code) {
  switch (code) {
    case 0:
      return "network unreachable";
    case 1:
      return "host unreachable";
    case 2:
      return "protocol unreachable";
    case 3:
      return "port unreachable";
    case 4:
      return "fragmentation needed";
    case 5:
      return "source route failed";
    case 6:
      return "destination network unknown";
    case 7:
      return "destination host unknown";
    case 8:
      return "source host isolated";
    case 9:
      return "network administratively prohibited";
    case 10:
      return "host administratively prohibited";
    case 11:
      return "network unreachable for type of service";
    case 12:
      return "host unreachable for type of service";
    case 13:
      return "communication administratively prohibited";
    case 14:
      return "host precedence violation";
    case 15:
      return "precedence cutoff in effect";
    default:
      return "destination unreachable (code " + std::to_string(code) + ")";
  }
}

// ICMPv6 (RFC 4443 3.1) destination-unreachable codes.
std::string icmp6_unreachable(int code) {
  switch (code) {
    case 0:
      return "no route to destination";
    case 1:
      return "communication administratively prohibited";
    case 2:
      return "beyond scope of source address";
    case 3:
      return "address unreachable";
    case 4:
      return "port unreachable";
    case 5:
      return "source address failed ingress/egress policy";
    case 6:
      return "reject route to destination";
    case 7:
      return "error in source routing header";
    default:
      return "destination unreachable (code " + std::to_string(code) + ")";
  }
}

std::string address_of(const sockaddr* sa) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (sa->sa_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, sa, sizeof sin);
    if (::inet_ntop(AF_INET, &sin.sin_addr, text.data(), text.size())) return text.data();
  } else if (sa->sa_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, sa, sizeof sin6);
    if (::inet_ntop(AF_INET6, &sin6.sin6_addr, text.data(), text.size())) return text.data();
  }
  return {};
}

}  // namespace

bool enable_error_queue(int fd, Family family, std::string& error) {
  const int on = 1;
  if (family == Family::ipv4) {
    if (::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on) != 0) {
      error = std::string("IP_RECVERR: ") + std::strerror(errno);
      return false;
    }
    return true;
  }
  if (::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on) != 0) {
    error = std::string("IPV6_RECVERR: ") + std::strerror(errno);
    return false;
  }
  // A dual-stack socket talking to a v4-mapped address gets its errors through the IPv4
  // stack, which queues them only with IP_RECVERR; failure here is harmless.
  (void)::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
  return true;
}

std::optional<IcmpReport> read_error_queue(int fd, Family family) {
  std::optional<IcmpReport> last;
  // Each queued error is one message; the queue is bounded by the socket's receive
  // buffer, and so is this loop (plus a hard cap against a misbehaving kernel).
  for (int i = 0; i < limits::max_icmp_errors_per_read; ++i) {
    std::array<unsigned char, 512> payload{};  // the offending packet; not needed
    alignas(cmsghdr) std::array<unsigned char, 512> control{};
    sockaddr_storage from{};
    iovec iov{payload.data(), payload.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN: the queue is empty
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
      const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
      if (!v4 && !v6) continue;
      if (c->cmsg_len < CMSG_LEN(sizeof(sock_extended_err))) continue;
      sock_extended_err ee{};
      std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
      Family origin_family;
      if (ee.ee_origin == SO_EE_ORIGIN_ICMP) {
        origin_family = Family::ipv4;
      } else if (ee.ee_origin == SO_EE_ORIGIN_ICMP6) {
        origin_family = Family::ipv6;
      } else {
        continue;  // a local error (e.g. EMSGSIZE), not something the path sent
      }
      IcmpReport report;
      report.type = ee.ee_type;
      report.code = ee.ee_code;
      // SO_EE_OFFENDER: the ICMP message's source address follows the struct.
      const auto* offender = SO_EE_OFFENDER(reinterpret_cast<sock_extended_err*>(CMSG_DATA(c)));
      const std::size_t room = c->cmsg_len - CMSG_LEN(sizeof(sock_extended_err));
      if (room >= sizeof(sa_family_t)) {
        sockaddr_storage off{};
        std::memcpy(&off, offender, std::min(room, sizeof off));
        if ((off.ss_family == AF_INET && room >= sizeof(sockaddr_in)) ||
            (off.ss_family == AF_INET6 && room >= sizeof(sockaddr_in6))) {
          report.sender = address_of(reinterpret_cast<const sockaddr*>(&off));
        }
      }
      report.description = icmp_description(origin_family, report.type, report.code);
      last = std::move(report);
    }
  }
  (void)family;  // errors are told apart by their own origin, not the socket's family
  return last;
}

std::string icmp_description(Family family, int type, int code) {
  if (family == Family::ipv4) {
    switch (type) {
      case 3:
        return icmp4_unreachable(code);
      case 4:
        return "source quench";
      case 5:
        return "redirect";
      case 11:
        return code == 1 ? "fragment reassembly time exceeded" : "time exceeded";
      case 12:
        return "parameter problem";
      default:
        return "ICMP type " + std::to_string(type) + " code " + std::to_string(code);
    }
  }
  switch (type) {
    case 1:
      return icmp6_unreachable(code);
    case 2:
      return "packet too big";
    case 3:
      return code == 1 ? "fragment reassembly time exceeded" : "time exceeded";
    case 4:
      return "parameter problem";
    default:
      return "ICMPv6 type " + std::to_string(type) + " code " + std::to_string(code);
  }
}

std::optional<bool> syn_left_host(int fd) {
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0 ||
      length < offsetof(tcp_info, tcpi_total_retrans) + sizeof info.tcpi_total_retrans)
    return std::nullopt;
  if (info.tcpi_retrans > 0) return true;
  if (info.tcpi_total_retrans > 0) return false;
  return std::nullopt;
}

}  // namespace egress25
