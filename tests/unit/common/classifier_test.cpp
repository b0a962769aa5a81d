// The classifier as a table: one row per situation, evidence in, verdict and location out.
#include "classifier.hpp"

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <functional>
#include <ostream>

namespace egress25 {
// For Boost.Test's messages.
inline std::ostream& operator<<(std::ostream& os, Verdict v) {
  return os << to_string(v);
}
inline std::ostream& operator<<(std::ostream& os, Location l) {
  return os << to_string(l);
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

// home router, two ISP routers, then the reflector at hop 4.
PortTrace reference_trace() {
  return PortTrace{
      7025,
      {hop(1, "192.0.2.1", HopKind::time_exceeded), hop(2, "100.64.0.1", HopKind::time_exceeded),
       hop(3, "198.51.100.2", HopKind::time_exceeded), hop(4, reflector_addr, HopKind::reached)}};
}

PathTrace trace_dying_after(int last_ttl) {
  PathTrace t{{25, {}}, reference_trace()};
  for (const auto& h : t.reference.hops) {
    if (h.ttl <= last_ttl)
      t.probed.hops.push_back(h);
    else
      t.probed.hops.push_back(hop(h.ttl, "", HopKind::silent));
  }
  return t;
}

struct Row {
  const char* name;
  std::function<ProbeEvidence()> evidence;
  Verdict verdict;
  Location location;
  std::optional<int> blocking_ttl = std::nullopt;
  const char* reason_contains = "";
};

std::ostream& operator<<(std::ostream& os, const Row& r) {
  return os << r.name;
}

const std::vector<Row> rows = {
    {"open end to end", open_probe, Verdict::open, Location::none, {}, "same dialogue"},
    {"open, arriving from another address of a NAT pool",
     [] {
       auto e = open_probe();
       e.reflector.tagged[0].peer_address = "198.51.100.8";
       return e;
     },
     Verdict::open,
     Location::none,
     {},
     "NAT pool"},

    // Connected, but not to the reflector, or not unchanged.
    {"redirected to another relay",
     [] {
       auto e = open_probe();
       e.client.banner = "relay.isp.example ESMTP";
       e.reflector.tagged.clear();
       return e;
     },
     Verdict::intercepted,
     Location::path,
     {},
     "relay.isp.example"},
    {"accepted by something that never greets, reflector saw nothing",
     [] {
       auto e = open_probe();
       e.client.banner_code.reset();
       e.client.banner.clear();
       e.client.end = DialogueEnd::timed_out;
       e.reflector.tagged.clear();
       return e;
     },
     Verdict::intercepted,
     Location::path,
     {},
     "answered in its place"},
    {"STARTTLS masked in the EHLO reply",
     [] {
       auto e = open_probe();
       e.client.transcript = dialogue(false);
       e.client.starttls_advertised = false;
       return e;
     },
     Verdict::tampered,
     Location::path,
     {},
     "changed in flight"},
    {"EHLO name rewritten: untagged connection from the client",
     [] {
       auto e = open_probe();
       e.reflector.tagged.clear();
       e.reflector.untagged_from_client = 1;
       return e;
     },
     Verdict::tampered,
     Location::path,
     {},
     "rewritten"},
    {"TLS terminated by a middlebox that relays to the reflector",
     [] {
       auto e = open_probe();
       e.client.peer_cert_sha256 = std::string(64, 'f');
       return e;
     },
     Verdict::tls_intercepted,
     Location::path,
     {},
     "not the reflector's"},
    {"TLS terminated by a middlebox, reflector never saw it",
     [] {
       auto e = open_probe();
       e.client.peer_cert_sha256 = std::string(64, 'f');
       e.reflector.tagged.clear();
       return e;
     },
     Verdict::tls_intercepted,
     Location::path,
     {},
     "never saw"},
    {"reset in the middle of an unchanged dialogue",
     [] {
       auto e = open_probe();
       e.client.end = DialogueEnd::reset;
       return e;
     },
     Verdict::reset,
     Location::path,
     {},
     "reset in the middle"},
    {"no record, but the reflector dropped records over its cap",
     [] {
       auto e = open_probe();
       e.reflector.tagged.clear();
       e.reflector.connections_dropped = 3;
       return e;
     },
     Verdict::inconclusive,
     Location::unknown,
     {},
     "may be among them"},
    {"dialogue cut short, nothing changed",
     [] {
       auto e = open_probe();
       e.client.end = DialogueEnd::timed_out;
       e.client.end_detail = "no reply to STARTTLS within 3 s";
       return e;
     },
     Verdict::inconclusive,
     Location::unknown,
     {},
     "did not complete"},

    // Silence.
    {"silent, witness saw no SYN",
     [] {
       auto e = silent_probe();
       e.reflector.witness = witness(false, false, false);
       return e;
     },
     Verdict::dropped,
     Location::path,
     {},
     "never saw the SYN"},
    {"silent, witness saw no SYN, trace dies after hop 2",
     [] {
       auto e = silent_probe();
       e.reflector.witness = witness(false, false, false);
       e.trace = trace_dying_after(2);
       return e;
     },
     Verdict::dropped, Location::path, 2, "dies after hop 2 (100.64.0.1)"},
    {"silent, no witness, trace dies early",
     [] {
       auto e = silent_probe();
       e.trace = trace_dying_after(1);
       return e;
     },
     Verdict::dropped, Location::path, 1, "dies after hop 1"},
    {"silent, no witness, trace reaches the last router",
     [] {
       auto e = silent_probe();
       e.trace = trace_dying_after(3);
       return e;
     },
     Verdict::inconclusive,
     Location::unknown,
     {},
     "last router before the reflector"},
    {"silent, no witness, no trace",
     silent_probe,
     Verdict::dropped,
     Location::unknown,
     {},
     "where it was dropped is unknown"},
    {"silent, SYN seen, host never answered",
     [] {
       auto e = silent_probe();
       e.reflector.witness = witness(true, false, false);
       return e;
     },
     Verdict::firewalled_at_reflector,
     Location::reflector_host,
     {},
     "own firewall"},
    {"silent, SYN-ACK sent, never acknowledged",
     [] {
       auto e = silent_probe();
       e.reflector.witness = witness(true, true, false);
       return e;
     },
     Verdict::reply_dropped,
     Location::path,
     {},
     "lost on its way back"},
    {"silent, host reset on a listening port lost on the way back",
     [] {
       auto e = silent_probe();
       e.reflector.witness = witness(true, false, true);
       return e;
     },
     Verdict::firewalled_at_reflector,
     Location::reflector_host,
     {},
     "never came back"},
    {"silent, but witness saw the handshake complete",
     [] {
       auto e = silent_probe();
       e.reflector.witness = witness(true, true, false, true);
       return e;
     },
     Verdict::inconclusive,
     Location::unknown,
     {},
     "answered differently"},

    // Resets.
    {"refused, host sent the reset on a listening port",
     [] {
       auto e = refused_probe();
       e.reflector.witness = witness(true, false, true);
       return e;
     },
     Verdict::firewalled_at_reflector,
     Location::reflector_host,
     {},
     "own firewall"},
    {"refused, host sent the reset, nothing listens",
     [] {
       auto e = refused_probe();
       e.client.port = 2525;
       e.reflector.port_advertised = false;
       e.reflector.witness = witness(true, false, true);
       return e;
     },
     Verdict::not_listening,
     Location::reflector_host,
     {},
     "does not listen"},
    {"refused, SYN seen but host sent no reset",
     [] {
       auto e = refused_probe();
       e.reflector.witness = witness(true, false, false);
       return e;
     },
     Verdict::reset,
     Location::path,
     {},
     "forged"},
    {"refused, witness never saw the SYN",
     [] {
       auto e = refused_probe();
       e.reflector.witness = witness(false, false, false);
       return e;
     },
     Verdict::reset,
     Location::path,
     {},
     "never saw the SYN"},
    {"refused, no witness, reset comes back before the reflector's distance",
     [] {
       auto e = refused_probe();
       PathTrace t = trace_dying_after(2);
       t.probed.hops[2] = hop(3, reflector_addr, HopKind::reset);
       t.probed.hops.pop_back();
       e.trace = t;
       return e;
     },
     Verdict::reset, Location::path, 2, "TTL of 3"},
    {"refused, no witness, reset first at the reflector's distance",
     [] {
       auto e = refused_probe();
       PathTrace t = trace_dying_after(3);
       t.probed.hops[3] = hop(4, reflector_addr, HopKind::reset);
       e.trace = t;
       return e;
     },
     Verdict::inconclusive,
     Location::unknown,
     {},
     "router just before it"},
    {"refused, no witness, the reflector is the first hop and resets",
     [] {
       auto e = refused_probe();
       e.client.port = 2525;
       e.reflector.port_advertised = false;
       e.trace = PathTrace{{2525, {hop(1, reflector_addr, HopKind::reset)}},
                           {7025, {hop(1, reflector_addr, HopKind::reached)}}};
       return e;
     },
     Verdict::not_listening,
     Location::reflector_host,
     {},
     "first hop"},
    {"refused, no witness, no trace",
     refused_probe,
     Verdict::inconclusive,
     Location::unknown,
     {},
     "nothing shows"},

    // ICMP.
    {"ICMP admin-prohibited from a transit router",
     [] {
       auto e = silent_probe();
       e.client.connect = ConnectOutcome::icmp_error;
       e.client.icmp = IcmpReport{"100.64.0.1", 3, 13, "administratively prohibited"};
       e.trace = trace_dying_after(2);
       return e;
     },
     Verdict::icmp_unreachable, Location::path, 2, "100.64.0.1"},
    {"ICMP unreachable from the reflector host",
     [] {
       auto e = silent_probe();
       e.client.connect = ConnectOutcome::icmp_error;
       e.client.icmp = IcmpReport{reflector_addr, 3, 13, "administratively prohibited"};
       return e;
     },
     Verdict::icmp_unreachable,
     Location::reflector_host,
     {},
     "reflector host itself"},

    // Missing evidence.
    {"no report from the reflector",
     [] {
       auto e = open_probe();
       e.reflector.report_available = false;
       e.reflector.report_error = "control port unreachable";
       return e;
     },
     Verdict::inconclusive,
     Location::unknown,
     {},
     "control port unreachable"},
    {"no IPv6 on this host",
     [] {
       auto e = silent_probe();
       e.client.family = Family::ipv6;
       e.client.connect = ConnectOutcome::local_error;
       e.client.connect_error = "network is unreachable";
       return e;
     },
     Verdict::inconclusive,
     Location::unknown,
     {},
     "network is unreachable"},

    // A real destination, judged against the reflector's port 25.
    {"destination silent while the reflector's 25 is open",
     [] {
       auto e = silent_probe();
       e.target = Target::destination;
       e.reference_verdict = Verdict::open;
       return e;
     },
     Verdict::dropped,
     Location::destination,
     {},
     "lets this port through"},
    {"destination silent while the reflector's 25 is dropped too",
     [] {
       auto e = silent_probe();
       e.target = Target::destination;
       e.reference_verdict = Verdict::dropped;
       return e;
     },
     Verdict::inconclusive,
     Location::unknown,
     {},
     "cannot be blamed"},
};

bool any_reason_contains(const Classification& c, const std::string& needle) {
  for (const auto& r : c.reasons)
    if (r.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(classifier)

BOOST_DATA_TEST_CASE(decision_table, boost::unit_test::data::make(rows), row) {
  const Classification c = classify(row.evidence());
  BOOST_TEST(c.verdict == row.verdict);
  BOOST_TEST(c.location == row.location);
  BOOST_TEST(!c.reasons.empty());
  BOOST_TEST(any_reason_contains(c, row.reason_contains),
             "no reason mentions '" << row.reason_contains << "'");
  if (row.blocking_ttl) {
    BOOST_TEST_REQUIRE(c.blocking_hop.has_value());
    BOOST_TEST(c.blocking_hop->ttl == *row.blocking_ttl);
  }
}

BOOST_AUTO_TEST_CASE(every_verdict_has_a_row) {
  for (auto v :
       {Verdict::open, Verdict::dropped, Verdict::reset, Verdict::icmp_unreachable,
        Verdict::intercepted, Verdict::tampered, Verdict::tls_intercepted, Verdict::reply_dropped,
        Verdict::firewalled_at_reflector, Verdict::not_listening, Verdict::inconclusive}) {
    bool found = false;
    for (const auto& row : rows) found = found || row.verdict == v;
    BOOST_TEST(found, "no row decides " << to_string(v));
  }
}

BOOST_AUTO_TEST_CASE(blocking_hop_is_where_the_probed_port_stops) {
  auto hop1 = find_blocking_hop(trace_dying_after(1));
  BOOST_TEST_REQUIRE(hop1.has_value());
  BOOST_TEST(hop1->ttl == 1);
  BOOST_TEST(hop1->address == "192.0.2.1");
  // The probed port going as far as the reference: no blocking hop.
  BOOST_TEST(!find_blocking_hop(PathTrace{reference_trace(), reference_trace()}).has_value());
  // Nothing answered for the probed port: nothing to name.
  BOOST_TEST(!find_blocking_hop(trace_dying_after(0)).has_value());
  BOOST_TEST((destination_distance(reference_trace()) == std::optional<int>(4)));
}

BOOST_AUTO_TEST_CASE(unreachable_names_the_router_that_refused_to_forward) {
  // The filtering router answers TTL expiry itself, then refuses to forward.
  PathTrace t = trace_dying_after(2);
  t.probed.hops[2] = hop(3, "100.64.0.1", HopKind::unreachable, 3, 13);
  auto h = find_blocking_hop(t);
  BOOST_TEST_REQUIRE(h.has_value());
  BOOST_TEST(h->ttl == 2);
  BOOST_TEST(h->address == "100.64.0.1");
}

BOOST_AUTO_TEST_CASE(verdict_words_round_trip) {
  for (auto v :
       {Verdict::open, Verdict::dropped, Verdict::reset, Verdict::icmp_unreachable,
        Verdict::intercepted, Verdict::tampered, Verdict::tls_intercepted, Verdict::reply_dropped,
        Verdict::firewalled_at_reflector, Verdict::not_listening, Verdict::inconclusive}) {
    BOOST_TEST((verdict_from_string(to_string(v)) == std::optional<Verdict>(v)));
    BOOST_TEST(!describe(v).empty());
  }
  BOOST_TEST(!verdict_from_string("blocked").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
