// ICMP errors for an ordinary TCP socket, read from the kernel's error queue
// (IP_RECVERR / IPV6_RECVERR): the sender's address without raw sockets or root.
#pragma once

#include <optional>
#include <string>

#include "evidence.hpp"
#include "net_types.hpp"

namespace egress25 {

// Turns on IP_RECVERR (IPv4) or IPV6_RECVERR (IPv6) on `fd`. Call before connect().
bool enable_error_queue(int fd, Family family, std::string& error);

// Drains the socket's error queue (MSG_ERRQUEUE, non-blocking) and returns the last
// error that came from an ICMP message, with its sender. nullopt when none is queued.
std::optional<IcmpReport> read_error_queue(int fd, Family family);

// "administratively prohibited", "host unreachable", "time exceeded", ...
std::string icmp_description(Family family, int type, int code);

}  // namespace egress25
