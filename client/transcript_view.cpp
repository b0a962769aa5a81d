// --show-transcript: a probe's SMTP dialogue as this client saw it, side by side with what
// the reflector recorded, escaped and aligned line by line, the way swaks users read one.
#include "transcript_view.hpp"

#include <algorithm>
#include <cstdint>
#include <string_view>

#include "limits.hpp"
#include "transcript.hpp"

namespace egress25::client {
namespace {

// Escaped lines longer than this are cut; a printable() escape is never split.
using limits::transcript_view_max_line_chars;
// A dialogue longer than this is shown up to here.
using limits::transcript_view_max_lines;

std::vector<std::string> stream_lines(const CappedBytes& bytes) {
  std::vector<std::string> lines;
  std::string_view rest = bytes.kept;
  while (!rest.empty()) {
    auto end = rest.find("\r\n");
    lines.push_back(printable(rest.substr(0, end), transcript_view_max_line_chars));
    if (end == std::string_view::npos) break;  // the stream stopped mid-line
    rest.remove_prefix(end + 2);
  }
  return lines;
}

// Reply lines grouped into replies: "250-..." continues, "250 ..." (or a short line) ends
// one (RFC 5321 4.2.1).
std::vector<std::vector<std::string>> replies_of(const std::vector<std::string>& lines) {
  std::vector<std::vector<std::string>> replies;
  bool open = false;
  for (const auto& line : lines) {
    if (!open) replies.emplace_back();
    replies.back().push_back(line);
    open = line.size() >= 4 && line[3] == '-';
  }
  return replies;
}

void cut_note(std::vector<DialogueLine>& out, const CappedBytes& bytes, const char* direction) {
  if (bytes.truncated())
    out.push_back({DialogueLine::Kind::note, "(" + std::to_string(bytes.total - bytes.kept.size()) +
                                                 " more bytes " + direction + ", not kept)"});
}

void append_phase(std::vector<DialogueLine>& out, const PhaseTranscript& phase, bool server_first) {
  const auto commands = stream_lines(phase.to_server);
  const auto replies = replies_of(stream_lines(phase.to_client));
  std::size_t next_reply = 0;
  auto reply = [&] {
    for (const auto& line : replies[next_reply])
      out.push_back({DialogueLine::Kind::to_client, line});
    ++next_reply;
  };
  if (server_first && next_reply < replies.size()) reply();
  for (const auto& command : commands) {
    out.push_back({DialogueLine::Kind::to_server, command});
    if (next_reply < replies.size()) reply();
  }
  while (next_reply < replies.size()) reply();
  cut_note(out, phase.to_server, "to the server");
  cut_note(out, phase.to_client, "to the client");
}

std::string cell_prefix(DialogueLine::Kind kind) {
  switch (kind) {
    case DialogueLine::Kind::to_server:
      return "-> ";
    case DialogueLine::Kind::to_client:
      return "<- ";
    case DialogueLine::Kind::note:
      break;
  }
  return "";
}

// One cell's text in pieces of at most `width` columns; continuations are indented under
// the text after the arrow.
std::vector<std::string> cell_pieces(const DialogueLine* line, std::size_t width) {
  if (!line) return {""};
  const std::string prefix = cell_prefix(line->kind);
  const std::string indent(prefix.size(), ' ');
  std::vector<std::string> pieces;
  std::string_view rest = line->text;
  std::string lead = prefix;
  const std::size_t room = width > lead.size() + 8 ? width - lead.size() : 8;
  do {
    pieces.push_back(lead + std::string(rest.substr(0, room)));
    rest.remove_prefix(std::min(room, rest.size()));
    lead = indent;
  } while (!rest.empty());
  return pieces;
}

struct Row {
  const DialogueLine* left = nullptr;
  const DialogueLine* right = nullptr;
  char mark = '|';
};

// Aligns two dialogues on their longest common subsequence of lines; between shared lines,
// lines of the same kind are paired as changed ('!'), the rest stand alone ('<', '>').
std::vector<Row> align(const std::vector<DialogueLine>& a, const std::vector<DialogueLine>& b) {
  const std::size_t n = std::min(a.size(), transcript_view_max_lines),
                    m = std::min(b.size(), transcript_view_max_lines);
  std::vector<std::uint16_t> lcs((n + 1) * (m + 1), 0);
  auto at = [&](std::size_t i, std::size_t j) -> std::uint16_t& { return lcs[i * (m + 1) + j]; };
  for (std::size_t i = n; i-- > 0;)
    for (std::size_t j = m; j-- > 0;)
      at(i, j) = a[i] == b[j] ? static_cast<std::uint16_t>(at(i + 1, j + 1) + 1)
                              : std::max(at(i + 1, j), at(i, j + 1));
  std::vector<Row> rows;
  std::vector<const DialogueLine*> gap_a, gap_b;
  auto flush_gap = [&] {
    std::size_t i = 0, j = 0;
    while (i < gap_a.size() && j < gap_b.size()) {
      if (gap_a[i]->kind == gap_b[j]->kind)
        rows.push_back({gap_a[i++], gap_b[j++], '!'});
      else if (gap_a.size() - i >= gap_b.size() - j)
        rows.push_back({gap_a[i++], nullptr, '<'});
      else
        rows.push_back({nullptr, gap_b[j++], '>'});
    }
    for (; i < gap_a.size(); ++i) rows.push_back({gap_a[i], nullptr, '<'});
    for (; j < gap_b.size(); ++j) rows.push_back({nullptr, gap_b[j], '>'});
    gap_a.clear();
    gap_b.clear();
  };
  std::size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      flush_gap();
      rows.push_back({&a[i++], &b[j++], '|'});
    } else if (j >= m || (i < n && at(i + 1, j) >= at(i, j + 1))) {
      gap_a.push_back(&a[i++]);
    } else {
      gap_b.push_back(&b[j++]);
    }
  }
  flush_gap();
  return rows;
}

std::string rstrip(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string tls_note(const std::string& version, const std::string& error) {
  if (!error.empty()) return "-- TLS failed: " + printable(error, 200) + " --";
  return "-- TLS " + (version.empty() ? std::string("started") : printable(version, 40)) + " --";
}

std::string no_connection(const ClientProbe& probe) {
  std::string why(to_string(probe.connect));
  std::replace(why.begin(), why.end(), '_', ' ');
  if (!probe.connect_error.empty()) why += ": " + probe.connect_error;
  return "(no connection: " + printable(why, 300) + ")";
}

}  // namespace

std::vector<DialogueLine> dialogue_lines(const Transcript& transcript,
                                         const std::string& tls_note_line) {
  std::vector<DialogueLine> out;
  const bool cleartext =
      !transcript.plain.to_server.kept.empty() || !transcript.plain.to_client.kept.empty();
  if (cleartext) append_phase(out, transcript.plain, true);
  if (!tls_note_line.empty()) out.push_back({DialogueLine::Kind::note, tls_note_line});
  append_phase(out, transcript.tls, !cleartext);
  return out;
}

std::string side_by_side(const std::vector<DialogueLine>& left,
                         const std::vector<DialogueLine>& right, const std::string& left_title,
                         const std::string& right_title, std::size_t width) {
  const std::size_t column = std::max<std::size_t>(20, (width > 3 ? width - 3 : 0) / 2);
  std::string out = rstrip(pad(left_title, column) + "   " + right_title) + "\n";
  for (const Row& row : align(left, right)) {
    auto l = cell_pieces(row.left, column), r = cell_pieces(row.right, column);
    for (std::size_t k = 0; k < std::max(l.size(), r.size()); ++k)
      out += rstrip(pad(k < l.size() ? l[k] : "", column) + " " + row.mark + " " +
                    (k < r.size() ? r[k] : "")) +
             "\n";
  }
  if (left.size() > transcript_view_max_lines || right.size() > transcript_view_max_lines)
    out += "(cut after " + std::to_string(transcript_view_max_lines) + " lines)\n";
  return out;
}

std::string probe_transcript(const ProbeEvidence& evidence, std::size_t width) {
  const ClientProbe& probe = evidence.client;
  std::vector<DialogueLine> mine;
  if (probe.connect != ConnectOutcome::connected) {
    mine.push_back({DialogueLine::Kind::note, no_connection(probe)});
  } else {
    mine = dialogue_lines(probe.transcript,
                          probe.tls_attempted ? tls_note(probe.tls_version, probe.tls_error) : "");
    if (mine.empty()) mine.push_back({DialogueLine::Kind::note, "(connected; nothing was said)"});
  }
  std::vector<DialogueLine> theirs;
  const ReflectorEvidence& reflector = evidence.reflector;
  if (evidence.target == Target::destination) {
    theirs.push_back({DialogueLine::Kind::note, "(a destination: no reflector record)"});
  } else if (!reflector.report_available) {
    theirs.push_back({DialogueLine::Kind::note, "(no report from the reflector: " +
                                                    printable(reflector.report_error, 300) + ")"});
  } else if (reflector.tagged.empty()) {
    theirs.push_back({DialogueLine::Kind::note, "(the reflector has no record of this probe)"});
  } else {
    const ConnectionRecord& record = reflector.tagged.front();
    theirs = dialogue_lines(record.transcript,
                            record.tls_version.empty() ? "" : tls_note(record.tls_version, ""));
    if (theirs.empty())
      theirs.push_back({DialogueLine::Kind::note, "(recorded; nothing was said)"});
    if (reflector.tagged.size() > 1)
      theirs.push_back(
          {DialogueLine::Kind::note, "(" + std::to_string(reflector.tagged.size() - 1) +
                                         " more connections carried this probe's tag)"});
  }
  return side_by_side(mine, theirs, "this client sent (->) and received (<-)",
                      evidence.target == Target::destination
                          ? std::string("the reflector")
                          : "the reflector received (->) and sent (<-)",
                      width);
}

}  // namespace egress25::client
