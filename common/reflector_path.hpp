// The path from the reflector toward an address, as its two traces (a port beside a
// reference port) saw it, by TTL, and where the reflector's own network ends. Pure.
//
// The reflector's own network is its hosting provider's: TTL 1 (its gateway) and the
// private or link-local hops right after it (a provider's internal routers), up to the
// first public or shared address. The inbound judgement (the connect-back toward a
// client) and the self-test (this host toward a mail destination) both place a block
// there by this one rule.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "evidence.hpp"

namespace egress25 {

class ReflectorPath {
 public:
  explicit ReflectorPath(const PathTrace& trace);

  std::optional<TraceHop> probed(int ttl) const { return at(probed_, ttl); }
  std::optional<TraceHop> reference(int ttl) const { return at(reference_, ttl); }

  // The address a router answered from at `ttl` (time exceeded or unreachable, either
  // port's probe); "" when none did.
  std::string address(int ttl) const;
  // The reflector's own network: TTL 1 and the private hops right after it.
  bool in_own_network(int ttl) const { return ttl >= 1 && ttl <= own_network_end_; }
  int own_network_end() const { return own_network_end_; }

  // The last TTL the probed port drew an answer at (0: none).
  int last_probed_answer() const;
  // The first TTL above `ttl` the reference port drew any answer at.
  std::optional<int> reference_answer_after(int ttl) const;
  bool reference_answered(int ttl) const;
  // The TTL at which the reference port reached the far end (a SYN-ACK or a reset from
  // it): the far end's distance. nullopt when it never did.
  std::optional<int> reference_distance() const;

 private:
  static std::optional<TraceHop> at(const std::map<int, TraceHop>& m, int ttl);

  std::map<int, TraceHop> probed_;
  std::map<int, TraceHop> reference_;
  std::map<int, std::string> address_;
  int own_network_end_ = 1;
};

}  // namespace egress25
