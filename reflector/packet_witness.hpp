// The packet witness: libpcap sees SYNs before the host firewall acts on them, and the
// host's own SYN-ACKs and resets on their way out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "control_protocol.hpp"

namespace egress25::reflector {

class PacketWitness {
 public:
  struct Options {
    std::vector<std::uint16_t> ports;  // the service ports to watch (after offset)
    std::string interface = "any";
  };

  // Opens the capture. Needs CAP_NET_RAW: call before dropping privileges. On failure
  // returns nullptr and `error` says why in an operator's words.
  static std::unique_ptr<PacketWitness> open(const Options& options, std::string& error);

  virtual ~PacketWitness() = default;
  virtual void start() = 0;  // capture on a thread of its own until stop()
  virtual void stop() = 0;
  // Thread-safe: flows whose source is one of `addresses`, first seen at or after
  // `since_unix_ms`. Bounded by limits::max_witness_flows, expired after
  // limits::witness_flow_lifetime.
  virtual std::vector<control::WitnessFlow> flows_from(const std::vector<std::string>& addresses,
                                                       std::int64_t since_unix_ms) const = 0;
};

}  // namespace egress25::reflector
