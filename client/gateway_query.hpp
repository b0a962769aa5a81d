// Asking the home router for its external address: UPnP-IGD through miniupnpc and
// NAT-PMP through libnatpmp (Debian's libraries for both protocols, rather than SSDP,
// SOAP and the NAT-PMP codec written again). Only for `check --inbound`, only of this
// host's default gateway, and never with a request that changes anything on it.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "nat.hpp"

namespace egress25::client {

// Blocking, each bounded by `budget`: the gateway's NAT-PMP public-address answer, sent
// to `gateway` only.
GatewayAnswer ask_natpmp(const std::string& gateway, std::chrono::milliseconds budget);
// Blocking: SSDP discovery on the interface holding `local_address`, then the Internet
// Gateway Device's GetExternalIPAddress, used only when that device is `gateway`.
GatewayAnswer ask_upnp_igd(const std::string& local_address, const std::string& gateway,
                           std::chrono::milliseconds discovery);

// Both at once, each on its own thread (the libraries block); waits at most
// limits::gateway_query_budget and names what did not answer in time. A thread still
// blocked then is left to finish on its own: it holds nothing of the caller's.
boost::asio::awaitable<std::vector<GatewayAnswer>> ask_gateway(std::string local_address,
                                                               std::string gateway);

}  // namespace egress25::client
