// The path from the reflector toward an address, by TTL, and the end of its own network.
#include "reflector_path.hpp"

#include <algorithm>

#include "attribution.hpp"

namespace egress25 {

ReflectorPath::ReflectorPath(const PathTrace& trace) {
  // A router's own address: not the far end's (reached, reset), which says nothing of
  // the routers before it.
  const auto router_answer = [](const TraceHop& h) {
    return !h.address.empty() && h.kind != HopKind::reached && h.kind != HopKind::reset;
  };
  for (const auto& h : trace.probed.hops) {
    probed_[h.ttl] = h;
    if (router_answer(h)) address_[h.ttl] = h.address;
  }
  for (const auto& h : trace.reference.hops) {
    reference_[h.ttl] = h;
    if (router_answer(h) && !address_.count(h.ttl)) address_[h.ttl] = h.address;
  }
  own_network_end_ = 0;
  for (const auto& [ttl, address] : address_) {
    const auto c = address_class(address);
    if (ttl == 1 || c == AddressClass::private_use || c == AddressClass::link_local) {
      if (ttl == own_network_end_ + 1) own_network_end_ = ttl;
      continue;
    }
    break;
  }
  if (own_network_end_ == 0) own_network_end_ = 1;
}

std::optional<TraceHop> ReflectorPath::at(const std::map<int, TraceHop>& m, int ttl) {
  auto it = m.find(ttl);
  if (it == m.end()) return std::nullopt;
  return it->second;
}

std::string ReflectorPath::address(int ttl) const {
  auto it = address_.find(ttl);
  return it == address_.end() ? std::string() : it->second;
}

int ReflectorPath::last_probed_answer() const {
  int last = 0;
  for (const auto& [ttl, h] : probed_)
    if (h.kind != HopKind::silent) last = std::max(last, ttl);
  return last;
}

std::optional<int> ReflectorPath::reference_answer_after(int ttl) const {
  for (const auto& [t, h] : reference_)
    if (t > ttl && h.kind != HopKind::silent) return t;
  return std::nullopt;
}

bool ReflectorPath::reference_answered(int ttl) const {
  auto h = reference(ttl);
  return h && h->kind != HopKind::silent;
}

std::optional<int> ReflectorPath::reference_distance() const {
  for (const auto& [t, h] : reference_)
    if (h.kind == HopKind::reached || h.kind == HopKind::reset) return t;
  return std::nullopt;
}

}  // namespace egress25
