// The inbound judgement: from what the reflector met when it connected back to the
// client's public address (`egress25 check --inbound`), one verdict in the same words as
// a probe's, with the location and segment seen from the reflector's side. Pure.
//
// Seen from the reflector, the path runs the other way, and the segments follow it:
//   - `reflector_network`: the reflector's own first hops (its gateway, and private hops
//     before the first public or shared one): its hosting provider, which may block
//     outbound 25;
//   - `local_network`: the client's public address itself, its router (with NAT) or
//     this computer (without); a hop that answers from that address forwarded the
//     packet further, into the client's network;
//   - `upstream`: every hop between: the client's ISP (its CGNAT included) or transit.
// Location `client_host` is a machine behind the client's public address (the one its
// router forwards the port to); `reflector_host` the reflector itself.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "evidence.hpp"

namespace egress25 {

struct InboundEvidence {
  std::uint16_t port = 0;
  Family family = Family::ipv4;
  // What the reflector met; nullopt when it did not connect back (see `unavailable`).
  std::optional<InboundAttempt> attempt;
  // Why there is no attempt: the reflector refused the port, does not connect back, or
  // could not be asked. `refused_by_reflector` when it was the reflector's own choice.
  std::string unavailable;
  bool refused_by_reflector = false;
  // This computer's addresses of the family: the public address being one of them means
  // no NAT in front of it.
  std::vector<std::string> local_addresses;
  // The public address is the ISP's carrier-grade NAT, not the client's router (the
  // client's NAT judgement says so): what answers there is the ISP, segment `upstream`.
  bool public_address_is_isp_nat = false;
  // --inbound-listen: whether this computer's own listener on the port accepted a
  // connection from the reflector during the check; nullopt without a listener.
  std::optional<bool> reached_this_machine;
  std::string listen_note;  // why no listener, or what it saw
};

Classification judge_inbound(const InboundEvidence& evidence);

}  // namespace egress25
