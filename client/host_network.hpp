// What the client knows of its own network: its addresses, its default gateway, and
// whether it can send over an address family at all. Read from the kernel, no packets.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "evidence.hpp"

namespace egress25::client {

// The default route's gateway in the text of /proc/net/route (IPv4) or
// /proc/net/ipv6_route (IPv6): the first default route's next hop, "" when the file
// has none (or only an on-link default). Pure, so the parsing is tested as text.
std::string default_gateway_from_proc(Family family, std::string_view proc_text);

// This host's addresses of a family and its default gateway, as the kernel has them now.
HostNetwork read_host_network(Family family);

// Why this host cannot send to `target` at all (no route, no address of its family,
// the family disabled), without sending a packet (a UDP socket's connect only looks the
// route up); nullopt when it can.
std::optional<std::string> family_unusable(const boost::asio::ip::address& target);

}  // namespace egress25::client
