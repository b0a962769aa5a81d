// Writes `egress25 check --json` documents the way the client renders them, one per file,
// covering every verdict, location and segment, a pinned hop and candidates, a trace, the
// witness, an ICMP error, a destination, a family not probed and an unreachable reflector:
// report_schema_test.sh validates them against docs/report.schema.json. Also prints the
// vocabularies as the code has them, one "kind word" per line, for the test to compare
// with the schema's enums.
// usage: report_samples DIR
#include <fstream>
#include <iostream>
#include <string>

#include "report_json.hpp"

using namespace egress25;
using namespace egress25::client;

namespace {

CheckReport reachable_report() {
  CheckReport r;
  r.reflector_host = "vps.example.net";
  r.control_endpoint = "192.0.2.10:7025";
  r.reflector_version = "0.1.0";
  r.witness_active = true;
  r.local_address = "10.0.0.2";
  r.public_address = "198.51.100.7";
  r.public_ipv4 = "198.51.100.7";
  r.control_rtt_ms = 23.4;
  r.probe_timeout_ms = 4800;
  r.control_reached = true;
  r.host_ipv4 = HostNetwork{{"10.0.0.2"}, "10.0.0.1", ""};
  r.summary = "A summary in words.";
  return r;
}

ProbeResult probe(std::uint16_t port, Verdict verdict, Location location) {
  ProbeResult p;
  ClientProbe& c = p.evidence.client;
  c.host = "vps.example.net";
  c.address = "192.0.2.10";
  c.port = port;
  c.service = service_name(port, port == 465 ? ServiceKind::smtps : ServiceKind::smtp);
  c.kind = port == 465 ? ServiceKind::smtps : ServiceKind::smtp;
  c.probe_tag = "p1-0123456789abcdef01234567";
  c.connect = ConnectOutcome::connected;
  c.end = DialogueEnd::completed;
  c.banner_code = 220;
  c.banner = "vps ESMTP egress25-reflector";
  c.transcript.plain.to_client.append("220 vps ESMTP egress25-reflector\r\n");
  c.transcript.plain.to_server.append("EHLO p1-0123456789abcdef01234567.egress25.invalid\r\n");
  c.peer_cert_sha256 = std::string(64, 'a');
  c.elapsed_ms = 12.5;
  p.evidence.reflector.report_available = true;
  p.evidence.reflector.port_advertised = true;
  p.evidence.reflector.expected_fingerprint = std::string(64, 'a');
  p.evidence.reflector.client_public_address = "198.51.100.7";
  p.evidence.reflector.witness = WitnessPortView{true, true, false, true, 1, 57};
  ConnectionRecord record;
  record.probe_tag = c.probe_tag;
  record.tag_seen_in = {"ehlo", "sni", "ehlo_after_starttls"};
  record.peer_address = "198.51.100.7";
  record.peer_port = 40000;
  record.local_address = "192.0.2.10";
  record.local_port = port;
  record.started_unix_ms = 1796214023261;
  record.ended_unix_ms = 1796214023263;
  record.end_reason = "quit";
  record.transcript = c.transcript;
  p.evidence.reflector.tagged.push_back(record);
  p.evidence.trace_unavailable = "the probe reached the reflector unchanged";
  p.classification.verdict = verdict;
  p.classification.location = location;
  if (location == Location::path) p.classification.segment = Segment::upstream;
  p.classification.reasons = {"one sentence of evidence"};
  return p;
}

void write(const std::string& dir, const std::string& name, const CheckReport& report) {
  std::ofstream(dir + "/" + name + ".json") << render_json(report);
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc != 2) {
    std::cerr << "usage: report_samples DIR\n";
    return 2;
  }
  const std::string dir = argv[1];

  // Every verdict, at its usual location.
  for (Verdict v : all_verdicts) {
    CheckReport r = reachable_report();
    Location l = v == Verdict::open                      ? Location::none
                 : v == Verdict::firewalled_at_reflector ? Location::reflector_host
                 : v == Verdict::not_listening           ? Location::reflector_host
                 : v == Verdict::inconclusive            ? Location::unknown
                                                         : Location::path;
    r.probes.push_back(probe(25, v, l));
    if (v != Verdict::open) r.probes.push_back(probe(587, Verdict::open, Location::none));
    write(dir, "verdict_" + std::string(to_string(v)), r);
  }

  // Every location and segment; a pinned hop with a trace; candidates; an ICMP error.
  {
    CheckReport r = reachable_report();
    auto p = probe(25, Verdict::dropped, Location::client_host);
    p.evidence.client.connect = ConnectOutcome::timed_out;
    r.probes.push_back(p);
    for (Segment s : {Segment::local_network, Segment::upstream, Segment::reflector_network,
                      Segment::unknown}) {
      auto q = probe(465, Verdict::dropped, Location::path);
      q.classification.segment = s;
      q.evidence.client.connect = ConnectOutcome::timed_out;
      q.evidence.client.end = DialogueEnd::none;
      q.evidence.reflector.witness = WitnessPortView{};
      PathTrace trace;
      trace.probed.port = 465;
      trace.probed.hops = {{1, "10.0.0.1", HopKind::time_exceeded, 11, 0},
                           {2, "100.64.0.1", HopKind::time_exceeded, 11, 0},
                           {3, "", HopKind::silent, 0, 0}};
      trace.reference.port = 7025;
      trace.reference.hops = {{1, "10.0.0.1", HopKind::time_exceeded, 11, 0},
                              {2, "100.64.0.1", HopKind::time_exceeded, 11, 0},
                              {3, "192.0.2.10", HopKind::reached, 0, 0}};
      q.evidence.trace = trace;
      q.evidence.trace_unavailable.clear();
      if (s == Segment::unknown)
        q.classification.blocking_candidates = {{2, "100.64.0.1", "ISP (shared address space)", s},
                                                {3, "", "", s}};
      else
        q.classification.blocking_hop = BlockingHop{2, "100.64.0.1", "ISP", s};
      r.probes.push_back(q);
    }
    auto icmp = probe(587, Verdict::icmp_unreachable, Location::path);
    icmp.evidence.client.connect = ConnectOutcome::icmp_error;
    icmp.evidence.client.icmp = IcmpReport{"100.64.0.1", 3, 13, "administratively prohibited"};
    r.probes.push_back(icmp);
    r.probes.push_back(probe(2525, Verdict::not_listening, Location::reflector_host));
    r.probes.push_back(probe(2526, Verdict::inconclusive, Location::unknown));
    // A destination, judged against the reflector's port 25; one not probed.
    auto d = probe(25, Verdict::dropped, Location::destination);
    d.evidence.target = Target::destination;
    d.evidence.client.host = "mx1.example.org";
    d.evidence.client.probe_tag.clear();
    d.evidence.reflector = ReflectorEvidence{};
    d.evidence.reference_verdict = Verdict::open;
    r.probes.push_back(d);
    r.not_probed.push_back(NotProbed{Target::reflector,
                                     "vps.example.net",
                                     Family::ipv6,
                                     {25, 465, 587},
                                     "this host has no IPv6 route"});
    r.not_probed.push_back(NotProbed{Target::destination,
                                     "mx1.example.org",
                                     Family::ipv6,
                                     {25},
                                     "mx1.example.org has no IPv6 address"});
    r.host_ipv6 = HostNetwork{{}, "", ""};
    write(dir, "locations", r);
  }

  // Inbound (--inbound): the reflector connected back; one open with a banner, one
  // dropped at the ISP with the connect-back's trace, one the reflector did not make.
  {
    CheckReport r = reachable_report();
    const auto inbound = [](Verdict v, Location l) {
      ProbeResult p;
      ClientProbe& c = p.evidence.client;
      c.host = "198.51.100.7";
      c.address = "198.51.100.7";
      c.port = 25;
      c.service = "smtp";
      c.family = Family::ipv4;
      p.evidence.trace_unavailable = "";
      p.classification.verdict = v;
      p.classification.location = l;
      p.classification.reasons = {"a reason"};
      p.inbound = ProbeResult::Inbound{};
      return p;
    };
    auto open = inbound(Verdict::open, Location::none);
    InboundAttempt a;
    a.address = "198.51.100.7";
    a.local_address = "192.0.2.10";
    a.port = 25;
    a.connect = ConnectOutcome::connected;
    a.banner_code = 220;
    a.banner = "220 mx.home.example ESMTP\r\n";
    a.ehlo_code = 250;
    a.quit_code = 221;
    a.end = DialogueEnd::completed;
    open.inbound->attempt = a;
    open.inbound->listener = "this computer listened on port 25 during the check";
    r.probes.push_back(open);
    auto dropped = inbound(Verdict::dropped, Location::path);
    dropped.classification.segment = Segment::upstream;
    dropped.classification.blocking_hop =
        BlockingHop{2, "198.51.100.5", "ISP or transit network", Segment::upstream};
    InboundAttempt d;
    d.address = "198.51.100.7";
    d.port = 25;
    d.connect = ConnectOutcome::timed_out;
    d.connect_error = "no answer within 5000 ms";
    PathTrace t;
    t.probed.port = 25;
    t.probed.hops = {{1, "203.0.113.1", HopKind::time_exceeded, 11, 0},
                     {2, "198.51.100.5", HopKind::time_exceeded, 11, 0},
                     {3, "", HopKind::silent, 0, 0}};
    t.reference.port = 40123;
    t.reference.hops = {{1, "203.0.113.1", HopKind::time_exceeded, 11, 0},
                        {2, "198.51.100.5", HopKind::time_exceeded, 11, 0},
                        {3, "198.51.100.1", HopKind::time_exceeded, 11, 0}};
    d.trace = t;
    dropped.inbound->attempt = d;
    r.probes.push_back(dropped);
    auto refused = inbound(Verdict::inconclusive, Location::unknown);
    refused.inbound->unavailable = "the reflector did not connect back: --connect-back off";
    r.probes.push_back(refused);
    write(dir, "inbound", r);
  }

  // The reflector could not be reached.
  {
    CheckReport r;
    r.reflector_host = "vps.example.net";
    r.control_endpoint = "vps.example.net:7025";
    r.witness_reason = "unknown: the reflector could not be asked";
    r.control_reached = false;
    r.control_error = "the reflector's name vps.example.net does not resolve";
    auto p = probe(25, Verdict::inconclusive, Location::unknown);
    p.evidence.client.connect = ConnectOutcome::not_attempted;
    p.evidence.reflector = ReflectorEvidence{};
    p.evidence.reflector.report_error = r.control_error;
    r.probes.push_back(p);
    r.summary = "Nothing was measured.";
    write(dir, "unreachable", r);
  }

  for (Verdict v : all_verdicts) std::cout << "verdict " << to_string(v) << "\n";
  for (Location l : {Location::none, Location::client_host, Location::path,
                     Location::reflector_host, Location::destination, Location::unknown})
    std::cout << "location " << to_string(l) << "\n";
  for (Segment s :
       {Segment::local_network, Segment::upstream, Segment::reflector_network, Segment::unknown})
    std::cout << "segment " << to_string(s) << "\n";
  return 0;
}
