// The human report: header, a port × family table, path drawings, and the summary.
#include "report_human.hpp"

#include "attribution.hpp"
#include "transcript.hpp"
#include "transcript_view.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <map>
#include <sstream>
#include <vector>

namespace egress25::client {
namespace {

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// Text a peer chose (the reflector's version, reasons quoting its words, DNS names),
// escaped for the terminal; ours passes unchanged.
std::string safe(const std::string& text) {
  return terminal_text(text);
}

std::string rstrip(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The WHY column needs this many columns beside the others; with fewer, the reasons go
// under their row instead, across the whole width.
constexpr std::size_t min_why_width = 40;
// Where reasons and notes start when they go under their row.
const std::string under_row = "    ";

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
  return wrap(text, width, indent, indent);
}

std::string wrap(const std::string& text, std::size_t width, const std::string& first,
                 const std::string& indent) {
  std::istringstream words(text);
  std::string word, line, out;
  const std::string* lead = &first;
  while (words >> word) {
    if (!line.empty() && lead->size() + line.size() + 1 + word.size() > width) {
      out += *lead + line + "\n";
      line.clear();
      lead = &indent;
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out += *lead + line + "\n";
  return out;
}

std::string draw_path(const std::string& target, const PathTrace& trace, const HostNetwork& host,
                      const std::optional<BlockingHop>& blocking_hop,
                      const std::vector<BlockingHop>& candidates, std::size_t width) {
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
  struct Row {
    std::string ttl, address, probed, reference, who;
  };
  std::vector<Row> rows;
  for (int ttl = 1; ttl <= last; ++ttl) {
    const TraceHop* p = probed.count(ttl) ? probed[ttl] : nullptr;
    const TraceHop* r = reference.count(ttl) ? reference[ttl] : nullptr;
    Row row;
    row.ttl = std::to_string(ttl);
    row.address = p && !p->address.empty()   ? p->address
                  : r && !r->address.empty() ? r->address
                                             : "*";
    row.probed = p ? hop_word(*p) : "-";
    row.reference = r ? hop_word(*r) : "-";
    row.who = map.distance() && ttl >= *map.distance() ? "the reflector" : map.hop(ttl).role;
    if (blocking_hop && blocking_hop->ttl == ttl) row.who += "   <- " + probed_port + " stops here";
    for (const auto& candidate : candidates)
      if (candidate.ttl == ttl) row.who += "   <- " + probed_port + " may stop here";
    rows.push_back(std::move(row));
  }
  // Each column as wide as its widest entry and two spaces; an IPv4 path stays narrow.
  std::size_t w_address = 9, w_probed = probed_port.size() + 2,
              w_reference = reference_port.size() + 2;
  for (const auto& row : rows) {
    w_address = std::max(w_address, row.address.size() + 2);
    w_probed = std::max(w_probed, row.probed.size() + 2);
    w_reference = std::max(w_reference, row.reference.size() + 2);
  }
  const std::size_t w_ttl = 5;
  const std::string lead = "    ";
  const std::string who_indent(lead.size() + w_ttl + w_address + w_probed + w_reference, ' ');
  std::string out =
      wrap("path to " + target + ", " + probed_port + " beside " + reference_port + " (reference):",
           width, "  ", "    ");
  out += lead + pad("hop", w_ttl) + pad("address", w_address) + pad(probed_port, w_probed) +
         pad(reference_port, w_reference) + "who\n";
  for (const auto& row : rows) {
    std::string head = lead + pad(row.ttl, w_ttl) + pad(row.address, w_address) +
                       pad(row.probed, w_probed) + pad(row.reference, w_reference);
    if (head.size() + row.who.size() <= width || width < who_indent.size() + 20)
      out += rstrip(head + row.who) + "\n";
    else
      out += wrap(row.who, width, head, who_indent);
  }
  return out;
}

namespace {

// The lines a probe's reasons take: the first in full, then how many more (or, with
// --verbose, every one, each marked when there are several).
std::vector<std::string> why_lines(const Classification& c, bool every_reason) {
  std::vector<std::string> reasons;
  for (const auto& reason : c.reasons) reasons.push_back(safe(reason));
  if (reasons.empty()) reasons.emplace_back(describe(c.verdict));
  if (!every_reason) {
    std::vector<std::string> out{reasons.front()};
    if (reasons.size() > 1)
      out.back() += " (+" + std::to_string(reasons.size() - 1) + " more reason" +
                    (reasons.size() > 2 ? "s" : "") + " with -v)";
    return out;
  }
  if (reasons.size() > 1)
    for (auto& reason : reasons) reason = "- " + reason;
  return reasons;
}

// What goes under a probe's row, at the VERDICT column: the destination it was, and the
// hop that stopped it (or the candidates).
std::vector<std::string> notes_for(const ProbeResult& result) {
  const ClientProbe& probe = result.evidence.client;
  const Classification& c = result.classification;
  std::vector<std::string> notes;
  if (result.inbound) {
    notes.push_back("inbound: the reflector connected back to " + safe(probe.address) +
                    (c.blocking_hop || !c.blocking_candidates.empty()
                         ? " (hops counted from the reflector)"
                         : ""));
  }
  if (result.evidence.target == Target::destination) {
    std::string note = "destination " + safe(probe.host);
    if (!probe.address.empty() && probe.address != probe.host)
      note += " (" + safe(probe.address) + ")";
    notes.push_back(std::move(note));
  }
  if (c.blocking_hop) {
    notes.push_back(
        (c.verdict == Verdict::open || kind_answers(c.verdict) ? "answered at " : "blocked at ") +
        hop_words(*c.blocking_hop));
  } else if (!c.blocking_candidates.empty()) {
    std::string list;
    for (std::size_t i = 0; i < c.blocking_candidates.size(); ++i)
      list += (i == 0 ? "" : " or ") + hop_words(c.blocking_candidates[i]);
    notes.push_back("blocked at " + list);
  }
  return notes;
}

std::string header(const CheckReport& report, std::size_t width) {
  std::string out;
  // The reflector and its version on the first line, whole; where it was reached under it.
  out += "egress25 check: reflector " + safe(report.reflector_host);
  if (!report.reflector_version.empty()) out += " (version " + safe(report.reflector_version) + ")";
  out += "\n";
  std::string control = "control " + report.control_endpoint;
  if (report.control_reached) control += ", RTT " + fixed(report.control_rtt_ms, 1) + " ms";
  out += wrap(control, width, "  ");
  if (!report.control_reached)
    return out + wrap("control: unreachable: " + safe(report.control_error), width, "  ");
  auto field = [&](const std::string& name, const std::string& value) {
    out += wrap(safe(value), width, "  " + pad(name, 17), std::string(19, ' '));
  };
  field("local address:", report.local_address.empty() ? "-" : report.local_address);
  std::string publics;
  if (report.public_ipv4) publics += *report.public_ipv4 + " (IPv4)";
  if (report.public_ipv6)
    publics += (publics.empty() ? "" : ", ") + *report.public_ipv6 + " (IPv6)";
  if (publics.empty()) publics = report.public_address.empty() ? "-" : report.public_address;
  field("public address:", publics + "  (as the reflector saw it)");
  if (report.nat.cgnat || report.nat.gateway_external_address) {
    std::string nat = report.nat.cgnat == true    ? "behind carrier-grade NAT"
                      : report.nat.cgnat == false ? "no carrier-grade NAT"
                                                  : "carrier-grade NAT cannot be told";
    if (report.nat.gateway_external_address)
      nat += "; your router's external address " + *report.nat.gateway_external_address;
    if (!report.nat.reasons.empty()) nat += " (" + report.nat.reasons.back() + ")";
    field("NAT:", nat);
  }
  field("packet witness:",
        report.witness_active
            ? "on"
            : "off" + (report.witness_reason.empty() ? std::string()
                                                     : " (" + report.witness_reason + ")"));
  field("probe timeout:", fixed(report.probe_timeout_ms / 1000, 1) + " s");
  return out;
}

}  // namespace

namespace {

// The table's fixed columns: one row of cells per probe, each column as wide as its
// widest entry and two spaces.
struct Columns {
  static constexpr std::size_t count = 5;
  std::array<std::string, count> titles{"PORT", "SERVICE", "FAMILY", "VERDICT", "WHERE"};
  std::vector<std::array<std::string, count>> cells;
  std::array<std::size_t, count> widths{};
  std::size_t total = 0;  // where WHY starts
};

Columns columns_for(const CheckReport& report) {
  Columns columns;
  for (const auto& result : report.probes) {
    const ClientProbe& probe = result.evidence.client;
    columns.cells.push_back(
        {std::to_string(probe.port), safe(probe.service), family_label(probe.family),
         std::string(to_string(result.classification.verdict)), where_word(result.classification)});
  }
  for (std::size_t k = 0; k < Columns::count; ++k) {
    columns.widths[k] = columns.titles[k].size() + 2;
    for (const auto& row : columns.cells)
      columns.widths[k] = std::max(columns.widths[k], row[k].size() + 2);
    columns.total += columns.widths[k];
  }
  return columns;
}

// "25/IPv4", as drawings and transcripts are titled.
std::string probe_name(const ClientProbe& probe) {
  return std::to_string(probe.port) + "/" + family_label(probe.family);
}

// The probe's path as traced, titled; "" when it was not traced.
std::string drawing_for(const ProbeResult& result, std::size_t width) {
  if (!result.evidence.trace) return "";
  const ClientProbe& probe = result.evidence.client;
  const Classification& c = result.classification;
  auto drawing = draw_path(safe(probe.address), *result.evidence.trace, result.evidence.host,
                           c.blocking_hop, c.blocking_candidates, width);
  return drawing.empty() ? "" : probe_name(probe) + ":\n" + drawing;
}

// The probe's dialogue beside the reflector's record, titled.
std::string transcript_for(const ProbeResult& result, std::size_t width) {
  const ClientProbe& probe = result.evidence.client;
  std::string title = probe_name(probe) + " " + safe(probe.service);
  if (result.evidence.target == Target::destination) title += " to " + safe(probe.host);
  if (!probe.probe_tag.empty()) title += ", tag " + safe(probe.probe_tag);
  return title + ":\n" + probe_transcript(result.evidence, width) + "\n";
}

}  // namespace

std::string render_human(const CheckReport& report, const HumanOptions& options) {
  const std::size_t width = std::max<std::size_t>(options.width, 40);
  if (options.summary_only) return wrap(safe(report.summary), width, "");

  std::string out = header(report, width) + "\n";
  const Columns columns = columns_for(report);
  const auto& widths = columns.widths;
  const bool inline_why = width >= columns.total + min_why_width;
  const std::string why_indent(columns.total, ' ');
  const std::string note_indent(widths[0] + widths[1] + widths[2], ' ');

  std::string title_row;
  for (std::size_t k = 0; k < Columns::count; ++k) title_row += pad(columns.titles[k], widths[k]);
  out += title_row + "WHY\n";
  std::string drawings, transcripts;
  for (std::size_t i = 0; i < report.probes.size(); ++i) {
    const ProbeResult& result = report.probes[i];
    std::string row;
    // Appended piece by piece: a long `a + b + ...` chain here trips GCC 12's
    // -Warray-bounds false positive.
    for (std::size_t k = 0; k < Columns::count; ++k) row += pad(columns.cells[i][k], widths[k]);
    const auto reasons = why_lines(result.classification, options.every_reason);
    // A reason marked "- " hangs under its own first word.
    const std::string hang = reasons.size() > 1 ? "  " : "";
    if (inline_why) {
      for (std::size_t r = 0; r < reasons.size(); ++r)
        out += wrap(reasons[r], width, r == 0 ? row : why_indent, why_indent + hang);
    } else {
      out += rstrip(row) + "\n";
      for (const auto& reason : reasons) out += wrap(reason, width, under_row, under_row + hang);
    }
    for (const auto& note : notes_for(result))
      out += wrap(note, width, inline_why ? note_indent : under_row,
                  (inline_why ? note_indent : under_row) + "  ");
    drawings += drawing_for(result, width);
    if (options.transcripts) transcripts += transcript_for(result, width);
  }
  for (const auto& n : report.not_probed) {
    std::string row = pad("", widths[0]);
    row += pad(n.target == Target::reflector ? "" : safe(n.host), widths[1]);
    row += pad(family_label(n.family), widths[2]);
    out += wrap("not checked: " + safe(n.reason), width, row,
                row.size() < width / 2 ? std::string(row.size() + 2, ' ') : under_row);
  }
  if (!drawings.empty()) out += "\n" + drawings;
  if (!transcripts.empty())
    out += "\n" +
           wrap(
               "Transcripts, escaped ('|' the same at both ends, '!' changed, '<' only here, "
               "'>' only at the reflector):",
               width, "") +
           transcripts;
  out += "\nSummary:\n" + wrap(safe(report.summary), width, "  ");
  return out;
}

}  // namespace egress25::client
