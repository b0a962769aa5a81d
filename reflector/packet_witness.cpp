// The packet witness: a libpcap capture thread feeding a bounded, expiring flow table.
#include "packet_witness.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/ip/address.hpp>
#include <mutex>
#include <set>
#include <thread>

#include "limits.hpp"

namespace egress25::reflector {

namespace witness {

namespace {

// Link-layer framing is parsed by hand because libpcap hands over raw frames and has no
// dissector; only the few fields the witness needs are read, each bounds-checked.
constexpr std::uint16_t ethertype_ipv4 = 0x0800;
constexpr std::uint16_t ethertype_ipv6 = 0x86dd;
constexpr std::uint16_t ethertype_vlan = 0x8100;
constexpr std::uint16_t ethertype_qinq = 0x88a8;
constexpr int linux_sll_len = 16;
constexpr int linux_sll2_len = 20;
// Linux packet types (linux/if_packet.h) as carried in the cooked headers.
constexpr int packet_outgoing = 4;
constexpr int packet_otherhost = 3;
// Hardware type of a loopback device (linux/if_arp.h), also in the cooked headers.
constexpr std::uint16_t arphrd_loopback = 772;

std::uint16_t be16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]);
}

// nullopt: a frame to skip. On "any", Linux 6 hands over a loopback frame once, marked
// as received ("host") though this host sent it too: read as inbound, the kernel's reset
// for a port with no listener on 127.0.0.1 would look like someone else's. A kernel
// that also shows the sending side's copy would count each SYN twice; that copy is
// skipped.
std::optional<Direction> direction_of(int pkttype, std::uint16_t hatype) {
  if (hatype == arphrd_loopback) {
    if (pkttype == packet_outgoing) return std::nullopt;
    return Direction::local;
  }
  if (pkttype == packet_outgoing) return Direction::outbound;
  if (pkttype == packet_otherhost) return Direction::unknown;
  return Direction::inbound;  // host, broadcast, multicast
}

bool parse_tcp(std::span<const std::uint8_t> tcp, TcpSegment& seg) {
  if (tcp.size() < 14) return false;  // ports, seq, ack, offset, flags
  seg.source_port = be16(tcp, 0);
  seg.destination_port = be16(tcp, 2);
  const std::uint8_t flags = tcp[13];
  seg.fin = flags & 0x01;
  seg.syn = flags & 0x02;
  seg.rst = flags & 0x04;
  seg.ack = flags & 0x10;
  return true;
}

boost::asio::ip::address v4_at(const std::uint8_t* bytes) {
  boost::asio::ip::address_v4::bytes_type b;
  std::copy_n(bytes, b.size(), b.begin());
  return boost::asio::ip::address_v4(b);
}

boost::asio::ip::address v6_at(const std::uint8_t* bytes) {
  boost::asio::ip::address_v6::bytes_type b;
  std::copy_n(bytes, b.size(), b.begin());
  return boost::asio::ip::address_v6(b);
}

std::optional<TcpSegment> parse_ipv4(std::span<const std::uint8_t> ip, Direction dir) {
  if (ip.size() < 20 || (ip[0] >> 4) != 4) return std::nullopt;
  const std::size_t ihl = (ip[0] & 0x0f) * 4u;
  if (ihl < 20 || ip.size() < ihl) return std::nullopt;
  if (ip[9] != 6) return std::nullopt;                   // not TCP
  if ((be16(ip, 6) & 0x1fff) != 0) return std::nullopt;  // a non-first fragment
  TcpSegment seg;
  seg.family = Family::ipv4;
  seg.ttl = ip[8];
  seg.source = v4_at(ip.data() + 12);
  seg.destination = v4_at(ip.data() + 16);
  seg.direction = dir;
  if (!parse_tcp(ip.subspan(ihl), seg)) return std::nullopt;
  return seg;
}

std::optional<TcpSegment> parse_ipv6(std::span<const std::uint8_t> ip, Direction dir) {
  if (ip.size() < 40 || (ip[0] >> 4) != 6) return std::nullopt;
  TcpSegment seg;
  seg.family = Family::ipv6;
  seg.ttl = ip[7];
  seg.source = v6_at(ip.data() + 8);
  seg.destination = v6_at(ip.data() + 24);
  seg.direction = dir;
  int next = ip[6];
  std::size_t at = 40;
  // RFC 8200 4.1: walk the extension headers to TCP; a bounded number of them.
  for (int i = 0; i < 8 && next != 6; ++i) {
    if (ip.size() < at + 8) return std::nullopt;
    switch (next) {
      case 0:   // hop-by-hop options
      case 43:  // routing
      case 60:  // destination options
        next = ip[at];
        at += (ip[at + 1] + 1u) * 8u;
        break;
      case 44:  // fragment: only the first fragment carries the TCP header
        if ((be16(ip, at + 2) & 0xfff8) != 0) return std::nullopt;
        next = ip[at];
        at += 8;
        break;
      case 51:  // authentication header (RFC 4302: length in 4-octet units, minus 2)
        next = ip[at];
        at += (ip[at + 1] + 2u) * 4u;
        break;
      default:
        return std::nullopt;
    }
  }
  if (next != 6 || ip.size() < at) return std::nullopt;
  if (!parse_tcp(ip.subspan(at), seg)) return std::nullopt;
  return seg;
}

std::optional<TcpSegment> parse_ip(std::uint16_t ethertype, std::span<const std::uint8_t> ip,
                                   Direction dir) {
  if (ethertype == ethertype_ipv4) return parse_ipv4(ip, dir);
  if (ethertype == ethertype_ipv6) return parse_ipv6(ip, dir);
  return std::nullopt;
}

std::optional<TcpSegment> parse_raw_ip(std::span<const std::uint8_t> ip) {
  if (ip.empty()) return std::nullopt;
  if ((ip[0] >> 4) == 4) return parse_ipv4(ip, Direction::unknown);
  if ((ip[0] >> 4) == 6) return parse_ipv6(ip, Direction::unknown);
  return std::nullopt;
}

// Canonical text for matching: IPv4-mapped IPv6 as plain IPv4 (a dual-stack control
// socket reports "::ffff:192.0.2.1" for a client the capture sees as "192.0.2.1").
std::optional<std::string> canonical(const std::string& address) {
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(address, ec);
  if (ec) return std::nullopt;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string();
  }
  return a.to_string();
}

}  // namespace

bool supported_linktype(int linktype) {
  switch (linktype) {
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_EN10MB:
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
      return true;
    default:
      return false;
  }
}

std::string capture_filter(const std::vector<std::uint16_t>& ports,
                           const std::vector<std::string>& addresses) {
  // IPv4: tcp[] knows the header length. IPv6 has no tcp[] in BPF: the TCP header is read
  // at a fixed offset (40), which covers segments without extension headers (handshake
  // segments carry none in practice; parse_frame handles the rest). Flags are masked to
  // the six classic ones (ECN's two may ride along).
  std::string v4_ports;
  std::string v6_ports;
  for (auto p : ports) {
    const auto n = std::to_string(p);
    v4_ports += (v4_ports.empty() ? "" : " or ") + ("tcp dst port " + n);
    v6_ports += (v6_ports.empty() ? "" : " or ") + ("ip6[42:2] == " + n);
  }
  std::string filter =
      "(ip and tcp and (tcp[tcpflags] & (tcp-syn|tcp-rst) != 0"
      " or (tcp[tcpflags] & 0x3f == tcp-ack"
      " and ip[2:2] == ((ip[0] & 0xf) << 2) + ((tcp[12] & 0xf0) >> 2)"
      " and (" +
      v4_ports +
      "))))"
      " or (ip6 and ip6[6] == 6 and (ip6[53] & 0x06 != 0"
      " or (ip6[53] & 0x3f == 0x10 and ip6[4:2] == (ip6[52] & 0xf0) >> 2"
      " and (" +
      v6_ports + "))))";
  if (addresses.empty()) return filter;
  std::string hosts;
  for (const auto& a : addresses) hosts += (hosts.empty() ? "" : " or ") + ("host " + a);
  return "(" + hosts + ") and (" + filter + ")";
}

std::optional<TcpSegment> parse_frame(int linktype, std::span<const std::uint8_t> frame) {
  switch (linktype) {
    case DLT_LINUX_SLL: {
      // Packet type, hardware type, address length, address (8), protocol.
      if (frame.size() < linux_sll_len) return std::nullopt;
      const auto dir = direction_of(be16(frame, 0), be16(frame, 2));
      if (!dir) return std::nullopt;
      return parse_ip(be16(frame, 14), frame.subspan(linux_sll_len), *dir);
    }
    case DLT_LINUX_SLL2: {
      // Protocol, reserved, interface index, hardware type, packet type, address.
      if (frame.size() < linux_sll2_len) return std::nullopt;
      const auto dir = direction_of(frame[10], be16(frame, 8));
      if (!dir) return std::nullopt;
      return parse_ip(be16(frame, 0), frame.subspan(linux_sll2_len), *dir);
    }
    case DLT_EN10MB: {
      if (frame.size() < 14) return std::nullopt;
      std::size_t at = 12;
      std::uint16_t type = be16(frame, at);
      for (int tags = 0; tags < 2 && (type == ethertype_vlan || type == ethertype_qinq); ++tags) {
        at += 4;
        if (frame.size() < at + 2) return std::nullopt;
        type = be16(frame, at);
      }
      return parse_ip(type, frame.subspan(at + 2), Direction::unknown);
    }
    case DLT_RAW:
    case DLT_IPV4:
    case DLT_IPV6:
      return parse_raw_ip(frame);
    default:
      return std::nullopt;
  }
}

FlowTable::FlowTable(std::vector<std::uint16_t> ports, std::size_t capacity,
                     std::chrono::milliseconds lifetime)
    : ports_(std::move(ports)),
      capacity_(std::max<std::size_t>(1, capacity)),
      lifetime_(lifetime) {}

bool FlowTable::watched(std::uint16_t port) const {
  return ports_.empty() || std::find(ports_.begin(), ports_.end(), port) != ports_.end();
}

void FlowTable::expire(std::int64_t now_unix_ms) {
  while (!order_.empty() &&
         order_.front().flow.first_seen_unix_ms + lifetime_.count() < now_unix_ms) {
    index_.erase(order_.front().key);
    order_.pop_front();
  }
}

control::WitnessFlow& FlowTable::flow_for(const Key& key, std::int64_t unix_ms, bool fresh) {
  if (auto it = index_.find(key); it != index_.end()) {
    if (!fresh) return it->second->flow;
    order_.erase(it->second);  // a new connection reusing the 4-tuple: start over
    index_.erase(it);
  }
  if (order_.size() >= capacity_) {
    index_.erase(order_.front().key);
    order_.pop_front();
  }
  control::WitnessFlow flow;
  flow.family = std::get<0>(key);
  flow.source_address = std::get<1>(key).to_string();
  flow.source_port = std::get<2>(key);
  flow.destination_port = std::get<3>(key);
  flow.first_seen_unix_ms = unix_ms;
  order_.push_back(Entry{key, std::move(flow)});
  index_[key] = std::prev(order_.end());
  return order_.back().flow;
}

void FlowTable::observe(const TcpSegment& s, std::int64_t unix_ms) {
  expire(unix_ms);
  // Direction comes from the ports (the watched port is ours), confirmed by the cooked
  // header where there is one. On loopback, or a link that does not say, a segment may be
  // both: watching every port, each end of a connection is "ours".
  const bool to_us = watched(s.destination_port) && s.direction != Direction::outbound;
  const bool from_us = watched(s.source_port) && s.direction != Direction::inbound;
  if (s.syn && !s.ack && to_us) {
    const Key key{s.family, s.source, s.source_port, s.destination_port};
    auto existing = index_.find(key);
    const bool fresh = existing != index_.end() && existing->second->flow.handshake_completed;
    auto& flow = flow_for(key, unix_ms, fresh);
    if (!flow.syn_seen) flow.ttl = s.ttl;  // the first SYN's, as it arrived
    flow.syn_seen = true;
    ++flow.syn_count;
    return;
  }
  if (from_us && (s.rst || (s.syn && s.ack))) {
    // A reset from the end that opened a recorded flow is that end's (a client aborting
    // its connection), not this host refusing it.
    if (s.rst && to_us &&
        index_.contains(Key{s.family, s.source, s.source_port, s.destination_port}))
      return;
    const Key key{s.family, s.destination, s.destination_port, s.source_port};
    auto& flow = flow_for(key, unix_ms, false);
    if (s.syn && s.ack) {
      flow.synack_sent = true;
    } else if (!flow.handshake_completed) {
      // A reset in answer to the SYN (a closed port, a firewall's reject); one after
      // the handshake ends an established session and says nothing about blocking.
      flow.rst_sent = true;
    }
    return;
  }
  if (to_us && s.ack && !s.syn && !s.rst) {
    auto it = index_.find(Key{s.family, s.source, s.source_port, s.destination_port});
    if (it != index_.end() && it->second->flow.synack_sent)
      it->second->flow.handshake_completed = true;
  }
}

std::vector<control::WitnessFlow> FlowTable::flows_from(const std::vector<std::string>& addresses,
                                                        std::int64_t since_unix_ms,
                                                        std::int64_t now_unix_ms) const {
  std::set<std::string> wanted;
  for (const auto& a : addresses) {
    if (auto c = canonical(a)) wanted.insert(*c);
  }
  std::vector<control::WitnessFlow> out;
  for (const auto& [key, f] : order_) {
    if (f.first_seen_unix_ms < since_unix_ms) continue;
    if (f.first_seen_unix_ms + lifetime_.count() < now_unix_ms) continue;
    if (wanted.contains(f.source_address)) out.push_back(f);
  }
  return out;
}

}  // namespace witness

namespace {

class PcapWitness final : public PacketWitness {
 public:
  PcapWitness(pcap_t* handle, std::size_t max_flows, std::vector<std::string> addresses,
              std::string description)
      : handle_(handle),
        linktype_(pcap_datalink(handle)),
        table_(
            {}, max_flows,  // every port: a probe of one with no service shows as a reset
            std::chrono::duration_cast<std::chrono::milliseconds>(limits::witness_flow_lifetime)),
        description_(std::move(description)) {
    for (const auto& a : addresses)
      if (auto c = witness::canonical(a)) addresses_.insert(boost::asio::ip::make_address(*c));
  }

  ~PcapWitness() override {
    stop();
    pcap_close(handle_);
  }

  void start() override {
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
  }

  void stop() override {
    stopping_ = true;
    // Wakes a pcap_next_ex blocked in poll (libpcap >= 1.10 on Linux); the read
    // timeout set at open bounds the wait on older versions.
    pcap_breakloop(handle_);
    if (thread_.joinable()) thread_.join();
  }

  std::vector<control::WitnessFlow> flows_from(const std::vector<std::string>& addresses,
                                               std::int64_t since_unix_ms) const override {
    std::lock_guard lock(mutex_);
    return table_.flows_from(addresses, since_unix_ms, unix_ms_now());
  }

  std::string capture_error() const override {
    std::lock_guard lock(mutex_);
    return capture_error_;
  }

  WitnessCounts counts() const override {
    return {seen_.load(std::memory_order_relaxed), dropped_.load(std::memory_order_relaxed)};
  }

  std::string description() const override { return description_; }

  bool caught_up(std::int64_t unix_ms) const override {
    return latest_ms_.load(std::memory_order_acquire) >= unix_ms;
  }

 private:
  void run() {
    // pcap_stats is read here, on the capture's own thread: libpcap handles are not
    // thread-safe, and a scrape must not wait for the capture.
    constexpr auto stats_interval = std::chrono::seconds(1);
    auto stats_due = std::chrono::steady_clock::now();
    while (!stopping_) {
      if (const auto now = std::chrono::steady_clock::now(); now >= stats_due) {
        stats_due = now + stats_interval;
        pcap_stat stats{};
        if (pcap_stats(handle_, &stats) == 0)
          dropped_.store(std::uint64_t{stats.ps_drop} + stats.ps_ifdrop, std::memory_order_relaxed);
      }
      pcap_pkthdr* header = nullptr;
      const u_char* data = nullptr;
      const int rc = pcap_next_ex(handle_, &header, &data);
      if (rc == 0) continue;  // read timeout: look at stopping_ again
      if (rc == PCAP_ERROR_BREAK) break;
      if (rc < 0) {
        std::lock_guard lock(mutex_);
        capture_error_ = std::string("packet capture failed: ") + pcap_geterr(handle_);
        break;
      }
      const std::int64_t ms =
          std::int64_t{header->ts.tv_sec} * 1000 + std::int64_t{header->ts.tv_usec} / 1000;
      auto segment = witness::parse_frame(linktype_, {data, header->caplen});
      if (segment) {
        // On one interface's own link type (Ethernet, loopback) the frame does not say
        // which way it went; the service addresses do.
        if (segment->direction == witness::Direction::unknown && !addresses_.empty()) {
          const bool from = addresses_.contains(segment->source);
          const bool to = addresses_.contains(segment->destination);
          if (from && to)
            segment->direction = witness::Direction::local;
          else if (from)
            segment->direction = witness::Direction::outbound;
          else if (to)
            segment->direction = witness::Direction::inbound;
        }
        seen_.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(mutex_);
        table_.observe(*segment, ms);
      }
      // Blocks come in order: everything captured up to this packet is in the table.
      latest_ms_.store(ms, std::memory_order_release);
    }
  }

  pcap_t* handle_;
  int linktype_;
  mutable std::mutex mutex_;
  witness::FlowTable table_;   // guarded by mutex_
  std::string capture_error_;  // guarded by mutex_
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> seen_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::int64_t> latest_ms_{0};        // capture time of the last packet handled
  std::set<boost::asio::ip::address> addresses_;  // canonical; read by the capture thread only
  std::string description_;
  std::thread thread_;
};

// The loopback interface, when it carries every one of `addresses`; "" otherwise. Only
// loopback: Linux takes a packet for any of its addresses on any interface (the weak host
// model), so an address configured on eth0 may be reached through eth1, and a witness
// on eth0 alone would miss those SYNs and blame the path. A loopback address is reached
// only through lo (a packet for 127.0.0.0/8 from outside is a martian).
std::string loopback_of(const std::vector<std::string>& addresses) {
  if (addresses.empty()) return {};
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return {};
  std::set<std::string> names;
  std::size_t found = 0;
  for (const auto& a : addresses) {
    const auto wanted = witness::canonical(a);
    bool here = false;
    for (auto* i = list; i && wanted; i = i->ifa_next) {
      if (!i->ifa_addr || !(i->ifa_flags & IFF_LOOPBACK)) continue;
      const int af = i->ifa_addr->sa_family;
      std::array<char, INET6_ADDRSTRLEN> text{};
      const void* raw =
          af == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr)
          : af == AF_INET6
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(i->ifa_addr)->sin6_addr)
              : nullptr;
      if (!raw || !::inet_ntop(af, raw, text.data(), text.size())) continue;
      if (witness::canonical(text.data()) == wanted) {
        names.insert(i->ifa_name);
        here = true;
      }
    }
    if (here) ++found;
  }
  ::freeifaddrs(list);
  if (found != addresses.size() || names.size() != 1) return {};
  return *names.begin();
}

std::string activate_error(int rc, pcap_t* p, const std::string& interface) {
  switch (rc) {
    case PCAP_ERROR_PERM_DENIED:
      return "packet capture needs CAP_NET_RAW (run as root or grant the capability)";
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return "packet capture: no interface named '" + interface + "'";
    case PCAP_ERROR_IFACE_NOT_UP:
      return "packet capture: interface '" + interface + "' is not up";
    default:
      return "packet capture on '" + interface + "' failed: " + pcap_geterr(p);
  }
}

}  // namespace

std::unique_ptr<PacketWitness> PacketWitness::open(const Options& options, std::string& error) {
  if (options.ports.empty()) {
    error = "packet capture: no ports to watch";
    return nullptr;
  }
  // "any" covers every interface; when the services listen on loopback addresses only,
  // the packets of the other interfaces need not reach the filter.
  std::string interface = options.interface;
  if (interface == "any") {
    if (auto lo = loopback_of(options.addresses); !lo.empty()) interface = lo;
  }
  std::array<char, PCAP_ERRBUF_SIZE> errbuf{};
  pcap_t* p = pcap_create(interface.c_str(), errbuf.data());
  if (p == nullptr) {
    error = std::string("packet capture: ") + errbuf.data();
    return nullptr;
  }
  // Not immediate mode: libpcap then uses the kernel's TPACKET_V3 ring, which hands
  // packets over a block at a time (when full or after the timeout): one wakeup for many
  // packets. stop() wakes the thread with pcap_breakloop (libpcap >= 1.10 on Linux).
  pcap_set_snaplen(p, limits::witness_snaplen);
  pcap_set_promisc(p, 0);
  pcap_set_immediate_mode(p, 0);
  pcap_set_buffer_size(p, static_cast<int>(limits::witness_ring_bytes));
  pcap_set_timeout(p, static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           limits::witness_block_timeout)
                                           .count()));
  if (const int rc = pcap_activate(p); rc < 0) {
    error = activate_error(rc, p, interface);
    pcap_close(p);
    return nullptr;
  }
  if (!witness::supported_linktype(pcap_datalink(p))) {
    const char* name = pcap_datalink_val_to_name(pcap_datalink(p));
    error = "packet capture: unsupported link type " +
            (name ? std::string(name) : std::to_string(pcap_datalink(p))) + " on '" + interface +
            "'";
    pcap_close(p);
    return nullptr;
  }
  // What reaches user space: see capture_filter.
  const std::string filter = witness::capture_filter(options.ports, options.addresses);
  bpf_program program{};
  if (pcap_compile(p, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0 ||
      pcap_setfilter(p, &program) != 0) {
    error = "packet capture filter '" + filter + "': " + pcap_geterr(p);
    pcap_freecode(&program);
    pcap_close(p);
    return nullptr;
  }
  pcap_freecode(&program);
  const auto flows = std::max<std::size_t>(1, options.max_flows);
  std::string description =
      "on " + interface + " (" +
      (options.addresses.empty()
           ? "every address"
           : std::to_string(options.addresses.size()) + " service address(es)") +
      "), a " + std::to_string(limits::witness_ring_bytes / 1024) + " KiB TPACKET_V3 ring, " +
      std::to_string(flows) + " flows at most, filter: SYN and RST on any port, pure ACKs to " +
      "the service ports (BPF: " + filter + ")";
  return std::make_unique<PcapWitness>(p, flows, options.addresses, std::move(description));
}

}  // namespace egress25::reflector
