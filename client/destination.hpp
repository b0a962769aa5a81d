// --target: a real destination's MX hosts and addresses, resolved with deadlines.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net_types.hpp"
#include "options.hpp"

namespace egress25::client {

namespace net = boost::asio;

// One host the destination's mail goes to, with its addresses in the families asked for.
struct DestinationHost {
  std::string name;                         // the MX host, the domain itself, or the literal
  std::vector<net::ip::address> addresses;  // at most one per family
  std::string error;  // why it has no address (set when `addresses` is empty or partial)
};

struct Destination {
  std::vector<DestinationHost> hosts;
  std::string error;  // why no host at all (empty when `hosts` is not empty)
  std::string how;    // "MX", "address" or "literal", for the debug log
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

}  // namespace egress25::client
