// The packet witness: libpcap sees SYNs before the host firewall acts on them, and the
// host's own SYN-ACKs and resets on their way out.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "control_protocol.hpp"
#include "limits.hpp"

namespace egress25::reflector {

// What the packet witness counted since it started (its health, for --metrics).
struct WitnessCounts {
  std::uint64_t packets_seen = 0;     // segments parsed and handed to the flow table
  std::uint64_t packets_dropped = 0;  // pcap_stats: lost to a full buffer or the interface
};

class PacketWitness {
 public:
  struct Options {
    std::vector<std::uint16_t> ports;  // the service ports to watch (after offset)
    std::string interface = "any";
    // The addresses the services listen on; empty: every address (a wildcard listener).
    // With them, the kernel passes only their packets, and "any" narrows to lo when they
    // are all loopback addresses.
    std::vector<std::string> addresses;
    // Flows the table holds at most (oldest evicted first): sized by the caller to its
    // session table (limits::witness_flows_per_session a session).
    std::size_t max_flows = limits::max_sessions * limits::witness_flows_per_session;
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
  // "" while capturing; otherwise why the capture stopped on its own (the interface went
  // away, a read error), so a report can say its witness went blind.
  virtual std::string capture_error() const = 0;
  // Thread-safe. The drops are as of the capture thread's last pcap_stats, at most a
  // second old.
  virtual WitnessCounts counts() const { return {}; }
  // What it captures, for the log: interface, filter, ring, table size.
  virtual std::string description() const { return {}; }
  // Thread-safe: true once every packet the capture took before `unix_ms` is in the
  // table, as far as it can tell: true once a packet captured at or after `unix_ms` was
  // handled (blocks come in order). The kernel hands packets over in blocks, a few
  // milliseconds late (limits::witness_block_timeout, rounded up to its timer's ticks).
  virtual bool caught_up(std::int64_t /*unix_ms*/) const { return true; }
};

// The witness's logic without a capture, so it can be fed recorded packets.
namespace witness {

enum class Direction {
  unknown,   // the link header does not say (Ethernet, raw IP)
  inbound,   // received from another host
  outbound,  // sent by this host to another
  local,     // on a loopback device: this host both sent and received it
};

// The parts of one captured TCP segment the witness needs.
struct TcpSegment {
  Family family = Family::ipv4;
  // Binary, as captured: a packet costs no address text (a flow's source becomes text
  // once, when the flow is recorded).
  boost::asio::ip::address source;
  boost::asio::ip::address destination;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  bool syn = false;
  bool ack = false;
  bool rst = false;
  bool fin = false;
  int ttl = 0;                               // TTL (IPv4) or hop limit (IPv6) as captured
  Direction direction = Direction::unknown;  // from the link header where it says
};

// Parses one captured frame of pcap link type `linktype` (DLT_LINUX_SLL, DLT_LINUX_SLL2,
// DLT_EN10MB, DLT_RAW, DLT_IPV4, DLT_IPV6). nullopt: not a TCP segment it can read
// (another protocol, a non-first fragment, truncated), or the sending side's copy of a
// loopback frame (the same frame is captured again as received, and counts then).
std::optional<TcpSegment> parse_frame(int linktype, std::span<const std::uint8_t> frame);

// True for the link types parse_frame understands.
bool supported_linktype(int linktype);

// The BPF filter (pcap-filter(7) syntax) that passes what the flow table uses, and no
// more: SYNs and resets on any port (a probe of a port with no service shows only as the
// kernel's reset), and on the service `ports` the client's pure ACKs (no payload, no
// other flag): the one completing a handshake is among them. Not the segments carrying
// data, nor FINs. With `addresses`, only packets to or from them.
std::string capture_filter(const std::vector<std::uint16_t>& ports,
                           const std::vector<std::string>& addresses);

// Per-flow record of what crossed the tap for the watched ports: bounded (oldest
// evicted) and expiring. Not thread-safe: the capture wraps it in a mutex.
class FlowTable {
 public:
  // `ports`: the host's ports whose handshakes are recorded; empty means every port, so
  // that a SYN to a port with no service (answered by the kernel's reset) is seen too.
  FlowTable(std::vector<std::uint16_t> ports, std::size_t capacity,
            std::chrono::milliseconds lifetime);

  void observe(const TcpSegment& segment, std::int64_t unix_ms);
  // Flows from any of `addresses` (IPv4-mapped IPv6 forms match their IPv4 address)
  // first seen at or after `since_unix_ms` and not expired at `now_unix_ms`.
  std::vector<control::WitnessFlow> flows_from(const std::vector<std::string>& addresses,
                                               std::int64_t since_unix_ms,
                                               std::int64_t now_unix_ms) const;
  std::size_t size() const { return order_.size(); }

 private:
  // Family, source address, source port, destination port.
  using Key = std::tuple<Family, boost::asio::ip::address, std::uint16_t, std::uint16_t>;
  struct Entry {
    Key key;
    control::WitnessFlow flow;
  };
  bool watched(std::uint16_t port) const;
  void expire(std::int64_t now_unix_ms);
  control::WitnessFlow& flow_for(const Key& key, std::int64_t unix_ms, bool fresh);

  std::vector<std::uint16_t> ports_;
  std::size_t capacity_;
  std::chrono::milliseconds lifetime_;
  std::list<Entry> order_;  // oldest first
  std::map<Key, std::list<Entry>::iterator> index_;
};

}  // namespace witness

}  // namespace egress25::reflector
