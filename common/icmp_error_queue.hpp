// What the kernel tells of an ordinary TCP socket's packets, without raw sockets or root:
// ICMP errors from its error queue (IP_RECVERR / IPV6_RECVERR) with the sender's address,
// and whether an unanswered SYN left this host (TCP_INFO).
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

// Whether an unanswered SYN left this host, as Linux's TCP_INFO tells: a retransmission
// the kernel tried counts in tcpi_total_retrans, and in tcpi_retrans only while it is
// out, having left. One tried and none out: this host's own firewall (or queue) refused
// it. nullopt when none was tried yet (before the 1 s SYN retransmission time) or the
// system does not say. Reading it sends nothing.
std::optional<bool> syn_left_host(int fd);

// "administratively prohibited", "host unreachable", "time exceeded", ...
std::string icmp_description(Family family, int type, int code);

}  // namespace egress25
