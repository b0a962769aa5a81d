// The human report: header, a port × family table, path drawings, and the summary.
#include "report_human.hpp"

#include "attribution.hpp"
#include "transcript.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

namespace egress25::client {
namespace {

std::string family_name(Family f) {
  return f == Family::ipv4 ? "IPv4" : "IPv6";
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string clip(std::string s, std::size_t max) {
  if (s.size() > max) {
    s.resize(max - 3);
    s.append(3, '.');
  }
  return s;
}

// Verdicts whose hop answered in the reflector's place rather than stopping the probe.
bool kind_answers(Verdict v) {
  return v == Verdict::intercepted || v == Verdict::tampered || v == Verdict::tls_intercepted ||
         v == Verdict::proxied;
}

std::string fixed(double value, int decimals) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

// The JSON word with spaces for people ("time exceeded"); a silent hop is traceroute's "*".
std::string hop_word(const TraceHop& hop) {
  if (hop.kind == HopKind::silent) return "*";
  std::string word(to_string(hop.kind));
  std::replace(word.begin(), word.end(), '_', ' ');
  return word;
}

// The WHERE column: who, in a word or two.
std::string where_word(const Classification& c) {
  switch (c.location) {
    case Location::client_host:
      return "this computer";
    case Location::path:
      switch (c.segment.value_or(Segment::unknown)) {
        case Segment::local_network:
          return "local network";
        case Segment::upstream:
          return "ISP/upstream";
        case Segment::reflector_network:
          return "reflector's network";
        case Segment::unknown:
          break;
      }
      return "path";
    default:
      return std::string(to_string(c.location));
  }
}

}  // namespace

std::string wrap(const std::string& text, std::size_t width, const std::string& indent) {
  std::istringstream words(text);
  std::string word, line, out;
  while (words >> word) {
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out += indent + line + "\n";
  return out;
}

std::string draw_path(const std::string& target, const PathTrace& trace, const HostNetwork& host,
                      const std::optional<BlockingHop>& blocking_hop,
                      const std::vector<BlockingHop>& candidates) {
  std::map<int, const TraceHop*> probed, reference;
  int last = 0;
  for (const auto& h : trace.probed.hops) {
    probed[h.ttl] = &h;
    if (h.kind != HopKind::silent) last = std::max(last, h.ttl);
  }
  for (const auto& h : trace.reference.hops) {
    reference[h.ttl] = &h;
    if (h.kind != HopKind::silent) last = std::max(last, h.ttl);
  }
  if (last == 0) return "";
  // One silent row past the last answer shows where the probed port went quiet.
  int max_ttl = 0;
  for (const auto& [ttl, hop] : probed) max_ttl = std::max(max_ttl, ttl);
  for (const auto& [ttl, hop] : reference) max_ttl = std::max(max_ttl, ttl);
  last = std::min(last + 1, max_ttl);

  const PathMap map(trace, host);
  const std::string probed_port = "port " + std::to_string(trace.probed.port);
  const std::string reference_port = "port " + std::to_string(trace.reference.port);
  std::string out =
      "  path to " + target + ", " + probed_port + " beside " + reference_port + " (reference):\n";
  out += "    " + pad("hop", 5) + pad("address", 40) + pad(probed_port, 16) +
         pad(reference_port, 16) + "who\n";
  for (int ttl = 1; ttl <= last; ++ttl) {
    const TraceHop* p = probed.count(ttl) ? probed[ttl] : nullptr;
    const TraceHop* r = reference.count(ttl) ? reference[ttl] : nullptr;
    std::string address = p && !p->address.empty()   ? p->address
                          : r && !r->address.empty() ? r->address
                                                     : "*";
    std::string row = "    " + pad(std::to_string(ttl), 5) + pad(address, 40) +
                      pad(p ? hop_word(*p) : "-", 16) + pad(r ? hop_word(*r) : "-", 16);
    row += map.distance() && ttl >= *map.distance() ? "the reflector" : map.hop(ttl).role;
    if (blocking_hop && blocking_hop->ttl == ttl) row += "   <- " + probed_port + " stops here";
    for (const auto& candidate : candidates)
      if (candidate.ttl == ttl) row += "   <- " + probed_port + " may stop here";
    out += row + "\n";
  }
  return out;
}

std::string render_human(const CheckReport& report) {
  std::string out;
  out += "egress25 check: reflector " + report.reflector_host;
  // Every text the reflector, a DNS answer or an SMTP peer chose goes through
  // terminal_text: what reaches a terminal is printable ASCII.
  if (!report.reflector_version.empty())
    out += " (version " + terminal_text(report.reflector_version) + ")";
  out += ", control " + report.control_endpoint;
  if (report.control_reached) out += ", RTT " + fixed(report.control_rtt_ms, 1) + " ms";
  out += "\n";
  if (!report.control_reached) {
    out += wrap("control: unreachable: " + terminal_text(report.control_error), 100, "  ");
  } else {
    out +=
        "  local address:   " + (report.local_address.empty() ? "-" : report.local_address) + "\n";
    std::string publics;
    if (report.public_ipv4) publics += *report.public_ipv4 + " (IPv4)";
    if (report.public_ipv6)
      publics += (publics.empty() ? "" : ", ") + *report.public_ipv6 + " (IPv6)";
    if (publics.empty()) publics = report.public_address.empty() ? "-" : report.public_address;
    out += "  public address:  " + publics + "  (as the reflector saw it)\n";
    out += "  packet witness:  " +
           std::string(report.witness_active
                           ? "on"
                           : "off" + (report.witness_reason.empty()
                                          ? std::string()
                                          : " (" + terminal_text(report.witness_reason) + ")")) +
           "\n";
    out += "  probe timeout:   " + fixed(report.probe_timeout_ms / 1000, 1) + " s\n";
  }
  out += "\n";

  const std::vector<std::size_t> widths{7, 12, 8, 25, 21};
  out += pad("PORT", widths[0]) + pad("SERVICE", widths[1]) + pad("FAMILY", widths[2]) +
         pad("VERDICT", widths[3]) + pad("WHERE", widths[4]) + "WHY\n";
  std::string drawings;
  for (const auto& result : report.probes) {
    const ClientProbe& probe = result.evidence.client;
    const Classification& c = result.classification;
    std::string why =
        c.reasons.empty() ? std::string(describe(c.verdict)) : terminal_text(c.reasons.front());
    // Appended piece by piece: a long `a + b + ...` chain here trips GCC 12's
    // -Warray-bounds false positive.
    out += pad(std::to_string(probe.port), widths[0]);
    out += pad(terminal_text(probe.service, 32), widths[1]);
    out += pad(family_name(probe.family), widths[2]);
    out += pad(std::string(to_string(c.verdict)), widths[3]);
    out += pad(where_word(c), widths[4]);
    out += clip(why, 110);
    out += "\n";
    if (result.evidence.target == Target::destination) {
      out += pad("", widths[0] + widths[1] + widths[2]);
      out += "destination " + terminal_text(probe.host);
      if (!probe.address.empty() && probe.address != probe.host)
        out += " (" + terminal_text(probe.address) + ")";
      out += "\n";
    }
    if (c.blocking_hop) {
      out += pad("", widths[0] + widths[1] + widths[2]);
      out +=
          (c.verdict == Verdict::open || kind_answers(c.verdict) ? "answered at " : "blocked at ");
      out += hop_words(*c.blocking_hop) + "\n";
    } else if (!c.blocking_candidates.empty()) {
      std::string list;
      for (std::size_t i = 0; i < c.blocking_candidates.size(); ++i)
        list += (i == 0 ? "" : " or ") + hop_words(c.blocking_candidates[i]);
      out += pad("", widths[0] + widths[1] + widths[2]);
      out += "blocked at " + list + "\n";
    }
    if (result.evidence.trace) {
      auto drawing = draw_path(probe.address, *result.evidence.trace, result.evidence.host,
                               c.blocking_hop, c.blocking_candidates);
      if (!drawing.empty())
        drawings += std::to_string(probe.port) + "/" + family_name(probe.family) + ":\n" + drawing;
    }
  }
  for (const auto& n : report.not_probed) {
    out += pad("", widths[0]);
    out += pad(n.target == Target::reflector ? "" : terminal_text(n.host), widths[1]);
    out += pad(family_name(n.family), widths[2]);
    out += "not checked: " + terminal_text(n.reason) + "\n";
  }
  if (!drawings.empty()) out += "\n" + drawings;
  out += "\nSummary:\n" + wrap(terminal_text(report.summary), 80, "  ");
  return out;
}

}  // namespace egress25::client
