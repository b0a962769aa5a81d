// The classifier as a table: one row per situation, evidence in, verdict and location out.
#include "classifier.hpp"

#include "attribution.hpp"
#include "end_reason.hpp"

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <optional>
#include <ostream>
#include <sstream>

namespace egress25 {
// For Boost.Test's messages.
inline std::ostream& operator<<(std::ostream& os, Verdict v) {
  return os << to_string(v);
}
inline std::ostream& operator<<(std::ostream& os, Location l) {
  return os << to_string(l);
}
inline std::ostream& operator<<(std::ostream& os, Segment s) {
  return os << to_string(s);
}
inline std::ostream& operator<<(std::ostream& os, const std::optional<Segment>& s) {
  return s ? os << to_string(*s) : os << "null";
}
}  // namespace egress25

namespace {

using namespace egress25;

constexpr const char* reflector_addr = "203.0.113.10";
constexpr const char* fingerprint =
    "aa11bb22cc33dd44ee55ff6600112233aa11bb22cc33dd44ee55ff6600112233";
constexpr const char* banner =
    "vps.example ESMTP egress25-reflector 0.1.0 diagnostic reflector; mail is never accepted";

Transcript dialogue(bool starttls_in_ehlo = true) {
  Transcript t;
  t.plain.to_client.append(std::string("220 ") + banner + "\r\n");
  t.plain.to_server.append("EHLO p1-abc.egress25.invalid\r\n");
  t.plain.to_client.append(starttls_in_ehlo
                               ? "250-vps.example\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
                               : "250-vps.example\r\n250-8BITMIME\r\n250 XXXXXXXA\r\n");
  t.plain.to_server.append("STARTTLS\r\n");
  t.plain.to_client.append("220 2.0.0 go ahead\r\n");
  t.tls.to_server.append("EHLO p1-abc.egress25.invalid\r\nQUIT\r\n");
  t.tls.to_client.append("250-vps.example\r\n250 8BITMIME\r\n221 2.0.0 bye\r\n");
  return t;
}

// The evidence of a probe that went well, end to end; rows change what they need.
ProbeEvidence open_probe() {
  ProbeEvidence e;
  auto& c = e.client;
  c.host = "vps.example";
  c.address = reflector_addr;
  c.port = 25;
  c.family = Family::ipv4;
  c.probe_tag = "p1-abc";
  c.connect = ConnectOutcome::connected;
  c.end = DialogueEnd::completed;
  c.banner_code = 220;
  c.banner = banner;
  c.starttls_advertised = true;
  c.starttls_reply_code = 220;
  c.tls_attempted = c.tls_completed = true;
  c.tls_version = "TLSv1.3";
  c.peer_cert_sha256 = fingerprint;
  c.transcript = dialogue();
  c.elapsed_ms = 120;

  auto& r = e.reflector;
  r.report_available = true;
  r.expected_fingerprint = fingerprint;
  r.banner_identity = "egress25-reflector";
  r.client_public_address = "198.51.100.7";
  r.port_advertised = true;
  ConnectionRecord rec;
  rec.probe_tag = "p1-abc";
  rec.peer_address = "198.51.100.7";
  rec.local_port = 25;
  rec.transcript = dialogue();
  rec.end_reason = "quit";
  r.tagged.push_back(rec);
  return e;
}

ProbeEvidence silent_probe() {
  auto e = open_probe();
  e.client.connect = ConnectOutcome::timed_out;
  e.client.end = DialogueEnd::none;
  e.client.banner_code.reset();
  e.client.banner.clear();
  e.client.tls_completed = e.client.tls_attempted = false;
  e.client.transcript = {};
  e.client.elapsed_ms = 3000;
  e.reflector.tagged.clear();
  return e;
}

ProbeEvidence refused_probe() {
  auto e = silent_probe();
  e.client.connect = ConnectOutcome::refused;
  e.client.elapsed_ms = 20;
  return e;
}

WitnessPortView witness(bool syn, bool synack, bool rst, bool done = false) {
  WitnessPortView w;
  w.syn_seen = syn;
  w.synack_sent = synack;
  w.rst_sent = rst;
  w.handshake_completed = done;
  w.syn_count = syn ? 1 : 0;
  return w;
}

TraceHop hop(int ttl, const char* addr, HopKind kind, int type = 0, int code = 0) {
  return TraceHop{ttl, addr, kind, type, code};
}

constexpr HopKind te = HopKind::time_exceeded;
constexpr HopKind quiet = HopKind::silent;

// The client's side of the path: its own address behind the home router at 192.0.2.1.
HostNetwork home() {
  return HostNetwork{{"192.0.2.10", "127.0.0.1"}, "192.0.2.1", ""};
}

// home router, two ISP routers (CGNAT, then public), the hosting provider's router in
// front of the reflector, then the reflector at hop 5.
std::vector<TraceHop> path_hops() {
  return {hop(1, "192.0.2.1", te), hop(2, "100.64.0.1", te), hop(3, "198.51.100.2", te),
          hop(4, "198.51.100.6", te), hop(5, reflector_addr, HopKind::reached)};
}

PortTrace reference_trace(std::vector<TraceHop> hops = path_hops()) {
  return PortTrace{7025, std::move(hops)};
}

// The probed port answered like the reference up to `last_ttl`, silent after it.
PathTrace trace_dying_after(int last_ttl, std::vector<TraceHop> hops = path_hops()) {
  PathTrace t{{25, {}}, reference_trace(hops)};
  for (const auto& h : t.reference.hops)
    t.probed.hops.push_back(h.ttl <= last_ttl ? h : hop(h.ttl, "", quiet));
  return t;
}

// The same path where some routers answer neither port (they send no time-exceeded).
std::vector<TraceHop> with_silent(std::vector<TraceHop> hops, std::vector<int> silent_ttls) {
  for (auto& h : hops)
    for (int s : silent_ttls)
      if (h.ttl == s) h = hop(s, "", quiet);
  return hops;
}

// The probed port's handshake completes at `ttl` (something answers in the reflector's
// place there) while the reference goes on to the reflector.
PathTrace trace_answered_at(int ttl) {
  PathTrace t{{25, {}}, reference_trace()};
  for (const auto& h : t.reference.hops) {
    if (h.ttl < ttl) t.probed.hops.push_back(h);
    if (h.ttl == ttl) t.probed.hops.push_back(hop(ttl, reflector_addr, HopKind::reached));
  }
  return t;
}

ProbeEvidence with_trace(ProbeEvidence e, PathTrace t) {
  e.trace = std::move(t);
  e.host = home();
  return e;
}

struct Row {
  const char* name;
  std::function<ProbeEvidence()> evidence;
  Verdict verdict;
  Location location;
  std::optional<Segment> segment;  // expected: null unless location is path
  const char* hop;                 // "TTL@ADDR" ("TTL@" for no address), "" for none
  const char* candidates;          // "TTL@ADDR,TTL@...", "" for none
  const char* reason_contains;     // never empty: a row says what the reasons show
};

std::ostream& operator<<(std::ostream& os, const Row& r) {
  return os << r.name;
}

constexpr auto none = std::nullopt;
constexpr std::optional<Segment> local = Segment::local_network;
constexpr std::optional<Segment> upstream = Segment::upstream;
constexpr std::optional<Segment> provider = Segment::reflector_network;
constexpr std::optional<Segment> unknown_segment = Segment::unknown;

ProbeEvidence relayed(std::vector<std::string> siblings) {
  auto e = open_probe();
  e.reflector.tagged[0].peer_address = "198.51.100.99";
  e.reflector.sibling_sources = std::move(siblings);
  return e;
}

ProbeEvidence reset_after_ehlo(const char* end_reason) {
  auto e = open_probe();
  e.client.end = DialogueEnd::reset;
  e.client.transcript = {};
  e.client.transcript.plain.to_client.append(std::string("220 ") + banner + "\r\n");
  e.client.transcript.plain.to_server.append("EHLO p1-abc.egress25.invalid\r\n");
  e.reflector.tagged.clear();
  e.reflector.untagged_from_client = 1;
  e.reflector.untagged_end_reasons = {end_reason};
  return e;
}

ProbeEvidence icmp_from(const char* sender) {
  auto e = silent_probe();
  e.client.connect = ConnectOutcome::icmp_error;
  e.client.icmp = IcmpReport{sender, 3, 13, "administratively prohibited"};
  return e;
}

ProbeEvidence witnessed_silence() {
  auto e = silent_probe();
  e.reflector.witness = witness(false, false, false);
  return e;
}

ProbeEvidence witnessed_forged_reset() {
  auto e = refused_probe();
  e.reflector.witness = witness(false, false, false);
  return e;
}

// A reset that first comes back at `ttl`, the routers before it answering.
PathTrace reset_at(int ttl) {
  PathTrace t = trace_dying_after(ttl - 1);
  t.probed.hops.resize(ttl - 1);
  t.probed.hops.push_back(hop(ttl, reflector_addr, HopKind::reset));
  return t;
}

const std::vector<Row> rows = {
    {"open end to end", open_probe, Verdict::open, Location::none, none, "", "", "same dialogue"},

    // Arriving from another address than the control connection.
    {"from another address, the other ports from ours: relayed",
     [] { return relayed({"198.51.100.7"}); }, Verdict::proxied, Location::path, unknown_segment,
     "", "", "other ports arrived from 198.51.100.7"},
    {"from another address, the handshake answered at hop 3: a relay there",
     [] { return with_trace(relayed({}), trace_answered_at(3)); }, Verdict::proxied, Location::path,
     upstream, "3@198.51.100.2", "", "answered in its place"},
    {"from another address, the other ports from ours, handshake at the reflector: translated",
     [] { return with_trace(relayed({"198.51.100.7"}), trace_answered_at(5)); }, Verdict::proxied,
     Location::path, unknown_segment, "", "", "translated on the way"},
    {"from another address like every probe, handshake at the reflector: a NAT pool",
     [] { return with_trace(relayed({"198.51.100.99"}), trace_answered_at(5)); }, Verdict::open,
     Location::none, none, "", "", "NAT pool"},
    {"from another address like every probe, no trace: cannot tell",
     [] { return relayed({"198.51.100.99"}); }, Verdict::inconclusive, Location::unknown, none, "",
     "", "look the same"},

    // Connected, but not to the reflector, or not unchanged.
    {"redirected to another relay, answered at hop 3",
     [] {
       auto e = open_probe();
       e.client.banner = "relay.isp.example ESMTP";
       e.reflector.tagged.clear();
       return with_trace(e, trace_answered_at(3));
     },
     Verdict::intercepted, Location::path, upstream, "3@198.51.100.2", "", "relay.isp.example"},
    {"redirected by the home router",
     [] {
       auto e = open_probe();
       e.client.banner = "relay.isp.example ESMTP";
       e.reflector.tagged.clear();
       return with_trace(e, trace_answered_at(1));
     },
     Verdict::intercepted, Location::path, local, "1@192.0.2.1", "", "hop 1"},
    {"redirected, no trace",
     [] {
       auto e = open_probe();
       e.client.banner = "relay.isp.example ESMTP";
       e.reflector.tagged.clear();
       return e;
     },
     Verdict::intercepted, Location::path, unknown_segment, "", "", "not the reflector"},
    {"accepted by something that never greets, reflector saw nothing",
     [] {
       auto e = open_probe();
       e.client.banner_code.reset();
       e.client.banner.clear();
       e.client.end = DialogueEnd::timed_out;
       e.reflector.tagged.clear();
       return e;
     },
     Verdict::intercepted, Location::path, unknown_segment, "", "", "saw no connection"},
    {"STARTTLS masked in the EHLO reply",
     [] {
       auto e = open_probe();
       e.client.transcript = dialogue(false);
       e.client.starttls_advertised = false;
       return e;
     },
     Verdict::tampered, Location::path, unknown_segment, "", "", "changed in flight"},
    {"EHLO name arrived changed: untagged connection from the client, dialogue completed",
     [] {
       auto e = open_probe();
       e.reflector.tagged.clear();
       e.reflector.untagged_from_client = 1;
       return e;
     },
     Verdict::tampered, Location::path, unknown_segment, "", "", "arrived changed"},
    {"reset after the EHLO, the reflector saw the peer reset",
     [] { return reset_after_ehlo("reset by peer"); }, Verdict::reset, Location::path,
     unknown_segment, "", "", "did not send that reset"},
    {"reset after the EHLO by a box answering at hop 3",
     [] { return with_trace(reset_after_ehlo("peer closed"), trace_answered_at(3)); },
     Verdict::reset, Location::path, upstream, "3@198.51.100.2", "", "once the EHLO was sent"},
    {"reset after the EHLO by a relay the reflector saw from its own address",
     [] {
       auto e = reset_after_ehlo("");
       e.reflector.untagged_from_client = 0;
       e.reflector.untagged_end_reasons.clear();
       return with_trace(e, trace_answered_at(3));
     },
     Verdict::reset, Location::path, upstream, "3@198.51.100.2", "", "relayed its greeting"},
    {"reset after the EHLO, but the reflector ended it itself",
     [] { return reset_after_ehlo("idle timeout"); }, Verdict::inconclusive, Location::unknown,
     none, "", "", "ended it itself"},
    {"the reflector's own 421: it refused us for its per-source cap",
     [] {
       auto e = open_probe();
       e.client.banner_code = 421;
       e.client.banner = "4.7.0 vps.example egress25-reflector too many connections from you";
       e.client.end = DialogueEnd::closed_early;
       e.reflector.tagged.clear();
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "refused the connection"},
    {"the reflector's report says it refused our address on 465",
     [] {
       auto e = open_probe();
       e.client.port = 465;
       e.client.banner_code.reset();
       e.client.banner.clear();
       e.client.tls_completed = false;
       e.client.end = DialogueEnd::tls_failed;
       e.reflector.tagged.clear();
       e.reflector.refusals = {"too many connections from 198.51.100.7 (16)"};
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "too many connections"},
    {"TLS terminated by a middlebox that relays to the reflector",
     [] {
       auto e = open_probe();
       e.client.peer_cert_sha256 = std::string(64, 'f');
       return with_trace(e, trace_answered_at(3));
     },
     Verdict::tls_intercepted, Location::path, upstream, "3@198.51.100.2", "",
     "not the reflector's"},
    {"TLS terminated by a middlebox, reflector never saw it",
     [] {
       auto e = open_probe();
       e.client.peer_cert_sha256 = std::string(64, 'f');
       e.reflector.tagged.clear();
       return e;
     },
     Verdict::tls_intercepted, Location::path, unknown_segment, "", "", "never saw"},
    {"reset in the middle of an unchanged dialogue",
     [] {
       auto e = open_probe();
       e.client.end = DialogueEnd::reset;
       return e;
     },
     Verdict::reset, Location::path, unknown_segment, "", "", "reset in the middle"},
    {"reset before any greeting, the reflector saw the connection without its EHLO",
     [] {
       auto e = reset_after_ehlo("reset by peer");
       e.client.banner_code.reset();
       e.client.banner.clear();
       e.client.transcript = {};
       return e;
     },
     Verdict::reset, Location::path, unknown_segment, "", "", "never this probe's EHLO"},
    {"the reflector saw the connection, but the dialogue stopped before EHLO",
     [] {
       auto e = open_probe();
       e.client.end = DialogueEnd::timed_out;
       e.client.end_detail = "no reply to EHLO within 3 s";
       e.reflector.tagged.clear();
       e.reflector.untagged_from_client = 1;
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "did not get as far as EHLO"},
    {"a copy of the reflector's greeting, the reflector saw no connection",
     [] {
       auto e = open_probe();
       e.reflector.tagged.clear();
       return with_trace(e, trace_answered_at(2));
     },
     Verdict::intercepted, Location::path, upstream, "2@100.64.0.1", "",
     "greeted with the reflector's name"},
    {"open without STARTTLS: the cleartext dialogue unchanged",
     [] {
       auto e = open_probe();
       e.client.tls_attempted = e.client.tls_completed = false;
       e.client.transcript = dialogue(false);
       e.reflector.tagged[0].transcript = dialogue(false);
       return e;
     },
     Verdict::open, Location::none, none, "", "", "STARTTLS was not completed"},
    {"no record, but the reflector dropped records over its cap",
     [] {
       auto e = open_probe();
       e.reflector.tagged.clear();
       e.reflector.connections_dropped = 3;
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "may be among them"},
    {"dialogue cut short, nothing changed",
     [] {
       auto e = open_probe();
       e.client.end = DialogueEnd::timed_out;
       e.client.end_detail = "no reply to STARTTLS within 3 s";
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "did not complete"},

    // Silence: the witness, then the traces, place it.
    {"silent, witness saw no SYN, no trace", witnessed_silence, Verdict::dropped, Location::unknown,
     none, "", "", "cannot be told apart"},
    {"silent, witness saw no SYN, dies after an ISP router",
     [] { return with_trace(witnessed_silence(), trace_dying_after(3)); }, Verdict::dropped,
     Location::path, unknown_segment, "", "3@198.51.100.2,4@198.51.100.6",
     "inbound filter drops it"},
    {"silent, witness saw no SYN, dies after the router in front of the reflector",
     [] { return with_trace(witnessed_silence(), trace_dying_after(4)); }, Verdict::dropped,
     Location::path, provider, "4@198.51.100.6", "", "in front of the reflector"},
    {"silent, no witness, dies after the home router",
     [] { return with_trace(silent_probe(), trace_dying_after(1)); }, Verdict::dropped,
     Location::path, unknown_segment, "", "1@192.0.2.1,2@100.64.0.1", "home router"},
    {"silent, no witness, dies after the router in front of the reflector",
     [] { return with_trace(silent_probe(), trace_dying_after(4)); }, Verdict::inconclusive,
     Location::unknown, none, "", "", "last router before the reflector"},
    {"silent, no record, but the reflector dropped records over its cap",
     [] {
       auto e = with_trace(witnessed_silence(), trace_dying_after(3));
       e.reflector.connections_dropped = 3;
       return e;
     },
     Verdict::dropped, Location::path, unknown_segment, "", "3@198.51.100.2,4@198.51.100.6",
     "dropped 3"},
    {"silent, no witness, no trace", silent_probe, Verdict::dropped, Location::unknown, none, "",
     "", "where it was dropped is unknown"},
    {"silent, not even TTL 1 answered, the gateway answered the reference: this computer or it",
     [] { return with_trace(silent_probe(), trace_dying_after(0)); }, Verdict::dropped,
     Location::unknown, none, "", "0@,1@192.0.2.1", "not even at TTL 1"},
    {"silent, witness saw no SYN, not even TTL 1 answered: this computer or the gateway",
     [] { return with_trace(witnessed_silence(), trace_dying_after(0)); }, Verdict::dropped,
     Location::unknown, none, "", "0@,1@192.0.2.1", "never saw the SYN"},
    {"silent, not even TTL 1 answered, this computer never sent the retransmission",
     [] {
       auto e = with_trace(silent_probe(), trace_dying_after(0));
       e.client.syn_left_host = false;
       return e;
     },
     Verdict::dropped, Location::client_host, none, "", "", "never left this computer"},
    {"silent, not even TTL 1 answered, the SYN left: the gateway's inbound filter",
     [] {
       auto e = with_trace(witnessed_silence(), trace_dying_after(0));
       e.client.syn_left_host = true;
       return e;
     },
     Verdict::dropped, Location::path, local, "1@192.0.2.1", "", "left this computer"},
    {"silent, this computer held a retransmission, but the port's trace reached the reflector",
     [] {
       auto e = with_trace(silent_probe(), trace_answered_at(5));
       e.client.syn_left_host = false;
       return e;
     },
     Verdict::dropped, Location::unknown, none, "", "", "where it was dropped is unknown"},
    {"silent, the SYN left, the reflector is the first hop: the link between",
     [] {
       auto e = witnessed_silence();
       e.client.syn_left_host = true;
       return with_trace(e, PathTrace{{25, {hop(1, "", quiet)}},
                                      {7025, {hop(1, reflector_addr, HopKind::reached)}}});
     },
     Verdict::dropped, Location::path, unknown_segment, "", "", "left this computer"},
    {"silent, no trace, no witness, this computer never sent the retransmission",
     [] {
       auto e = silent_probe();
       e.client.syn_left_host = false;
       return e;
     },
     Verdict::dropped, Location::client_host, none, "", "", "never left this computer"},
    {"silent, no trace, witness saw no SYN, the SYN left this computer: on the path",
     [] {
       auto e = witnessed_silence();
       e.client.syn_left_host = true;
       return e;
     },
     Verdict::dropped, Location::path, unknown_segment, "", "", "left this computer"},
    {"silent, no trace, no witness, the SYN left this computer: still unknown where",
     [] {
       auto e = silent_probe();
       e.client.syn_left_host = true;
       return e;
     },
     Verdict::dropped, Location::unknown, none, "", "", "left this computer"},
    {"silent at a router that answers no traceroute, between ISP routers",
     [] {
       return with_trace(witnessed_silence(), trace_dying_after(2, with_silent(path_hops(), {3})));
     },
     Verdict::dropped, Location::path, unknown_segment, "", "2@100.64.0.1,3@,4@198.51.100.6",
     "answered neither port"},
    {"silent at the first ISP router, which answers no traceroute",
     [] {
       return with_trace(witnessed_silence(), trace_dying_after(1, with_silent(path_hops(), {2})));
     },
     Verdict::dropped, Location::path, unknown_segment, "", "1@192.0.2.1,2@,3@198.51.100.2",
     "answered neither port"},
    {"silent at a router that answers no traceroute, between two home routers",
     [] {
       auto hops = path_hops();
       hops.insert(hops.begin() + 1, hop(2, "", quiet));
       hops.insert(hops.begin() + 2, hop(3, "10.0.0.1", te));
       for (std::size_t i = 3; i < hops.size(); ++i) hops[i].ttl += 2;
       return with_trace(witnessed_silence(), trace_dying_after(1, hops));
     },
     Verdict::dropped, Location::path, local, "", "1@192.0.2.1,2@,3@10.0.0.1",
     "answered neither port"},
    {"silent, no witness, but the port's trace reached the reflector: nothing to place",
     [] { return with_trace(silent_probe(), trace_answered_at(5)); }, Verdict::dropped,
     Location::unknown, none, "", "", "where it was dropped is unknown: no packet witness"},
    {"silent at a gateway that answers no traceroute: this computer or the gateway",
     [] {
       return with_trace(witnessed_silence(), trace_dying_after(0, with_silent(path_hops(), {1})));
     },
     Verdict::dropped, Location::unknown, none, "", "0@,1@,2@100.64.0.1", "not even at TTL 1"},
    {"silent after a home router with a public WAN",
     [] {
       auto hops = path_hops();
       hops[1] = hop(2, "198.51.100.129", te);
       return with_trace(witnessed_silence(), trace_dying_after(2, hops));
     },
     Verdict::dropped, Location::path, upstream, "", "2@198.51.100.129,3@198.51.100.2",
     "up to hop 2"},
    {"silent after a second private router at home (double NAT)",
     [] {
       auto hops = path_hops();
       hops.insert(hops.begin() + 1, hop(2, "10.0.0.1", te));
       for (std::size_t i = 2; i < hops.size(); ++i) ++hops[i].ttl;
       return with_trace(witnessed_silence(), trace_dying_after(2, hops));
     },
     Verdict::dropped, Location::path, unknown_segment, "", "2@10.0.0.1,3@100.64.0.1",
     "up to hop 2"},
    {"silent after a private address inside the ISP",
     [] {
       auto hops = path_hops();
       hops[2] = hop(3, "10.1.1.1", te);
       return with_trace(witnessed_silence(), trace_dying_after(3, hops));
     },
     Verdict::dropped, Location::path, unknown_segment, "", "3@10.1.1.1,4@198.51.100.6",
     "up to hop 3"},
    {"silent, SYN seen, host never answered",
     [] {
       auto e = silent_probe();
       e.reflector.witness = witness(true, false, false);
       return e;
     },
     Verdict::firewalled_at_reflector, Location::reflector_host, none, "", "", "own firewall"},
    {"silent, SYN-ACK sent, never acknowledged",
     [] {
       auto e = silent_probe();
       e.reflector.witness = witness(true, true, false);
       return e;
     },
     Verdict::reply_dropped, Location::path, unknown_segment, "", "", "lost on its way back"},
    {"silent, host reset on a listening port lost on the way back",
     [] {
       auto e = silent_probe();
       e.reflector.witness = witness(true, false, true);
       return e;
     },
     Verdict::firewalled_at_reflector, Location::reflector_host, none, "", "", "never came back"},
    {"silent, but witness saw the handshake complete",
     [] {
       auto e = silent_probe();
       e.reflector.witness = witness(true, true, false, true);
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "answered differently"},

    // Resets.
    {"refused, host sent the reset on a listening port",
     [] {
       auto e = refused_probe();
       e.reflector.witness = witness(true, false, true);
       return e;
     },
     Verdict::firewalled_at_reflector, Location::reflector_host, none, "", "", "own firewall"},
    {"refused, host sent the reset, nothing listens",
     [] {
       auto e = refused_probe();
       e.client.port = 2525;
       e.reflector.port_advertised = false;
       e.reflector.witness = witness(true, false, true);
       return e;
     },
     Verdict::not_listening, Location::reflector_host, none, "", "", "does not listen"},
    {"refused, SYN seen but host sent no reset",
     [] {
       auto e = refused_probe();
       e.reflector.witness = witness(true, false, false);
       return e;
     },
     Verdict::reset, Location::path, unknown_segment, "", "", "send no reset"},
    {"refused, witness never saw the SYN, no trace", witnessed_forged_reset, Verdict::reset,
     Location::unknown, none, "", "", "cannot be told apart"},
    {"refused, witness never saw the SYN, reset first at TTL 4",
     [] { return with_trace(witnessed_forged_reset(), reset_at(4)); }, Verdict::reset,
     Location::path, unknown_segment, "", "3@198.51.100.2,4@198.51.100.6", "TTL of 4"},
    {"refused, witness never saw the SYN, reset already at TTL 1: this computer or the gateway",
     [] { return with_trace(witnessed_forged_reset(), reset_at(1)); }, Verdict::reset,
     Location::unknown, none, "", "0@,1@192.0.2.1", "TTL of 1"},
    {"refused, no witness, reset comes back before the reflector's distance",
     [] { return with_trace(refused_probe(), reset_at(3)); }, Verdict::reset, Location::path,
     upstream, "", "2@100.64.0.1,3@198.51.100.2", "inbound filter"},
    {"refused, no witness, reset first at the reflector's distance",
     [] { return with_trace(refused_probe(), reset_at(5)); }, Verdict::inconclusive,
     Location::unknown, none, "", "", "router just before it"},
    {"refused, no witness, the reflector is the first hop and resets",
     [] {
       auto e = refused_probe();
       e.client.port = 2525;
       e.reflector.port_advertised = false;
       return with_trace(e, PathTrace{{2525, {hop(1, reflector_addr, HopKind::reset)}},
                                      {7025, {hop(1, reflector_addr, HopKind::reached)}}});
     },
     Verdict::not_listening, Location::reflector_host, none, "", "", "first hop"},
    {"refused, no witness, the port's trace met no reset",
     [] { return with_trace(refused_probe(), trace_dying_after(2)); }, Verdict::inconclusive,
     Location::unknown, none, "", "", "nothing shows whether"},
    {"refused, witness saw the SYN and no reset, the reflector is the first hop",
     [] {
       auto e = refused_probe();
       e.reflector.witness = witness(true, false, false);
       return with_trace(e, PathTrace{{25, {hop(1, reflector_addr, HopKind::reset)}},
                                      {7025, {hop(1, reflector_addr, HopKind::reached)}}});
     },
     Verdict::reset, Location::path, unknown_segment, "", "", "send no reset"},
    {"refused, no witness, no trace", refused_probe, Verdict::inconclusive, Location::unknown, none,
     "", "", "nothing shows"},

    // ICMP: the sender is named and placed.
    {"ICMP admin-prohibited from an ISP router on the trace",
     [] { return with_trace(icmp_from("100.64.0.1"), trace_dying_after(2)); },
     Verdict::icmp_unreachable, Location::path, upstream, "2@100.64.0.1", "", "100.64.0.1"},
    {"ICMP admin-prohibited from the home router, no trace",
     [] {
       auto e = icmp_from("192.0.2.1");
       e.host = home();
       return e;
     },
     Verdict::icmp_unreachable, Location::path, local, "1@192.0.2.1", "", "default gateway"},
    {"ICMP from this computer's own address",
     [] {
       auto e = icmp_from("192.0.2.10");
       e.host = home();
       return e;
     },
     Verdict::icmp_unreachable, Location::client_host, none, "", "", "this computer"},
    {"ICMP from a shared address not on any trace", [] { return icmp_from("100.64.9.9"); },
     Verdict::icmp_unreachable, Location::path, upstream, "", "", "hop is unknown"},
    {"ICMP from a public address not on any trace", [] { return icmp_from("198.51.100.77"); },
     Verdict::icmp_unreachable, Location::path, unknown_segment, "", "", "hop is unknown"},
    {"ICMP unreachable from the reflector host", [] { return icmp_from(reflector_addr); },
     Verdict::icmp_unreachable, Location::reflector_host, none, "", "", "reflector host itself"},

    {"ICMP port unreachable from the destination itself",
     [] {
       auto e = icmp_from("192.0.2.25");
       e.target = Target::destination;
       e.client.address = "192.0.2.25";
       e.reference_verdict = Verdict::open;
       return e;
     },
     Verdict::icmp_unreachable, Location::destination, none, "", "", "destination host itself"},
    {"ICMP without a sender address", [] { return icmp_from(""); }, Verdict::icmp_unreachable,
     Location::unknown, none, "", "", "an unnamed sender"},

    // Missing evidence.
    {"no report from the reflector",
     [] {
       auto e = open_probe();
       e.reflector.report_available = false;
       e.reflector.report_error = "control port unreachable";
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "control port unreachable"},
    {"no report from the reflector, the SYN unanswered",
     [] {
       auto e = silent_probe();
       e.reflector.report_available = false;
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "no answer to the SYN within 3.0 s"},
    {"no report from the reflector, the SYN reset",
     [] {
       auto e = refused_probe();
       e.reflector.report_available = false;
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "no control connection"},
    {"this host could not send",
     [] {
       auto e = silent_probe();
       e.client.connect = ConnectOutcome::local_error;
       e.client.connect_error = "no buffer space available";
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "no buffer space"},

    {"not sent, nothing said why",
     [] {
       auto e = silent_probe();
       e.client.connect = ConnectOutcome::not_attempted;
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "the probe was not sent"},
    {"an outcome outside the enumeration",
     [] {
       auto e = open_probe();
       e.client.connect = static_cast<ConnectOutcome>(7);  // within the enumeration's range
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "unexpected probe outcome"},

    // A real destination, judged against the reflector's port 25.
    {"destination silent while the reflector's 25 is open",
     [] {
       auto e = silent_probe();
       e.target = Target::destination;
       e.reference_verdict = Verdict::open;
       return e;
     },
     Verdict::dropped, Location::destination, none, "", "", "lets this port through"},
    {"destination silent while the reflector's 25 is dropped too",
     [] {
       auto e = silent_probe();
       e.target = Target::destination;
       e.reference_verdict = Verdict::dropped;
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "cannot be blamed"},
    {"destination refused while the reflector's 25 is open",
     [] {
       auto e = refused_probe();
       e.target = Target::destination;
       e.reference_verdict = Verdict::open;
       return e;
     },
     Verdict::not_listening, Location::destination, none, "", "", "refused with a reset"},
    {"destination refused, no reflector probe of 25 to compare with",
     [] {
       auto e = refused_probe();
       e.target = Target::destination;
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "no reflector probe of port 25"},
    {"destination greets with 220",
     [] {
       auto e = open_probe();
       e.target = Target::destination;
       e.client.banner = "mx.example.org ESMTP";
       e.reflector = {};
       return e;
     },
     Verdict::open, Location::none, none, "", "", "greeted with '220 mx.example.org ESMTP'"},
    {"destination greets with 554",
     [] {
       auto e = open_probe();
       e.target = Target::destination;
       e.client.banner_code = 554;
       e.client.banner = "mx.example.org no service for you";
       e.reflector = {};
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "'554 mx.example.org no service"},
    {"destination accepts but never greets",
     [] {
       auto e = open_probe();
       e.target = Target::destination;
       e.client.banner_code.reset();
       e.client.banner.clear();
       e.client.end = DialogueEnd::timed_out;
       e.client.end_detail = "no greeting within 3 s";
       e.reflector = {};
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "", "no greeting within 3 s"},
    {"destination with no address",
     [] {
       auto e = silent_probe();
       e.target = Target::destination;
       e.client.connect = ConnectOutcome::not_attempted;
       e.client.connect_error = "mx.example.org has no address";
       e.reflector = {};
       return e;
     },
     Verdict::inconclusive, Location::unknown, none, "", "",
     "could not be sent: mx.example.org has no address"},
};

bool any_reason_contains(const Classification& c, const std::string& needle) {
  for (const auto& r : c.reasons)
    if (r.find(needle) != std::string::npos) return true;
  return false;
}

std::string hop_spec(const BlockingHop& h) {
  return std::to_string(h.ttl) + "@" + h.address;
}

std::string candidates_spec(const std::vector<BlockingHop>& hops) {
  std::string out;
  for (const auto& h : hops) out += (out.empty() ? "" : ",") + hop_spec(h);
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(classifier)

BOOST_DATA_TEST_CASE(decision_table, boost::unit_test::data::make(rows), row) {
  BOOST_TEST_REQUIRE(std::string(row.reason_contains).size() > 0);
  const Classification c = classify(row.evidence());
  BOOST_TEST(c.verdict == row.verdict);
  BOOST_TEST(c.location == row.location);
  BOOST_TEST(c.segment == row.segment);
  BOOST_TEST(!c.reasons.empty());
  BOOST_TEST(any_reason_contains(c, row.reason_contains),
             "no reason mentions '" << row.reason_contains << "'");
  BOOST_TEST((c.blocking_hop ? hop_spec(*c.blocking_hop) : std::string()) == row.hop);
  BOOST_TEST(candidates_spec(c.blocking_candidates) == row.candidates);
  // A single hop and a list of candidates never come together, and a hop is named only
  // on the path: elsewhere the location says it all.
  BOOST_TEST(!(c.blocking_hop && !c.blocking_candidates.empty()));
  if (c.location != Location::path) BOOST_TEST(!c.blocking_hop);
  // A segment only on the path, always there.
  BOOST_TEST(c.segment.has_value() == (c.location == Location::path));
  // Only the reflector's own refusals are marked as such, and never as a block.
  const bool refusal_row = std::string(row.name).starts_with("the reflector's");
  BOOST_TEST(c.refused_by_reflector == refusal_row);
}

BOOST_AUTO_TEST_CASE(every_verdict_and_location_has_a_row) {
  for (auto v : all_verdicts) {
    bool found = false;
    for (const auto& row : rows) found = found || row.verdict == v;
    BOOST_TEST(found, "no row decides " << to_string(v));
  }
  for (auto l : all_locations) {
    bool found = false;
    for (const auto& row : rows) found = found || row.location == l;
    BOOST_TEST(found, "no row places a probe at " << to_string(l));
  }
  for (auto s : all_segments) {
    bool found = false;
    for (const auto& row : rows) found = found || row.segment == s;
    BOOST_TEST(found, "no row names the segment " << to_string(s));
  }
}

// A reason names only what happened: no EHLO when none was sent, no relay without one.
BOOST_AUTO_TEST_CASE(reasons_name_only_what_happened) {
  auto e = reset_after_ehlo("reset by peer");
  e.client.transcript.plain.to_server = {};  // reset right after the greeting
  auto c = classify(e);
  BOOST_TEST(c.verdict == Verdict::reset);
  BOOST_TEST(any_reason_contains(c, "was reset after the reflector's greeting"));
  BOOST_TEST(!any_reason_contains(c, "EHLO was sent"));
  c = classify(reset_after_ehlo("reset by peer"));
  BOOST_TEST(any_reason_contains(c, "after the reflector's greeting, once the EHLO was sent"));

  c = classify(relayed({"198.51.100.7"}));
  BOOST_TEST(!any_reason_contains(c, "translated on the way"));
  c = classify(open_probe());
  BOOST_TEST(!any_reason_contains(c, "STARTTLS was not completed"));
  BOOST_TEST(any_reason_contains(c, "TLS TLSv1.3 with the reflector's own certificate"));
}

// A reset after the reflector itself ended the connection (any of the endings it decides,
// in the words it writes them) is not evidence against the path; the peer's endings are.
BOOST_AUTO_TEST_CASE(a_reset_after_the_reflectors_own_ending_is_not_the_paths) {
  for (const auto reason : end_reason::decided_by_reflector_list) {
    const auto c = classify(reset_after_ehlo(std::string(reason).c_str()));
    BOOST_TEST_INFO("ending: " << reason);
    BOOST_TEST(c.verdict == Verdict::inconclusive);
    BOOST_TEST(any_reason_contains(c, "ended it itself"));
  }
  for (const char* peer : {"peer closed", "reset by peer", "quit", "Broken pipe"}) {
    BOOST_TEST_INFO("ending: " << peer);
    BOOST_TEST(classify(reset_after_ehlo(peer)).verdict == Verdict::reset);
  }
}

BOOST_AUTO_TEST_CASE(the_reflectors_distance_is_where_the_reference_is_answered) {
  BOOST_TEST((destination_distance(reference_trace()) == std::optional<int>(5)));
  BOOST_TEST(!destination_distance(PortTrace{7025, {hop(1, "192.0.2.1", te)}}).has_value());
}

BOOST_AUTO_TEST_CASE(hop_roles_name_the_party) {
  PathMap map(trace_dying_after(5), home());
  BOOST_TEST(map.hop(1).role == "home router");
  BOOST_TEST(map.hop(2).role == "ISP (shared address space)");
  BOOST_TEST(map.hop(3).role == "ISP or transit network");
  BOOST_TEST(map.hop(4).role == "in front of the reflector");
  PathMap silent(trace_dying_after(1, with_silent(path_hops(), {3})), home());
  BOOST_TEST(silent.hop(3).address.empty());
  BOOST_TEST(silent.hop(3).role.find("does not answer traceroute") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(address_classes) {
  const std::vector<std::pair<const char*, AddressClass>> table = {
      {"10.1.2.3", AddressClass::private_use},
      {"172.31.0.1", AddressClass::private_use},
      {"172.32.0.1", AddressClass::public_use},
      {"192.168.1.1", AddressClass::private_use},
      {"100.64.0.1", AddressClass::shared},
      {"100.127.255.254", AddressClass::shared},
      {"100.128.0.1", AddressClass::public_use},
      {"169.254.1.1", AddressClass::link_local},
      {"127.0.0.1", AddressClass::loopback},
      {"192.0.2.1", AddressClass::public_use},
      {"fd00::1", AddressClass::private_use},
      {"fe80::1", AddressClass::link_local},
      {"::1", AddressClass::loopback},
      {"2001:db8::1", AddressClass::public_use},
      {"::ffff:10.0.0.1", AddressClass::private_use},
      {"not an address", AddressClass::invalid},
  };
  for (const auto& [address, expected] : table)
    BOOST_TEST((address_class(address) == expected), address);
}

BOOST_AUTO_TEST_CASE(verdict_words_round_trip) {
  for (auto v : all_verdicts) {
    BOOST_TEST((verdict_from_string(to_string(v)) == std::optional<Verdict>(v)));
    BOOST_TEST(!describe(v).empty());
  }
  BOOST_TEST(!verdict_from_string("blocked").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// The first router is a home router only when a NAT of this host's own stands in front
// of it: a host that holds the public address the reflector saw (a server, a VPS) or a
// shared one (its ISP's NAT alone) has its provider's gateway at hop 1. Over IPv6 a home
// computer holds a global address too: the home router stays.
BOOST_AUTO_TEST_CASE(the_first_router_is_a_home_router_only_behind_a_home_nat) {
  auto e = with_trace(witnessed_silence(), trace_dying_after(0));
  e.client.syn_left_host = true;
  auto c = classify(e);
  BOOST_TEST_REQUIRE(c.blocking_hop.has_value());
  BOOST_TEST(c.blocking_hop->role == "home router");  // 192.0.2.10 behind NAT: 198.51.100.7

  e.host.local_addresses = {"198.51.100.7", "127.0.0.1"};  // the address the reflector saw
  c = classify(e);
  BOOST_TEST_REQUIRE(c.blocking_hop.has_value());
  BOOST_TEST(c.blocking_hop->role == std::string(gateway_not_home_router));
  BOOST_TEST((c.segment == Segment::local_network));

  e.host.local_addresses = {"100.64.3.7"};  // a line behind its ISP's NAT alone
  c = classify(e);
  BOOST_TEST(c.blocking_hop->role == std::string(gateway_not_home_router));

  PathTrace v6{{25, {hop(1, "", quiet)}},
               {7025, {hop(1, "2001:db8::1", te), hop(2, "2001:db8:ff::10", HopKind::reached)}}};
  PathMap map(v6, HostNetwork{{"2001:db8::10"}, "fe80::1", "2001:db8::10"});
  BOOST_TEST(map.hop(1).role == "home router");
}
