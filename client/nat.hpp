// Carrier-grade NAT: is this line behind a NAT of its ISP, so that nothing from the
// internet can reach it without the ISP? A pure judgement from addresses the check
// already has (this host's, the reflector's view, trace hops) and what the home router
// says of its own external address (gateway_query.hpp).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "evidence.hpp"

namespace egress25::client {

// One protocol's answer from the home router about its external (WAN) address.
struct GatewayAnswer {
  std::string protocol;  // "UPnP-IGD" or "NAT-PMP"
  // The external address as the router reported it; nullopt when it reported none.
  // "0.0.0.0" is kept: miniupnpd reports it when its WAN address is private or shared.
  std::optional<std::string> external_address;
  std::string answered_by;  // the router's address, when one answered
  std::string error;        // why there is no address, in words, when there is none
};

// What the check could learn about NAT on IPv4 (carrier-grade NAT is an IPv4 matter).
struct NatEvidence {
  std::optional<std::string> public_ipv4;  // this line as the reflector saw it
  std::vector<std::string> local_ipv4;     // the addresses it reaches the reflector from
  HostNetwork host;                        // this host's IPv4 network (its gateway)
  // IPv4 traces toward the reflector: where the local network ends, attribution's rule.
  std::vector<PathTrace> traces;
  // The router's answers; empty with `gateway_not_asked` saying why when not asked.
  std::vector<GatewayAnswer> gateway_answers;
  std::string gateway_not_asked;
};

struct NatFinding {
  std::optional<bool> cgnat;                            // nullopt: the evidence does not tell
  std::optional<std::string> gateway_external_address;  // a usable one the router gave
  // The address the reflector saw is the ISP's NAT, not the home router's own: the
  // router's address is another one, or this computer or its router sits in shared space
  // behind a public address. An inbound connection to it meets the ISP's NAT first.
  bool public_address_is_isp_nat = false;
  std::vector<std::string> reasons;
};

NatFinding judge_nat(const NatEvidence& evidence);

// The summary's sentence for a line behind carrier-grade NAT ("" when it is not, or when
// that cannot be told).
std::string nat_sentence(const NatFinding& finding, bool inbound_asked);

}  // namespace egress25::client
