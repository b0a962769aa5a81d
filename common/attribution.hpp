// Attribution: who stopped a probe. From the two traces (the blocked port beside a
// reference port that works) and what the client knows of its own network, the hop or
// the candidate hops, each with its role and its segment of the path. Pure functions.
//
// The rules hold in any topology because they use only what every path has:
//   - the first router (TTL 1) is the client's default gateway: the local network;
//   - private, unique-local and link-local hops before the first public or shared
//     (100.64.0.0/10) hop are the local network too;
//   - the last router before the reflector on the reference trace is the reflector's
//     network (its hosting provider);
//   - every other hop is upstream: the client's ISP, its CGNAT, or a transit network.
// A router silent to both ports' probes has no address; it takes its neighbours'
// segment when they agree and `unknown` when they do not.
//
// Where a filter sits on a router decides what a trace shows of it. In the forwarding
// path (Linux's forward chain, Firewalk's convention) the router expires a packet's TTL
// before the filter sees it, so it still answers the probe that dies there; as the packet
// arrives (an interface's inbound ACL, as most routers apply them, Linux's prerouting or
// ingress hook) the filter sees it first, and the router answers nothing for that port.
// So a port whose probes are answered up to hop k and no further was stopped by hop k's
// forwarding filter or by the next router's inbound one: both are candidates, and a rule
// that picks one of them fits a lab, not the internet.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "evidence.hpp"

namespace egress25 {

enum class AddressClass { loopback, private_use, link_local, shared, public_use, invalid };

// RFC 1918 / RFC 4193 private and unique-local, RFC 3927 / RFC 4291 link-local,
// RFC 6598 shared (CGNAT) space, loopback; everything else is public. IPv4-mapped IPv6
// addresses are judged as IPv4.
AddressClass address_class(std::string_view address);

// The first router's role when no home NAT router stands in front of this computer over
// IPv4 (see PathMap::gateway_role); "home router" otherwise.
inline constexpr std::string_view gateway_not_home_router =
    "this network's gateway (this computer has a public address)";
std::string gateway_role(const HostNetwork& host, bool ipv4_path);

// What this computer's kernel says of a timed-out SYN (ClientProbe::syn_left_host).
inline constexpr const char* syn_held_words =
    "this computer did not transmit the SYN's retransmission (the kernel counted it but its "
    "own firewall or queue refused it), so the SYN never left this computer";
inline constexpr const char* syn_left_words =
    "the SYN left this computer (the kernel transmitted its retransmission)";

// Where a probe was stopped, as far as the evidence goes.
struct Place {
  Location location = Location::unknown;
  std::optional<Segment> segment;  // for location `path`
  std::optional<BlockingHop> hop;  // exact
  std::vector<BlockingHop> candidates;
  // The reflector host's own firewall is among the candidates: only a packet witness
  // that saw the SYN (or did not) can exclude it.
  bool reflector_host_possible = false;
  std::vector<std::string> reasons;  // what was observed that places it
};

// The path as both traces saw it, one entry per TTL.
class PathMap {
 public:
  PathMap(const PathTrace& trace, const HostNetwork& host);

  // The reflector's distance: the TTL at which the reference port was answered.
  std::optional<int> distance() const { return distance_; }
  // The router at TTL `ttl` (≥ 1), with the address either port's trace got from it.
  BlockingHop hop(int ttl) const;
  // TTL 0: this computer itself.
  BlockingHop this_computer() const;
  // The role of the first router: "home router", unless on an IPv4 path this computer
  // holds the public address the reflector saw, or a shared (100.64.0.0/10) one: no home
  // NAT router stands in front of it (a server, a VPS, a modem in bridge mode, a line
  // behind its ISP's NAT alone), and its gateway is its provider's or its network's.
  std::string gateway_role() const;

 private:
  struct AtTtl {
    std::string address;  // "" when neither port's probe at this TTL was answered
    bool reference_answered = false;
  };
  Segment segment_of(int ttl) const;
  std::string role_of(int ttl, Segment segment) const;
  bool answered(int ttl) const;

  std::map<int, AtTtl> at_;
  std::optional<int> distance_;
  HostNetwork host_;
  bool ipv4_ = false;  // the traces' addresses are IPv4
};

// Both probes' traces stop being answered at the same place, or the probed port's stops
// earlier: a silent drop. nullopt when the trace does not show one (the probed port is
// answered at the end, or the reference port goes no further).
// `syn_left_host`: whether the client knows its SYN left this computer (the probe's
// ClientProbe::syn_left_host); it decides between this computer and its first router
// when not even TTL 1 is answered.
std::optional<Place> locate_silent_drop(const PathTrace& trace, const HostNetwork& host,
                                        std::uint16_t port,
                                        std::optional<bool> syn_left_host = std::nullopt);

// A reset that first comes back at some TTL t: from the forwarding filter of hop t-1
// (this computer when t is 1) or the inbound filter of hop t. nullopt without a reset in
// the probed trace.
std::optional<Place> locate_reset(const PathTrace& trace, const HostNetwork& host,
                                  std::uint16_t port);

// The handshake of the probed port completed at a smaller TTL than the reflector's
// distance: that hop answered in the reflector's place. nullopt otherwise.
std::optional<Place> locate_handshake(const PathTrace& trace, const HostNetwork& host,
                                      std::uint16_t port);

// The sender of an ICMP error: this computer, the reflector host, or a hop of the traces.
Place locate_sender(const std::string& sender, const std::optional<PathTrace>& trace,
                    const HostNetwork& host, const std::string& reflector_address);

// "hop 3 (198.51.100.2, ISP or transit network)", "hop 2 (a router that does not answer
// traceroute)", "this computer".
std::string hop_words(const BlockingHop& hop);

}  // namespace egress25
