// What the client knows of its own network: addresses, default gateway, usable families.
#include "host_network.hpp"

#include <ifaddrs.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

namespace egress25::client {
namespace {

namespace ip = boost::asio::ip;

// /proc/net/route writes IPv4 addresses as the hex of the 32-bit value in host order
// (little-endian on every architecture we build for): "010200C0" is 192.0.2.1.
std::string v4_from_proc_hex(const std::string& hex) {
  if (hex.size() != 8) return "";
  std::uint32_t value = 0;
  try {
    value = static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16));
  } catch (const std::exception&) {
    return "";
  }
  ip::address_v4::bytes_type bytes{};
  for (std::size_t i = 0; i < 4; ++i) bytes[i] = static_cast<unsigned char>(value >> (8 * i));
  return ip::address_v4(bytes).to_string();
}

// /proc/net/ipv6_route writes IPv6 addresses as 32 hex digits in network order.
std::string v6_from_proc_hex(const std::string& hex) {
  if (hex.size() != 32) return "";
  ip::address_v6::bytes_type bytes{};
  for (std::size_t i = 0; i < 16; ++i) {
    try {
      bytes[i] = static_cast<unsigned char>(std::stoul(hex.substr(2 * i, 2), nullptr, 16));
    } catch (const std::exception&) {
      return "";
    }
  }
  return ip::address_v6(bytes).to_string();
}

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string default_gateway_from_proc(Family family, std::string_view proc_text) {
  std::istringstream lines{std::string(proc_text)};
  std::string line;
  constexpr unsigned rtf_gateway = 0x2;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string word; fields >> word;) f.push_back(word);
    if (family == Family::ipv4) {
      // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
      if (f.size() < 8 || f[1] != "00000000" || f[7] != "00000000") continue;
      unsigned flags = 0;
      try {
        flags = static_cast<unsigned>(std::stoul(f[3], nullptr, 16));
      } catch (const std::exception&) {
        continue;
      }
      if (!(flags & rtf_gateway)) continue;
      if (auto gw = v4_from_proc_hex(f[2]); !gw.empty() && gw != "0.0.0.0") return gw;
    } else {
      // dest dest_len src src_len next_hop metric refcnt use flags iface
      if (f.size() < 10 || f[1] != "00" || f[0] != std::string(32, '0')) continue;
      if (f[9] == "lo") continue;  // the kernel's unreachable default lives on lo
      if (auto gw = v6_from_proc_hex(f[4]); !gw.empty() && gw != "::") return gw;
    }
  }
  return "";
}

HostNetwork read_host_network(Family family) {
  HostNetwork host;
  host.gateway = default_gateway_from_proc(
      family, read_file(family == Family::ipv4 ? "/proc/net/route" : "/proc/net/ipv6_route"));
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return host;
  for (const ifaddrs* i = list; i != nullptr; i = i->ifa_next) {
    if (i->ifa_addr == nullptr) continue;
    if (family == Family::ipv4 && i->ifa_addr->sa_family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      host.local_addresses.push_back(ip::address_v4(ntohl(a->sin_addr.s_addr)).to_string());
    } else if (family == Family::ipv6 && i->ifa_addr->sa_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      ip::address_v6::bytes_type bytes{};
      std::copy(std::begin(a->sin6_addr.s6_addr), std::end(a->sin6_addr.s6_addr), bytes.begin());
      host.local_addresses.push_back(ip::address_v6(bytes).to_string());
    }
  }
  ::freeifaddrs(list);
  return host;
}

std::optional<std::string> family_unusable(const ip::address& target) {
  const std::string family = family_label(target.is_v4() ? Family::ipv4 : Family::ipv6);
  boost::asio::io_context io;
  ip::udp::socket socket(io);
  boost::system::error_code ec;
  socket.open(target.is_v4() ? ip::udp::v4() : ip::udp::v6(), ec);
  if (ec) return "this host has " + family + " turned off (" + ec.message() + ")";
  socket.connect(ip::udp::endpoint(target, 9), ec);  // a route lookup: nothing is sent
  if (ec == boost::asio::error::network_unreachable)
    return "this host has no " + family + " route to " + target.to_string();
  if (ec == boost::system::errc::address_not_available)
    return "this host has no " + family + " address to send from";
  if (ec) return "this host cannot send over " + family + " (" + ec.message() + ")";
  return std::nullopt;
}

}  // namespace egress25::client
