// Unit tests for the packet witness's frame parser and flow table, and ICMP descriptions.
// The frames were recorded with libpcap in a namespace lab (pathev_lab_tool dump).
#define BOOST_TEST_MODULE pathev unit tests
#include <pcap/pcap.h>

#include <boost/test/unit_test.hpp>
#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "common/icmp_error_queue.hpp"
#include "reflector/packet_witness.hpp"

using egress25::Family;
using egress25::reflector::witness::Direction;
using egress25::reflector::witness::FlowTable;
using egress25::reflector::witness::parse_frame;
using egress25::reflector::witness::TcpSegment;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes hex(const std::string& s) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(std::stoi(s.substr(i, 2), nullptr, 16)));
  }
  return out;
}

// DLT_LINUX_SLL on "any": 198.51.100.2:49674 -> 198.51.100.10:7025, a full handshake.
const Bytes v4_syn =
    hex("00000001000636006e7dfef9000008004500003c83ea40004006625ec6336402c633640ac20a1b71fc750065"
        "00000000a002faf054a20000020405b40402080ab7a329d9000000000103030a");
const Bytes v4_synack =
    hex("0004000100062a0b923eb21f000008004500003c000040004006e648c633640ac63364021b71c20acb03c761"
        "fc750066a012fe8854a20000020405b40402080a6d87ac13b7a329d90103030a");
const Bytes v4_ack =
    hex("00000001000636006e7dfef9000008004500003483eb400040066265c6336402c633640ac20a1b71fc750066"
        "cb03c7628010003f549a00000101080ab7a329d96d87ac13");
// 198.51.100.2:50026 -> 198.51.100.10:26, no listener: the host's RST goes out.
const Bytes v4_syn_closed =
    hex("0000000100067ad4487ad7b9000008004500003ce601400040060047c6336402c633640ac36a001a805b632e"
        "00000000a002faf054a20000020405b40402080a752ead86000000000103030a");
const Bytes v4_rst =
    hex("000400010006caa81ffff4460000080045000028000040004006e65cc633640ac6336402001ac36a00000000"
        "805b632f50140000b44d0000");
// IPv6: [2001:db8:1::2]:48394 -> [2001:db8:1::10]:7025, a full handshake.
const Bytes v6_syn =
    hex("00000001000636006e7dfef9000086dd60050a9c0028064020010db800010000000000000000000220010db8"
        "000100000000000000000010bd0a1b710522e5c800000000a002fd205bb40000020405a00402080ab441eef2"
        "000000000103030a");
const Bytes v6_synack =
    hex("0004000100062a0b923eb21f000086dd6008f1780028064020010db800010000000000000000001020010db8"
        "0001000000000000000000021b71bd0a58e205d50522e5c9a012fb045bb40000020405a00402080a91fbad20"
        "b441eef20103030a");
const Bytes v6_ack =
    hex("00000001000636006e7dfef9000086dd60050a9c0020064020010db800010000000000000000000220010db8"
        "000100000000000000000010bd0a1b710522e5c958e205d6801000405bac00000101080ab441eef291fbad20");
// [2001:db8:1::2]:37646 -> [2001:db8:1::10]:26, and the host's RST.
const Bytes v6_syn_closed =
    hex("0000000100067ad4487ad7b9000086dd600eb7c70028064020010db800010000000000000000000220010db8"
        "000100000000000000000010930e001a4adc82bf00000000a002fd205bb40000020405a00402080afdb2a265"
        "000000000103030a");
const Bytes v6_rst =
    hex("000400010006caa81ffff446000086dd600b58dd0014064020010db800010000000000000000001020010db8"
        "000100000000000000000002001a930e000000004adc82c0501400005ba00000");
// DLT_EN10MB on the server's veth: a SYN to port 26 and the RST back.
const Bytes eth_syn =
    hex("2a0b923eb21f36006e7dfef908004500003cee7640004006f7d1c6336402c633640ac35e001a2981ac980000"
        "0000a002faf054a20000020405b40402080a99ff5dfc000000000103030a");
const Bytes eth_rst =
    hex("36006e7dfef92a0b923eb21f080045000028000040004006e65cc633640ac6336402001ac35e000000002981"
        "ac9950140000c1c90000");

// DLT_LINUX_SLL on "any", hardware type ARPHRD_LOOPBACK (772): a client on the reflector
// host itself connects to 127.0.0.1:2525, where nothing listens, and the kernel answers
// with a reset. Each frame is captured once, as received ("host"), though this host also
// sent it.
const Bytes lo_v4_syn =
    hex("000003040006000000000000000008004500003cad8b400040068f2e7f0000017f000001836c09dd2643d688"
        "00000000a002ffd7fe3000000204ffd7");
const Bytes lo_v4_rst =
    hex("00000304000600000000000000000800450000280000400040063cce7f0000017f00000109dd836c00000000"
        "2643d6895014000027b80000");
// The same over IPv6: [::1]:38492 -> [::1]:2525 and the kernel's reset.
const Bytes lo_v6_syn = hex(
    "000003040006000000000000000086dd6002169100280640000000000000000000000000000000010000000000"
    "0000000000000000000001965c09dd1a83367a00000000a002ffc4003000000204ffc40402080a80140048000000"
    "000103030a");
const Bytes lo_v6_rst =
    hex("000003040006000000000000000086dd6005016e00140640000000000000000000000000000000010000000000"
        "000000000000000000000109dd965c000000001a83367b50140000001c0000");

// The frame as captured from the sending side: packet type "outgoing" (4).
Bytes outgoing(Bytes sll) {
  sll[1] = 4;
  return sll;
}

TcpSegment parse_ok(int linktype, const Bytes& frame) {
  auto seg = parse_frame(linktype, frame);
  BOOST_REQUIRE(seg.has_value());
  return *seg;
}

// The same packet under a DLT_LINUX_SLL2 header (protocol first, then the interface
// index, the hardware type, the packet type, the address).
Bytes to_sll2(const Bytes& sll) {
  Bytes out = {sll[14], sll[15], 0, 0, 0, 0, 0, 2, sll[2], sll[3], sll[1], sll[5]};
  out.insert(out.end(), sll.begin() + 6, sll.begin() + 14);
  out.insert(out.end(), sll.begin() + 16, sll.end());
  return out;
}

FlowTable table(std::size_t capacity = 100,
                std::chrono::milliseconds lifetime = std::chrono::minutes(10)) {
  return FlowTable({7025, 26, 25}, capacity, lifetime);
}

void feed(FlowTable& t, const Bytes& frame, std::int64_t ms, int linktype = DLT_LINUX_SLL) {
  t.observe(parse_ok(linktype, frame), ms);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(witness_parse)

BOOST_AUTO_TEST_CASE(ipv4_syn_inbound) {
  const auto s = parse_ok(DLT_LINUX_SLL, v4_syn);
  BOOST_TEST((s.family == Family::ipv4));
  BOOST_TEST(s.source.to_string() == "198.51.100.2");
  BOOST_TEST(s.destination.to_string() == "198.51.100.10");
  BOOST_TEST(s.source_port == 49674);
  BOOST_TEST(s.destination_port == 7025);
  BOOST_TEST(s.syn);
  BOOST_TEST(!s.ack);
  BOOST_TEST(!s.rst);
  BOOST_TEST(s.ttl == 64);
  BOOST_TEST((s.direction == Direction::inbound));
}

BOOST_AUTO_TEST_CASE(ipv4_synack_and_rst_outbound) {
  const auto sa = parse_ok(DLT_LINUX_SLL, v4_synack);
  BOOST_TEST((sa.syn && sa.ack && !sa.rst));
  BOOST_TEST(sa.source_port == 7025);
  BOOST_TEST((sa.direction == Direction::outbound));
  const auto r = parse_ok(DLT_LINUX_SLL, v4_rst);
  BOOST_TEST((r.rst && r.ack && !r.syn));
  BOOST_TEST(r.source.to_string() == "198.51.100.10");
  BOOST_TEST(r.source_port == 26);
  BOOST_TEST(r.destination_port == 50026);
}

BOOST_AUTO_TEST_CASE(ipv6_segments) {
  const auto s = parse_ok(DLT_LINUX_SLL, v6_syn);
  BOOST_TEST((s.family == Family::ipv6));
  BOOST_TEST(s.source.to_string() == "2001:db8:1::2");
  BOOST_TEST(s.destination.to_string() == "2001:db8:1::10");
  BOOST_TEST(s.source_port == 48394);
  BOOST_TEST(s.destination_port == 7025);
  BOOST_TEST((s.syn && !s.ack));
  BOOST_TEST(s.ttl == 64);  // hop limit
  const auto sa = parse_ok(DLT_LINUX_SLL, v6_synack);
  BOOST_TEST((sa.syn && sa.ack && sa.direction == Direction::outbound));
  const auto a = parse_ok(DLT_LINUX_SLL, v6_ack);
  BOOST_TEST((a.ack && !a.syn && !a.rst && !a.fin));
  const auto r = parse_ok(DLT_LINUX_SLL, v6_rst);
  BOOST_TEST((r.rst && r.source_port == 26 && r.destination_port == 37646));
}

BOOST_AUTO_TEST_CASE(sll2_reads_like_sll) {
  for (const Bytes* f : {&v4_syn, &v4_synack, &v6_syn, &v6_rst}) {
    const auto a = parse_ok(DLT_LINUX_SLL, *f);
    const auto b = parse_ok(DLT_LINUX_SLL2, to_sll2(*f));
    BOOST_TEST(a.source == b.source);
    BOOST_TEST(a.destination_port == b.destination_port);
    BOOST_TEST(a.syn == b.syn);
    BOOST_TEST(a.rst == b.rst);
    BOOST_TEST(a.ttl == b.ttl);
    BOOST_TEST((a.direction == b.direction));
  }
}

BOOST_AUTO_TEST_CASE(ethernet_has_no_direction) {
  const auto s = parse_ok(DLT_EN10MB, eth_syn);
  BOOST_TEST(s.source.to_string() == "198.51.100.2");
  BOOST_TEST(s.destination_port == 26);
  BOOST_TEST((s.direction == Direction::unknown));
  // An 802.1Q tag in front of the ethertype.
  Bytes tagged(eth_syn.begin(), eth_syn.begin() + 12);
  for (std::uint8_t b : {0x81, 0x00, 0x00, 0x2a}) tagged.push_back(b);
  tagged.insert(tagged.end(), eth_syn.begin() + 12, eth_syn.end());
  BOOST_TEST(parse_ok(DLT_EN10MB, tagged).destination_port == 26);
  BOOST_TEST(parse_ok(DLT_EN10MB, eth_rst).rst);
}

BOOST_AUTO_TEST_CASE(raw_ip_link_type) {
  const Bytes ip(v6_syn.begin() + 16, v6_syn.end());
  BOOST_TEST(parse_ok(DLT_RAW, ip).source.to_string() == "2001:db8:1::2");
}

BOOST_AUTO_TEST_CASE(ipv6_extension_header_is_walked) {
  // Insert a hop-by-hop options header (8 octets of padding) before TCP.
  Bytes f(v6_syn.begin(), v6_syn.begin() + 16 + 40);
  f[16 + 6] = 0;                                                   // next header: hop-by-hop
  for (std::uint8_t b : {6, 0, 1, 4, 0, 0, 0, 0}) f.push_back(b);  // next TCP, PadN
  f.insert(f.end(), v6_syn.begin() + 16 + 40, v6_syn.end());
  const auto s = parse_ok(DLT_LINUX_SLL, f);
  BOOST_TEST(s.destination_port == 7025);
  BOOST_TEST(s.syn);
}

BOOST_AUTO_TEST_CASE(rejects_what_it_cannot_read) {
  // Every truncation short of the TCP flags is refused, never read past the end.
  for (std::size_t n = 0; n < 16 + 20 + 14; ++n) {
    BOOST_TEST(!parse_frame(DLT_LINUX_SLL, std::span(v4_syn.data(), n)).has_value());
  }
  for (std::size_t n = 0; n < 16 + 40 + 14; ++n) {
    BOOST_TEST(!parse_frame(DLT_LINUX_SLL, std::span(v6_syn.data(), n)).has_value());
  }
  Bytes udp = v4_syn;
  udp[16 + 9] = 17;
  BOOST_TEST(!parse_frame(DLT_LINUX_SLL, udp).has_value());
  Bytes fragment = v4_syn;
  fragment[16 + 7] = 0x10;  // fragment offset 16: no TCP header here
  BOOST_TEST(!parse_frame(DLT_LINUX_SLL, fragment).has_value());
  Bytes arp = v4_syn;
  arp[14] = 0x08;
  arp[15] = 0x06;
  BOOST_TEST(!parse_frame(DLT_LINUX_SLL, arp).has_value());
  BOOST_TEST(!parse_frame(DLT_PPP, v4_syn).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(witness_flows)

BOOST_AUTO_TEST_CASE(completed_handshake) {
  auto t = table();
  feed(t, v4_syn, 1000);
  feed(t, v4_synack, 1001);
  feed(t, v4_ack, 1002);
  const auto flows = t.flows_from({"198.51.100.2"}, 0, 2000);
  BOOST_REQUIRE_EQUAL(flows.size(), 1u);
  const auto& f = flows[0];
  BOOST_TEST(f.source_port == 49674);
  BOOST_TEST(f.destination_port == 7025);
  BOOST_TEST(f.syn_seen);
  BOOST_TEST(f.synack_sent);
  BOOST_TEST(f.handshake_completed);
  BOOST_TEST(!f.rst_sent);
  BOOST_TEST(f.syn_count == 1);
  BOOST_TEST(f.ttl == 64);
  BOOST_TEST(f.first_seen_unix_ms == 1000);
}

BOOST_AUTO_TEST_CASE(ipv6_handshake) {
  auto t = table();
  feed(t, v6_syn, 1000);
  feed(t, v6_synack, 1001);
  feed(t, v6_ack, 1002);
  const auto flows = t.flows_from({"2001:db8:1::2"}, 0, 2000);
  BOOST_REQUIRE_EQUAL(flows.size(), 1u);
  BOOST_TEST((flows[0].family == Family::ipv6));
  BOOST_TEST(flows[0].handshake_completed);
}

BOOST_AUTO_TEST_CASE(reset_answering_the_syn) {
  auto t = table();
  feed(t, v4_syn_closed, 1000);
  feed(t, v4_rst, 1001);
  feed(t, v6_syn_closed, 1002);
  feed(t, v6_rst, 1003);
  const auto flows = t.flows_from({"198.51.100.2", "2001:db8:1::2"}, 0, 2000);
  BOOST_REQUIRE_EQUAL(flows.size(), 2u);
  for (const auto& f : flows) {
    BOOST_TEST(f.destination_port == 26);
    BOOST_TEST(f.syn_seen);
    BOOST_TEST(f.rst_sent);
    BOOST_TEST(!f.synack_sent);
    BOOST_TEST(!f.handshake_completed);
  }
}

BOOST_AUTO_TEST_CASE(ethernet_frames_by_port) {
  auto t = table();
  feed(t, eth_syn, 1000, DLT_EN10MB);
  feed(t, eth_rst, 1001, DLT_EN10MB);
  const auto flows = t.flows_from({"198.51.100.2"}, 0, 2000);
  BOOST_REQUIRE_EQUAL(flows.size(), 1u);
  BOOST_TEST((flows[0].syn_seen && flows[0].rst_sent));
}

BOOST_AUTO_TEST_CASE(dropped_syn_retransmitted) {
  auto t = table();
  feed(t, v4_syn, 1000);
  auto again = parse_ok(DLT_LINUX_SLL, v4_syn);
  again.ttl = 60;
  t.observe(again, 2000);
  const auto flows = t.flows_from({"198.51.100.2"}, 0, 3000);
  BOOST_REQUIRE_EQUAL(flows.size(), 1u);
  BOOST_TEST(flows[0].syn_count == 2);
  BOOST_TEST(flows[0].ttl == 64);  // the first SYN's
  BOOST_TEST(!flows[0].synack_sent);
  BOOST_TEST(!flows[0].rst_sent);
}

BOOST_AUTO_TEST_CASE(ack_without_synack_completes_nothing) {
  auto t = table();
  feed(t, v4_syn, 1000);
  feed(t, v4_ack, 1001);
  BOOST_TEST(!t.flows_from({"198.51.100.2"}, 0, 2000).at(0).handshake_completed);
}

BOOST_AUTO_TEST_CASE(unwatched_ports_and_our_own_syns_are_ignored) {
  FlowTable t({25}, 100, std::chrono::minutes(1));
  feed(t, v4_syn, 1000);  // to 7025, not watched here
  BOOST_TEST(t.size() == 0u);
  auto outbound = parse_ok(DLT_LINUX_SLL, v4_syn_closed);
  outbound.destination_port = 25;
  outbound.direction = Direction::outbound;  // the loopback copy of a SYN we sent
  t.observe(outbound, 1000);
  BOOST_TEST(t.size() == 0u);
}

BOOST_AUTO_TEST_CASE(watching_every_port_sees_a_port_with_no_service) {
  // As the reflector runs it: a client may probe a port nothing listens on, and the
  // kernel's reset is the only evidence that the host itself refused.
  FlowTable t({}, 100, std::chrono::minutes(1));
  feed(t, v4_syn_closed, 1000);
  feed(t, v4_rst, 1001);
  const auto flows = t.flows_from({"198.51.100.2"}, 0, 2000);
  BOOST_REQUIRE_EQUAL(flows.size(), 1u);
  BOOST_TEST(flows[0].syn_seen);
  BOOST_TEST(flows[0].rst_sent);
  auto outbound = parse_ok(DLT_LINUX_SLL, v4_syn_closed);
  outbound.direction = Direction::outbound;  // a SYN this host sent is not a client's
  FlowTable mine({}, 100, std::chrono::minutes(1));
  mine.observe(outbound, 1000);
  BOOST_TEST(mine.size() == 0u);
}

BOOST_AUTO_TEST_CASE(loopback_reset_is_the_hosts_own) {
  // The reflector run as root on the host where the client runs: on "any", the kernel's
  // reset for a port with no listener arrives marked as received, yet this host sent it.
  // Without this, the REPORT says "SYN seen, no reset sent" and the client blames a
  // forger on the path.
  for (const auto& [syn, rst, address] : {std::tuple{&lo_v4_syn, &lo_v4_rst, "127.0.0.1"},
                                          std::tuple{&lo_v6_syn, &lo_v6_rst, "::1"}}) {
    for (const int linktype : {DLT_LINUX_SLL, DLT_LINUX_SLL2}) {
      FlowTable t({}, 100, std::chrono::minutes(1));
      const auto frame = [&](const Bytes& f) { return linktype == DLT_LINUX_SLL ? f : to_sll2(f); };
      feed(t, frame(*syn), 1000, linktype);
      feed(t, frame(*rst), 1001, linktype);
      const auto flows = t.flows_from({address}, 0, 2000);
      BOOST_REQUIRE_EQUAL(flows.size(), 1u);
      BOOST_TEST(flows[0].destination_port == 2525);
      BOOST_TEST(flows[0].syn_seen);
      BOOST_TEST(flows[0].syn_count == 1);
      BOOST_TEST(flows[0].rst_sent);
      BOOST_TEST(!flows[0].synack_sent);
    }
  }
}

BOOST_AUTO_TEST_CASE(loopback_frames_count_once) {
  // Were the sending side's copy captured too (it is not on Linux 6, but a kernel that
  // shows both is the textbook "any" behaviour), one SYN must not count as a
  // retransmission.
  BOOST_TEST((parse_ok(DLT_LINUX_SLL, lo_v4_syn).direction == Direction::local));
  BOOST_TEST(!parse_frame(DLT_LINUX_SLL, outgoing(lo_v4_syn)).has_value());
  BOOST_TEST(!parse_frame(DLT_LINUX_SLL2, to_sll2(outgoing(lo_v4_syn))).has_value());
  FlowTable t({}, 100, std::chrono::minutes(1));
  for (const auto* f : {&lo_v4_syn, &lo_v4_rst}) {
    if (auto sent = parse_frame(DLT_LINUX_SLL, outgoing(*f))) t.observe(*sent, 1000);
    feed(t, *f, 1000);
  }
  const auto flows = t.flows_from({"127.0.0.1"}, 0, 2000);
  BOOST_REQUIRE_EQUAL(flows.size(), 1u);
  BOOST_TEST(flows[0].syn_count == 1);
  BOOST_TEST(flows[0].rst_sent);
}

BOOST_AUTO_TEST_CASE(loopback_client_reset_is_not_the_hosts) {
  // Between two sockets of this host every port is "ours": a reset the client side sends
  // on a connection it opened is the client's, not a refusal by the host.
  FlowTable t({}, 100, std::chrono::minutes(1));
  feed(t, lo_v4_syn, 1000);
  auto client_rst = parse_ok(DLT_LINUX_SLL, lo_v4_syn);
  client_rst.syn = false;
  client_rst.rst = true;
  t.observe(client_rst, 1001);
  const auto flows = t.flows_from({"127.0.0.1"}, 0, 2000);
  BOOST_REQUIRE_EQUAL(flows.size(), 1u);
  BOOST_TEST(flows[0].destination_port == 2525);
  BOOST_TEST(!flows[0].rst_sent);
}

BOOST_AUTO_TEST_CASE(matches_mapped_addresses_and_time_window) {
  auto t = table();
  feed(t, v4_syn, 1000);
  BOOST_TEST(t.flows_from({"::ffff:198.51.100.2"}, 0, 2000).size() == 1u);
  BOOST_TEST(t.flows_from({"198.51.100.3"}, 0, 2000).empty());
  BOOST_TEST(t.flows_from({"not an address"}, 0, 2000).empty());
  BOOST_TEST(t.flows_from({"198.51.100.2"}, 1001, 2000).empty());
  feed(t, v6_syn, 1000);
  BOOST_TEST(t.flows_from({"2001:DB8:1:0::2"}, 0, 2000).size() == 1u);  // any spelling
}

BOOST_AUTO_TEST_CASE(bounded_oldest_evicted) {
  auto t = table(3);
  auto syn = parse_ok(DLT_LINUX_SLL, v4_syn);
  for (int i = 0; i < 5; ++i) {
    syn.source_port = static_cast<std::uint16_t>(40000 + i);
    t.observe(syn, 1000 + i);
  }
  BOOST_TEST(t.size() == 3u);
  const auto flows = t.flows_from({"198.51.100.2"}, 0, 2000);
  BOOST_REQUIRE_EQUAL(flows.size(), 3u);
  BOOST_TEST(flows[0].source_port == 40002);
  BOOST_TEST(flows[2].source_port == 40004);
}

BOOST_AUTO_TEST_CASE(expired_flows_are_gone) {
  auto t = table(100, std::chrono::milliseconds(1000));
  feed(t, v4_syn, 1000);
  BOOST_TEST(t.flows_from({"198.51.100.2"}, 0, 1900).size() == 1u);
  BOOST_TEST(t.flows_from({"198.51.100.2"}, 0, 2500).empty());
  feed(t, v6_syn, 2500);  // any new packet sweeps the expired ones out
  BOOST_TEST(t.size() == 1u);
}

BOOST_AUTO_TEST_CASE(port_reuse_after_completion_starts_a_new_flow) {
  auto t = table();
  feed(t, v4_syn, 1000);
  feed(t, v4_synack, 1001);
  feed(t, v4_ack, 1002);
  feed(t, v4_syn, 5000);
  const auto flows = t.flows_from({"198.51.100.2"}, 0, 6000);
  BOOST_REQUIRE_EQUAL(flows.size(), 1u);
  BOOST_TEST(flows[0].first_seen_unix_ms == 5000);
  BOOST_TEST(!flows[0].synack_sent);
  BOOST_TEST(flows[0].syn_count == 1);
}

BOOST_AUTO_TEST_SUITE_END()

// The capture filter, compiled by libpcap and run on the recorded frames: what the flow
// table needs passes, the rest of a session's segments stay in the kernel.
BOOST_AUTO_TEST_SUITE(witness_filter)

namespace {

bool passes(const std::string& filter, const Bytes& frame, int linktype = DLT_LINUX_SLL) {
  pcap_t* dead = pcap_open_dead(linktype, 256);
  BOOST_REQUIRE(dead != nullptr);
  bpf_program program{};
  const bool compiled = pcap_compile(dead, &program, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) == 0;
  BOOST_TEST_REQUIRE(compiled, pcap_geterr(dead));
  pcap_pkthdr header{};
  header.caplen = header.len = static_cast<bpf_u_int32>(frame.size());
  const bool match = pcap_offline_filter(&program, &header, frame.data()) != 0;
  pcap_freecode(&program);
  pcap_close(dead);
  return match;
}

// The recorded pure ACK (to port 7025) with `flags` and `payload` bytes of data.
Bytes v4_segment(std::uint8_t flags, std::size_t payload) {
  Bytes f = v4_ack;
  f[16 + 3] = static_cast<std::uint8_t>(f[16 + 3] + payload);  // IPv4 total length
  f[36 + 13] = flags;
  f.insert(f.end(), payload, 'x');
  return f;
}

Bytes v6_segment(std::uint8_t flags, std::size_t payload) {
  Bytes f = v6_ack;
  f[16 + 5] = static_cast<std::uint8_t>(f[16 + 5] + payload);  // IPv6 payload length
  f[56 + 13] = flags;
  f.insert(f.end(), payload, 'x');
  return f;
}

}  // namespace

BOOST_AUTO_TEST_CASE(passes_what_the_flow_table_uses) {
  using egress25::reflector::witness::capture_filter;
  const auto f = capture_filter({7025, 25}, {});
  for (const auto* frame :
       {&v4_syn, &v4_synack, &v4_ack, &v4_syn_closed, &v4_rst, &v6_syn, &v6_synack, &v6_ack,
        &v6_syn_closed, &v6_rst, &lo_v4_syn, &lo_v4_rst, &lo_v6_syn, &lo_v6_rst})
    BOOST_TEST(passes(f, *frame));
  BOOST_TEST(passes(f, eth_syn, DLT_EN10MB));
  BOOST_TEST(passes(f, eth_rst, DLT_EN10MB));
  // ECN's flags beside a pure ACK change nothing.
  BOOST_TEST(passes(f, v4_segment(0x10 | 0x80, 0)));
}

BOOST_AUTO_TEST_CASE(keeps_the_rest_of_a_session_in_the_kernel) {
  using egress25::reflector::witness::capture_filter;
  const auto f = capture_filter({7025, 25}, {});
  BOOST_TEST(!passes(f, v4_segment(0x18, 6)));  // data (PSH, ACK)
  BOOST_TEST(!passes(f, v4_segment(0x10, 6)));  // data without PSH
  BOOST_TEST(!passes(f, v4_segment(0x11, 0)));  // FIN
  BOOST_TEST(!passes(f, v6_segment(0x18, 6)));
  BOOST_TEST(!passes(f, v6_segment(0x10, 6)));
  BOOST_TEST(!passes(f, v6_segment(0x11, 0)));
  // A pure ACK to a port that is not a service's (here: the server's own ACK, or any
  // ACK once port 7025 is not watched).
  BOOST_TEST(!passes(capture_filter({25}, {}), v4_ack));
  BOOST_TEST(!passes(capture_filter({25}, {}), v6_ack));
  // SYNs and resets pass on any port.
  BOOST_TEST(passes(capture_filter({25}, {}), v4_syn));
  BOOST_TEST(passes(capture_filter({25}, {}), v6_rst));
}

BOOST_AUTO_TEST_CASE(only_the_service_addresses) {
  using egress25::reflector::witness::capture_filter;
  BOOST_TEST(passes(capture_filter({7025}, {"198.51.100.10"}), v4_syn));
  BOOST_TEST(passes(capture_filter({7025}, {"198.51.100.10"}), v4_synack));
  BOOST_TEST(!passes(capture_filter({7025}, {"198.51.100.99"}), v4_syn));
  BOOST_TEST(passes(capture_filter({7025}, {"198.51.100.10", "2001:db8:1::10"}), v6_ack));
  BOOST_TEST(!passes(capture_filter({7025}, {"198.51.100.10"}), v6_syn));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(icmp_descriptions)

BOOST_AUTO_TEST_CASE(words_an_operator_reads) {
  using egress25::icmp_description;
  BOOST_TEST(icmp_description(Family::ipv4, 3, 13) == "communication administratively prohibited");
  BOOST_TEST(icmp_description(Family::ipv4, 3, 9) == "network administratively prohibited");
  BOOST_TEST(icmp_description(Family::ipv4, 3, 10) == "host administratively prohibited");
  BOOST_TEST(icmp_description(Family::ipv6, 1, 1) == "communication administratively prohibited");
  BOOST_TEST(icmp_description(Family::ipv4, 11, 0) == "time exceeded");
  BOOST_TEST(icmp_description(Family::ipv6, 3, 0) == "time exceeded");
  BOOST_TEST(icmp_description(Family::ipv4, 3, 3) == "port unreachable");
  BOOST_TEST(icmp_description(Family::ipv6, 1, 4) == "port unreachable");
  BOOST_TEST(icmp_description(Family::ipv4, 3, 1) == "host unreachable");
  BOOST_TEST(icmp_description(Family::ipv6, 1, 3) == "address unreachable");
  BOOST_TEST(icmp_description(Family::ipv4, 3, 0) == "network unreachable");
  BOOST_TEST(icmp_description(Family::ipv6, 1, 0) == "no route to destination");
  BOOST_TEST(icmp_description(Family::ipv6, 1, 6) == "reject route to destination");
  BOOST_TEST(icmp_description(Family::ipv4, 3, 77) == "destination unreachable (code 77)");
  BOOST_TEST(icmp_description(Family::ipv4, 42, 1) == "ICMP type 42 code 1");
}

BOOST_AUTO_TEST_SUITE_END()
