// A mail destination (`egress25 check --target`, `egress25-reflector --self-test --target`):
// the name or literal as given, its MX hosts and their addresses, resolved with deadlines.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "limits.hpp"
#include "net_types.hpp"

namespace egress25 {

namespace net = boost::asio;

// What --target named: a domain or host name, or an address literal.
struct DestinationTarget {
  std::string name;         // a domain or host name, or an address literal without brackets
  bool is_address = false;  // [IP] (or a bare address): no DNS at all
};

// RFC 1123 host name: labels of letters, digits, hyphens (and underscores, which real
// names carry), one trailing dot allowed.
bool is_host_name(const std::string& name);

// --target DOMAIN|HOST|[IP]|IP. nullopt with `error` (naming --target, and
// `port_option` when a port was tacked on) when it is none of them.
std::optional<DestinationTarget> parse_target(const std::string& text, std::string& error,
                                              std::string_view port_option = "--target-port");

// One host the destination's mail goes to, with its addresses in the families asked for.
struct DestinationHost {
  std::string name;                         // the MX host, the domain itself, or the literal
  std::vector<net::ip::address> addresses;  // at most one per family
  std::string error;  // why it has no address (set when `addresses` is empty or partial)
};

struct Destination {
  std::vector<DestinationHost> hosts;
  std::string error;    // why no host at all (empty when `hosts` is not empty)
  std::string how;      // "MX", "address" or "literal"
  std::string mx_note;  // why the MX hosts were not used (how == "address"), for a log
};

struct MxRecord {
  unsigned preference = 0;
  std::string host;  // without the trailing dot; "" for a null MX (RFC 7505)
};

// The MX records of a DNS answer, lowest preference first, at most
// limits::max_destination_hosts. nullopt when the message cannot be parsed.
std::optional<std::vector<MxRecord>> parse_mx_answer(const unsigned char* message,
                                                     std::size_t size);

// Resolves `target` for `families`: MX hosts (lowest preference first, at most 3), else
// the name's own addresses; a literal as it is (in its own family). Never throws for a DNS failure:
// the reason lands in `error`. Bounded by `timeout` (and the resolver's own timeout).
net::awaitable<Destination> resolve_destination(DestinationTarget target,
                                                std::vector<Family> families,
                                                std::chrono::milliseconds timeout);

}  // namespace egress25
