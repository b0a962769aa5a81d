// Carrier-grade NAT from addresses: the rules, strongest evidence first.
#include "nat.hpp"

#include <algorithm>

#include "attribution.hpp"

namespace egress25::client {

namespace {

bool unspecified(const std::string& address) {
  return address.empty() || address == "0.0.0.0";
}

// The first answering hop of a trace past this host's local network, as attribution
// places it (PathMap: the gateway at TTL 1, then private hops up to the first public or
// shared address).
std::optional<BlockingHop> first_hop_past_local_network(const PathTrace& trace,
                                                        const HostNetwork& host) {
  const PathMap map(trace, host);
  int last = 0;
  for (const auto* port : {&trace.probed, &trace.reference})
    for (const auto& hop : port->hops) last = std::max(last, hop.ttl);
  for (int ttl = 1; ttl <= last; ++ttl) {
    auto hop = map.hop(ttl);
    if (!hop.address.empty() && hop.segment != Segment::local_network) return hop;
  }
  return std::nullopt;
}

// What the router's answers say, each answer one reason.
struct RouterView {
  bool behind_cgnat = false;      // its external address is shared, or not the one seen
  bool faces_internet = false;    // its external address is the one the reflector saw
  bool behind_other_nat = false;  // it reports a private or no external address
  std::optional<std::string> external;
  std::vector<std::string> reasons;
};

RouterView read_router(const NatEvidence& e) {
  RouterView v;
  for (const auto& a : e.gateway_answers) {
    const std::string who = "your router (" + a.protocol + ")";
    if (!a.external_address) {
      v.reasons.push_back(who + " did not give its external address: " + a.error);
      continue;
    }
    const auto& ext = *a.external_address;
    if (unspecified(ext)) {
      v.behind_other_nat = true;
      v.reasons.push_back(
          who + " reports no external address (" + (ext.empty() ? "empty" : ext) +
          "), as routers do when their WAN address is private, shared or otherwise reserved: "
          "another NAT is beyond it");
      continue;
    }
    if (!v.external) v.external = ext;
    const auto c = address_class(ext);
    if (c == AddressClass::shared) {
      v.behind_cgnat = true;
      v.reasons.push_back(who + " has the external address " + ext +
                          ", in the shared address space (100.64.0.0/10, RFC 6598) that ISPs "
                          "number customers from behind carrier-grade NAT");
    } else if (c != AddressClass::public_use) {
      v.behind_other_nat = true;
      v.reasons.push_back(who + " has the private external address " + ext +
                          ": another NAT is beyond it (a modem-router of yours, or your ISP's)");
    } else if (e.public_ipv4 && ext == *e.public_ipv4) {
      v.faces_internet = true;
      v.reasons.push_back(who + " has the external address " + ext +
                          ", the address the reflector saw: the router itself faces the "
                          "internet, and its port forwards decide what comes in");
    } else {
      v.behind_cgnat = true;
      v.reasons.push_back(who + " has the external address " + ext +
                          ", but the reflector saw this line as " + e.public_ipv4.value_or("?") +
                          ": a NAT beyond your router translates again (your ISP's "
                          "carrier-grade NAT, or a proxy or VPN on the way)");
    }
  }
  return v;
}

}  // namespace

NatFinding judge_nat(const NatEvidence& e) {
  NatFinding f;
  auto finish = [&](std::optional<bool> cgnat, std::vector<std::string> reasons) {
    f.cgnat = cgnat;
    f.reasons.insert(f.reasons.end(), reasons.begin(), reasons.end());
    return f;
  };
  // Without the reflector's view of an IPv4 connection there is nothing to compare with;
  // carrier-grade NAT is an IPv4 matter (IPv6 gives every line its own addresses).
  if (!e.public_ipv4)
    return finish(std::nullopt, {"no IPv4 connection reached the reflector, so it could not "
                                 "say which IPv4 address this line has"});
  const auto& seen = *e.public_ipv4;
  // The reflector's own view is the strongest evidence: a shared address it saw cannot be
  // reached from the internet, whoever runs the NAT.
  if (address_class(seen) == AddressClass::shared)
    return finish(true, {"the reflector saw this line as " + seen +
                         ", an address in the shared space (100.64.0.0/10, RFC 6598) that "
                         "ISPs use behind carrier-grade NAT: the internet cannot reach it"});
  // This computer holding the very address seen: no NAT at all.
  if (std::find(e.local_ipv4.begin(), e.local_ipv4.end(), seen) != e.local_ipv4.end())
    return finish(false, {"this computer holds " + seen +
                          ", the address the reflector saw: there is no NAT in between"});
  // The address this computer reaches the reflector from is already shared space: the NAT
  // in front of it is not the user's.
  for (const auto& local : e.local_ipv4)
    if (address_class(local) == AddressClass::shared) {
      f.public_address_is_isp_nat = true;
      return finish(true, {"this computer reaches the reflector from " + local +
                           ", in the shared space (100.64.0.0/10) of carrier-grade NAT, and "
                           "the reflector saw " +
                           seen + ": the NAT in between is your ISP's (or a VPN's), not yours"});
    }

  // The router's own word on its external address.
  auto router = read_router(e);
  f.gateway_external_address = router.external;
  if (!e.gateway_not_asked.empty()) router.reasons.push_back(e.gateway_not_asked);
  if (router.behind_cgnat && router.faces_internet)
    return finish(std::nullopt, [&] {
      auto r = router.reasons;
      r.push_back("the router's answers disagree, so this cannot be told");
      return r;
    }());
  if (router.faces_internet) return finish(false, router.reasons);
  if (router.behind_cgnat) {
    f.public_address_is_isp_nat = true;
    return finish(true, router.reasons);
  }

  // The first router past the local network answering from shared space: the link from
  // the home router to the ISP is numbered from the space kept for carrier-grade NAT.
  for (const auto& trace : e.traces)
    if (const auto hop = first_hop_past_local_network(trace, e.host);
        hop && address_class(hop->address) == AddressClass::shared) {
      auto r = router.reasons;
      r.push_back("the first router past your local network (hop " + std::to_string(hop->ttl) +
                  ", " + hop->address +
                  ") answers from the shared space (100.64.0.0/10) that ISPs number the "
                  "links behind carrier-grade NAT from");
      // Some ISPs number their own routers from shared space while their customers hold
      // public addresses: the address seen is the ISP's NAT, not the router, only when
      // the router itself says its WAN address is not a public one.
      f.public_address_is_isp_nat = router.behind_other_nat;
      if (!router.behind_other_nat)
        r.push_back(
            "whether the address the reflector saw is your router's or your ISP's NAT "
            "cannot be told without your router's own word");
      return finish(true, std::move(r));
    }

  auto r = router.reasons;
  r.push_back("the reflector saw this line as " + seen +
              ", not an address of this computer: a NAT is in between, your router's, and "
              "perhaps your ISP's too; " +
              std::string(router.behind_other_nat
                              ? "whose the further NAT is cannot be told from here"
                              : "without your router's external address that cannot be told"));
  return finish(std::nullopt, std::move(r));
}

std::string nat_sentence(const NatFinding& finding, bool inbound_asked) {
  if (finding.cgnat != true) return "";
  return std::string(
             "This line is behind carrier-grade NAT (its ISP's, or a VPN's): mail from "
             "the internet cannot reach it over IPv4") +
         (inbound_asked ? ", whatever the inbound tests say," : "") +
         " unless the ISP gives it a public address or forwards ports to it.";
}

}  // namespace egress25::client
