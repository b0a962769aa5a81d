// The `--json` report: exactly the CONTRACT.md document ("egress25.check/1").
#include "report_json.hpp"

#include <boost/json/serialize.hpp>
#include <cmath>

#include "evidence_json.hpp"

namespace egress25::client {
namespace json = boost::json;
namespace {

json::value string_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

json::value optional_or_null(const std::optional<std::string>& s) {
  return s && !s->empty() ? json::value(*s) : json::value(nullptr);
}

// Milliseconds with a tenth of precision: enough, and stable to read.
double rounded_ms(double ms) {
  return std::round(ms * 10) / 10;
}

json::object witness_view(const WitnessPortView& w) {
  json::object o;
  o["syn_seen"] = w.syn_seen;
  o["synack_sent"] = w.synack_sent;
  o["rst_sent"] = w.rst_sent;
  o["handshake_completed"] = w.handshake_completed;
  o["syn_count"] = w.syn_count;
  o["ttl"] = w.ttl ? json::value(*w.ttl) : json::value(nullptr);
  return o;
}

json::object reflector_evidence(const ReflectorEvidence& r) {
  json::object o;
  o["report_available"] = r.report_available;
  o["report_error"] = string_or_null(r.report_error);
  o["port_advertised"] = r.port_advertised;
  o["expected_fingerprint"] = string_or_null(r.expected_fingerprint);
  o["client_public_address"] = string_or_null(r.client_public_address);
  json::array tagged;
  for (const auto& record : r.tagged) tagged.push_back(to_json(record));
  o["connections"] = std::move(tagged);
  o["connections_dropped"] = r.connections_dropped;
  o["untagged_from_client"] = r.untagged_from_client;
  o["witness"] = r.witness ? json::value(witness_view(*r.witness)) : json::value(nullptr);
  o["witness_unavailable"] = string_or_null(r.witness_unavailable);
  return o;
}

json::value host_network_json(const std::optional<HostNetwork>& host) {
  if (!host) return nullptr;
  json::array addresses;
  for (const auto& a : host->local_addresses) addresses.push_back(json::string(a));
  return json::object{{"gateway", string_or_null(host->gateway)},
                      {"local_addresses", std::move(addresses)}};
}

json::value nat_json(const NatFinding& nat) {
  json::array reasons;
  for (const auto& r : nat.reasons) reasons.push_back(json::string(r));
  return json::object{{"cgnat", nat.cgnat ? json::value(*nat.cgnat) : json::value(nullptr)},
                      {"gateway_external_address", optional_or_null(nat.gateway_external_address)},
                      {"reasons", std::move(reasons)}};
}

std::string_view target_word(Target t) {
  return t == Target::reflector ? "reflector" : "destination";
}

json::object probe_json(const ProbeResult& result) {
  const ProbeEvidence& evidence = result.evidence;
  const ClientProbe& probe = evidence.client;
  const Classification& c = result.classification;
  json::object o;
  o["target"] = result.inbound ? "inbound" : target_word(evidence.target);
  o["host"] = probe.host;
  o["address"] = string_or_null(probe.address);
  o["port"] = probe.port;
  o["service"] = probe.service;
  o["family"] = to_string(probe.family);
  put_classification(o, c);
  o["elapsed_ms"] = rounded_ms(probe.elapsed_ms);
  json::object ev;
  ev["client"] = to_json(probe);
  ev["reflector"] = reflector_evidence(evidence.reflector);
  ev["trace"] = evidence.trace ? json::value(to_json(*evidence.trace)) : json::value(nullptr);
  ev["trace_unavailable"] = string_or_null(evidence.trace_unavailable);
  if (evidence.target == Target::destination)  // what a destination probe is judged against
    ev["reference_verdict"] = evidence.reference_verdict
                                  ? json::value(to_string(*evidence.reference_verdict))
                                  : json::value(nullptr);
  if (result.inbound) {  // what the reflector met when it connected back
    const auto& in = *result.inbound;
    ev["inbound"] = in.attempt ? json::value(to_json(*in.attempt)) : json::value(nullptr);
    ev["inbound_unavailable"] = string_or_null(in.unavailable);
    ev["listener"] = string_or_null(in.listener);
  }
  o["evidence"] = std::move(ev);
  return o;
}

}  // namespace

json::object report_to_json(const CheckReport& report) {
  json::object doc;
  doc["schema"] = report_schema;
  doc["reflector"] = json::object{
      {"host", report.reflector_host},
      {"control", report.control_endpoint},
      {"version", string_or_null(report.reflector_version)},
      {"witness", report.witness_active},
      {"witness_reason", string_or_null(report.witness_reason)},
      {"reachable", report.control_reached},
      {"error", string_or_null(report.control_error)},
  };
  doc["client"] = json::object{
      {"local_address", string_or_null(report.local_address)},
      {"public_address", string_or_null(report.public_address)},
      {"public_addresses", json::object{{"ipv4", optional_or_null(report.public_ipv4)},
                                        {"ipv6", optional_or_null(report.public_ipv6)}}},
      {"networks", json::object{{"ipv4", host_network_json(report.host_ipv4)},
                                {"ipv6", host_network_json(report.host_ipv6)}}},
      {"nat", nat_json(report.nat)},
      {"control_rtt_ms", rounded_ms(report.control_rtt_ms)},
      {"probe_timeout_ms", rounded_ms(report.probe_timeout_ms)},
  };
  json::array probes;
  for (const auto& p : report.probes) probes.push_back(probe_json(p));
  doc["probes"] = std::move(probes);
  json::array not_probed;
  for (const auto& n : report.not_probed) {
    json::array ports;
    for (auto port : n.ports) ports.push_back(port);
    not_probed.push_back(json::object{{"target", target_word(n.target)},
                                      {"host", n.host},
                                      {"family", to_string(n.family)},
                                      {"ports", std::move(ports)},
                                      {"reason", n.reason}});
  }
  doc["not_probed"] = std::move(not_probed);
  doc["summary"] = json::object{{"text", report.summary}};
  doc["exit_status"] = exit_status(report);
  return doc;
}

std::string render_json(const CheckReport& report) {
  return json::serialize(report_to_json(report)) + "\n";
}

}  // namespace egress25::client
