// Attribution: who stopped a probe, from the traces and the client's own network.
#include "attribution.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

namespace egress25 {
namespace {

namespace ip = boost::asio::ip;

bool in_v4(const ip::address_v4& a, const char* prefix) {
  const auto net = ip::make_network_v4(prefix);
  return (a.to_uint() & net.netmask().to_uint()) == net.network().to_uint();
}

bool in_v6(const ip::address_v6& a, const char* prefix) {
  const auto net = ip::make_network_v6(prefix);
  return ip::make_network_v6(a, net.prefix_length()).canonical() == net.canonical();
}

AddressClass class_v4(const ip::address_v4& a) {
  if (a.is_loopback()) return AddressClass::loopback;
  if (in_v4(a, "10.0.0.0/8") || in_v4(a, "172.16.0.0/12") || in_v4(a, "192.168.0.0/16"))
    return AddressClass::private_use;
  if (in_v4(a, "169.254.0.0/16")) return AddressClass::link_local;
  if (in_v4(a, "100.64.0.0/10")) return AddressClass::shared;
  return AddressClass::public_use;
}

bool is_local_class(AddressClass c) {
  return c == AddressClass::private_use || c == AddressClass::link_local ||
         c == AddressClass::loopback;
}

std::string port_words(std::uint16_t port) {
  return "port " + std::to_string(port);
}

// One segment for a set of hops: theirs when they agree, else unknown.
Segment common_segment(const std::vector<BlockingHop>& hops) {
  if (hops.empty()) return Segment::unknown;
  const Segment first = hops.front().segment;
  for (const auto& h : hops)
    if (h.segment != first) return Segment::unknown;
  return first;
}

Place exact(BlockingHop hop, std::vector<std::string> reasons) {
  Place place;
  place.location = Location::path;
  place.segment = hop.segment;
  place.hop = std::move(hop);
  place.reasons = std::move(reasons);
  return place;
}

Place on_this_computer(std::vector<std::string> reasons) {
  Place place;
  place.location = Location::client_host;
  place.reasons = std::move(reasons);
  return place;
}

// "hop 2 and hop 3", "hop 1 (192.0.2.1), hop 2 or hop 3"
std::string list_words(const std::vector<BlockingHop>& hops) {
  std::string out;
  for (std::size_t i = 0; i < hops.size(); ++i) {
    if (i > 0) out += i + 1 == hops.size() ? " or " : ", ";
    out += hop_words(hops[i]);
  }
  return out;
}

}  // namespace

AddressClass address_class(std::string_view text) {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(text), ec);
  if (ec) return AddressClass::invalid;
  if (a.is_v4()) return class_v4(a.to_v4());
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) return class_v4(ip::make_address_v4(ip::v4_mapped, v6));
  if (v6.is_loopback()) return AddressClass::loopback;
  if (v6.is_link_local()) return AddressClass::link_local;
  if (in_v6(v6, "fc00::/7")) return AddressClass::private_use;
  return AddressClass::public_use;
}

std::string hop_words(const BlockingHop& hop) {
  if (hop.ttl == 0) return "this computer";
  std::string detail = hop.address;
  if (!hop.role.empty()) detail += (detail.empty() ? "" : ", ") + hop.role;
  return fmt::format("hop {}{}", hop.ttl, detail.empty() ? "" : " (" + detail + ")");
}

// ---- PathMap ------------------------------------------------------------------------

PathMap::PathMap(const PathTrace& trace, const HostNetwork& host) : host_(host) {
  for (const auto* t : {&trace.probed, &trace.reference})
    for (const auto& h : t->hops)
      if (!h.address.empty() && h.address.find(':') == std::string::npos) ipv4_ = true;
  for (const auto& h : trace.probed.hops)
    if ((h.kind == HopKind::time_exceeded || h.kind == HopKind::unreachable) && !h.address.empty())
      at_[h.ttl].address = h.address;
  for (const auto& h : trace.reference.hops) {
    if (h.kind == HopKind::silent) continue;
    if (h.kind == HopKind::reached || h.kind == HopKind::reset) {
      if (!distance_) distance_ = h.ttl;
      continue;
    }
    auto& at = at_[h.ttl];
    at.reference_answered = true;
    if (at.address.empty()) at.address = h.address;
  }
}

bool PathMap::answered(int ttl) const {
  auto it = at_.find(ttl);
  return it != at_.end() && !it->second.address.empty();
}

Segment PathMap::segment_of(int ttl) const {
  // The first router is the client's own gateway, whatever its address.
  if (ttl == 1) return Segment::local_network;
  // The local network ends at the first public or shared hop.
  bool past_local = false;
  for (const auto& [t, at] : at_) {
    if (t >= ttl) break;
    if (t >= 2 && !at.address.empty() && !is_local_class(address_class(at.address)))
      past_local = true;
  }
  const bool last_before_reflector = distance_ && ttl == *distance_ - 1;
  if (answered(ttl)) {
    const auto c = address_class(at_.at(ttl).address);
    if (!past_local && is_local_class(c)) return Segment::local_network;
    if (last_before_reflector) return Segment::reflector_network;
    return Segment::upstream;
  }
  if (last_before_reflector) return Segment::reflector_network;
  // A silent router takes its answering neighbours' segment when they agree.
  std::optional<int> before, after;
  for (const auto& [t, at] : at_) {
    if (at.address.empty()) continue;
    if (t < ttl) before = t;
    if (t > ttl && !after && (!distance_ || t < *distance_)) after = t;
  }
  const Segment prev = before ? segment_of(*before) : Segment::unknown;
  Segment next = after ? segment_of(*after) : Segment::unknown;
  // Nothing answers between it and the router in front of the reflector: it is
  // before that router, so not in the reflector's network.
  if (!after && distance_ && ttl < *distance_ - 1) next = Segment::reflector_network;
  if (prev == Segment::local_network && next == Segment::local_network)
    return Segment::local_network;
  if (prev == Segment::upstream &&
      (next == Segment::upstream || next == Segment::reflector_network))
    return Segment::upstream;
  return Segment::unknown;
}

std::string PathMap::role_of(int ttl, Segment segment) const {
  const bool silent = !answered(ttl);
  std::string role;
  switch (segment) {
    case Segment::local_network:
      role = ttl == 1 ? gateway_role() : "router on your local network";
      break;
    case Segment::upstream:
      role = !silent && address_class(at_.at(ttl).address) == AddressClass::shared
                 ? "ISP (shared address space)"
                 : "ISP or transit network";
      break;
    case Segment::reflector_network:
      role = "in front of the reflector";
      break;
    case Segment::unknown:
      break;
  }
  if (silent)
    role = role.empty() ? "a router that does not answer traceroute"
                        : role + ", does not answer traceroute";
  return role;
}

BlockingHop PathMap::hop(int ttl) const {
  BlockingHop hop;
  hop.ttl = ttl;
  if (answered(ttl)) hop.address = at_.at(ttl).address;
  hop.segment = segment_of(ttl);
  hop.role = role_of(ttl, hop.segment);
  return hop;
}

std::string gateway_role(const HostNetwork& host, bool ipv4_path) {
  // IPv4 only: over IPv6 a home computer holds a global address behind its home router.
  const bool no_home_nat =
      ipv4_path && std::any_of(host.local_addresses.begin(), host.local_addresses.end(),
                               [&](const std::string& a) {
                                 if (a.find(':') != std::string::npos) return false;
                                 return a == host.public_address ||
                                        address_class(a) == AddressClass::shared;
                               });
  return no_home_nat ? std::string(gateway_not_home_router) : std::string("home router");
}

std::string PathMap::gateway_role() const {
  return egress25::gateway_role(host_, ipv4_);
}

BlockingHop PathMap::this_computer() const {
  BlockingHop hop;
  hop.ttl = 0;
  hop.role = "this computer";
  return hop;
}

// ---- Locating ------------------------------------------------------------------------

namespace {

// A place from its candidates: one is exact (this computer, or a hop on the path);
// several with this computer among them could be either; else the path, in their common
// segment. None: the reflector's own link, past every router.
Place from_candidates(std::vector<BlockingHop> candidates, std::vector<std::string> reasons) {
  if (candidates.size() == 1 && candidates.front().ttl == 0)
    return on_this_computer(std::move(reasons));
  if (candidates.size() == 1) return exact(std::move(candidates.front()), std::move(reasons));
  Place place;
  place.reasons = std::move(reasons);
  const bool this_computer = std::any_of(candidates.begin(), candidates.end(),
                                         [](const BlockingHop& h) { return h.ttl == 0; });
  place.location = this_computer ? Location::unknown : Location::path;
  if (!this_computer) place.segment = common_segment(candidates);
  place.candidates = std::move(candidates);
  return place;
}

}  // namespace

std::optional<Place> locate_silent_drop(const PathTrace& trace, const HostNetwork& host,
                                        std::uint16_t port, std::optional<bool> syn_left_host) {
  const auto& probed = trace.probed.hops;
  if (std::any_of(probed.begin(), probed.end(), [](const TraceHop& h) {
        return h.kind == HopKind::reached || h.kind == HopKind::reset ||
               h.kind == HopKind::unreachable;
      }))
    return std::nullopt;
  int last = 0;  // the last TTL whose router answered the probed port
  for (const auto& h : probed)
    if (h.kind == HopKind::time_exceeded) last = std::max(last, h.ttl);
  std::optional<int> next;  // the first TTL past it answered for the reference port
  for (const auto& h : trace.reference.hops)
    if (h.ttl > last && h.kind != HopKind::silent && h.kind != HopKind::unreachable) {
      next = h.ttl;
      break;
    }
  if (!next) return std::nullopt;

  const PathMap map(trace, host);
  const bool reaches_reflector = map.distance() && *next == *map.distance();
  std::string observed =
      last == 0 ? fmt::format("no router answered {}'s TTL-limited probes, not even at TTL 1",
                              port_words(port))
                : fmt::format("{}'s TTL-limited probes were answered up to {} and no further",
                              port_words(port), hop_words(map.hop(last)));
  observed += fmt::format(", while the control port's were answered at {}",
                          reaches_reflector ? fmt::format("TTL {} by the reflector", *next)
                                            : hop_words(map.hop(*next)));
  std::vector<std::string> reasons{observed};
  if (last == 0 && syn_left_host == false) {
    reasons.push_back(syn_held_words);
    return on_this_computer(std::move(reasons));
  }
  if (last == 0 && syn_left_host == true)
    reasons.push_back(std::string(syn_left_words) +
                      ", so this computer's own firewall did not drop it");

  // The router that answered last, or this computer: its forwarding filter (or output).
  std::vector<BlockingHop> candidates;
  if (last > 0)
    candidates.push_back(map.hop(last));
  else if (syn_left_host != true)
    candidates.push_back(map.this_computer());
  // Routers that answer neither port.
  for (int ttl = last + 1; ttl < *next; ++ttl) candidates.push_back(map.hop(ttl));
  if (*next - last > 1) {
    const std::string silent = *next - last > 2 ? fmt::format("hops {} to {}", last + 1, *next - 1)
                                                : fmt::format("hop {}", last + 1);
    reasons.push_back(fmt::format("{} answered neither port's probes", silent));
  }
  // The next router's inbound filter, which sees the probe before its TTL runs out. The
  // reflector host in its place: its own firewall, which only a packet witness can clear.
  if (!reaches_reflector) candidates.push_back(map.hop(*next));
  if (candidates.size() > 1)
    reasons.push_back(fmt::format(
        "so the drop is at {}: a router whose forwarding filter drops a port still answers "
        "the probe that expires at it, while one whose inbound filter drops it answers "
        "nothing for that port",
        list_words(candidates)));
  if (candidates.empty()) {
    // The SYN left this computer and the reflector is the first hop: the link between.
    Place place;
    place.location = Location::path;
    place.segment = Segment::unknown;
    place.reasons = std::move(reasons);
    place.reflector_host_possible = true;
    return place;
  }
  Place place = from_candidates(std::move(candidates), std::move(reasons));
  place.reflector_host_possible = reaches_reflector;
  return place;
}

std::optional<Place> locate_reset(const PathTrace& trace, const HostNetwork& host,
                                  std::uint16_t port) {
  std::optional<int> first;
  for (const auto& h : trace.probed.hops)
    if (h.kind == HopKind::reset) {
      first = h.ttl;
      break;
    }
  if (!first) return std::nullopt;
  const PathMap map(trace, host);
  if (map.distance() && *map.distance() == 1) return std::nullopt;  // no router between
  // The reset comes from the forwarding filter of the router before (this computer's
  // own firewall at TTL 1), or from the inbound filter of the router at that TTL, unless
  // the reflector is there: its host is then possible instead.
  const bool at_reflector = map.distance() && *first >= *map.distance();
  std::vector<BlockingHop> candidates{*first == 1 ? map.this_computer() : map.hop(*first - 1)};
  if (!at_reflector) candidates.push_back(map.hop(*first));
  std::string observed =
      *first == 1 ? fmt::format("{}'s probe with a TTL of 1 was already answered with a reset",
                                port_words(port))
                  : fmt::format(
                        "the reset first comes back with a TTL of {}; at TTL {} {} answered with "
                        "time-exceeded",
                        *first, *first - 1, hop_words(map.hop(*first - 1)));
  std::vector<std::string> reasons{observed};
  if (candidates.size() > 1)
    reasons.push_back(fmt::format(
        "so the reset comes from {} or {}: a filter on the way out of the first (behind its "
        "TTL check{}) or the second one's inbound filter (ahead of its TTL check)",
        hop_words(candidates[0]), hop_words(candidates[1]),
        *first == 1 ? ": this computer's own firewall" : ""));
  Place place = from_candidates(std::move(candidates), std::move(reasons));
  place.reflector_host_possible = at_reflector;
  return place;
}

std::optional<Place> locate_handshake(const PathTrace& trace, const HostNetwork& host,
                                      std::uint16_t port) {
  std::optional<int> first;
  for (const auto& h : trace.probed.hops)
    if (h.kind == HopKind::reached) {
      first = h.ttl;
      break;
    }
  const PathMap map(trace, host);
  if (!first || !map.distance() || *first >= *map.distance()) return std::nullopt;
  return exact(
      map.hop(*first),
      {fmt::format("{}'s handshake already completes with a TTL of {}, while the "
                   "reflector is {} hops away: {} answered in its place",
                   port_words(port), *first, *map.distance(), hop_words(map.hop(*first)))});
}

Place locate_sender(const std::string& sender, const std::optional<PathTrace>& trace,
                    const HostNetwork& host, const std::string& reflector_address) {
  if (std::find(host.local_addresses.begin(), host.local_addresses.end(), sender) !=
          host.local_addresses.end() ||
      address_class(sender) == AddressClass::loopback)
    return on_this_computer({fmt::format("{} is an address of this computer", sender)});
  if (sender == reflector_address) {
    Place place;
    place.location = Location::reflector_host;
    place.reasons.push_back("the reflector host itself sent it");
    return place;
  }
  if (trace) {
    const PathMap map(*trace, host);
    for (const auto* t : {&trace->probed, &trace->reference})
      for (const auto& h : t->hops)
        if (h.address == sender && h.kind != HopKind::reached && h.kind != HopKind::reset)
          return exact(map.hop(h.ttl),
                       {fmt::format("{} answered the traces at hop {}", sender, h.ttl)});
  }
  Place place;
  place.location = Location::path;
  if (!host.gateway.empty() && sender == host.gateway) {
    BlockingHop hop{1, sender, gateway_role(host, sender.find(':') == std::string::npos),
                    Segment::local_network};
    return exact(hop, {fmt::format("{} is this computer's default gateway", sender)});
  }
  // Not on the traces: the address class is all there is.
  place.segment =
      address_class(sender) == AddressClass::shared ? Segment::upstream : Segment::unknown;
  place.reasons.push_back(
      fmt::format("{} did not answer the traces, so its hop is unknown", sender));
  return place;
}

}  // namespace egress25
