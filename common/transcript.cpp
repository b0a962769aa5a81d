// Capped byte transcripts, their comparison across both ends, and safe quoting of peer bytes.
#include "transcript.hpp"

#include "hex.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

namespace egress25 {

void CappedBytes::append(std::string_view bytes) {
  total += bytes.size();
  if (kept.size() < cap) kept.append(bytes.substr(0, cap - kept.size()));
}

std::string printable(std::string_view bytes, std::size_t max) {
  std::string out;
  out.reserve(std::min(bytes.size(), max) + 3);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    const bool plain = c >= 0x20 && c < 0x7f;
    // An escape is never split: stop before the piece that would not fit.
    if (out.size() + (plain ? 1 : 4) > max) {
      out += "...";
      return out;
    }
    if (plain) {
      out += static_cast<char>(c);
    } else {
      append_hex_escape(out, c);
    }
  }
  return out;
}

std::string terminal_text(std::string_view text, std::size_t max) {
  return printable(text, max);
}

namespace {

// One line of a stream, located by its byte offsets; `end` excludes the line terminator.
struct Line {
  std::size_t index = 0;  // 0-based line number in the stream
  std::size_t begin = 0;
  std::size_t end = 0;
  bool complete = false;  // a newline follows
};

std::string_view text_of(std::string_view s, const Line& l) {
  return s.substr(l.begin, l.end - l.begin);
}

// The lines of `s`, the last one possibly incomplete. CRLF or bare LF.
std::vector<Line> split_lines(std::string_view s) {
  std::vector<Line> lines;
  std::size_t begin = 0;
  while (begin < s.size()) {
    const auto nl = s.find('\n', begin);
    Line l;
    l.index = lines.size();
    l.begin = begin;
    if (nl == std::string_view::npos) {
      l.end = s.size();
      lines.push_back(l);
      break;
    }
    l.end = nl > begin && s[nl - 1] == '\r' ? nl - 1 : nl;
    l.complete = true;
    lines.push_back(l);
    begin = nl + 1;
  }
  return lines;
}

// The line holding byte `pos`.
std::size_t line_at(const std::vector<Line>& lines, std::size_t pos) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto next = i + 1 < lines.size() ? lines[i + 1].begin : std::string_view::npos;
    if (pos < next) return i;
  }
  return lines.empty() ? 0 : lines.size() - 1;
}

// A complete reply line that ends its reply: "250 text" or a bare "250" (RFC 5321 4.2.1).
bool is_final(std::string_view s, const Line& l) {
  const auto text = text_of(s, l);
  return l.complete && !(text.size() >= 4 && text[3] == '-');
}

// Reply numbers of the lines of a server → client stream: line i belongs to reply
// reply_of[i]. A reply ends at a line whose fourth byte is not '-' (RFC 5321 4.2.1).
std::vector<std::size_t> reply_numbers(std::string_view s, const std::vector<Line>& lines) {
  std::vector<std::size_t> reply_of;
  std::size_t reply = 0;
  for (const auto& l : lines) {
    reply_of.push_back(reply);
    if (is_final(s, l)) ++reply;
  }
  return reply_of;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

bool istarts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// The EHLO keyword of a reply line "250-STARTTLS" / "250 SIZE 1000": "STARTTLS" / "SIZE".
std::string_view keyword_of(std::string_view reply_line) {
  if (reply_line.size() <= 4) return {};
  auto rest = reply_line.substr(4);
  return rest.substr(0, rest.find(' '));
}

std::string quoted(std::string_view line) {
  return "\"" + printable(line) + "\"";
}

struct Mismatch {
  std::string_view client;
  std::string_view reflector;
  std::vector<Line> client_lines;
  std::vector<Line> reflector_lines;
  std::size_t line = 0;  // index of the line holding the first differing byte
};

// The first differing byte within the common kept prefix, if any. One side being a prefix
// of the other (a cap, a dialogue cut short) is not a difference.
std::optional<Mismatch> first_mismatch(const CappedBytes& client, const CappedBytes& reflector) {
  const std::string_view c = client.kept;
  const std::string_view r = reflector.kept;
  const auto n = std::min(c.size(), r.size());
  const auto diff = std::mismatch(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(n), r.begin());
  if (diff.first == c.begin() + static_cast<std::ptrdiff_t>(n)) return std::nullopt;
  const auto pos = static_cast<std::size_t>(diff.first - c.begin());
  Mismatch m{c, r, split_lines(c), split_lines(r), 0};
  // Both streams are identical before `pos`, so the line number is the same on both.
  m.line = line_at(m.client_lines, pos);
  return m;
}

std::string_view client_line(const Mismatch& m, std::size_t i) {
  return i < m.client_lines.size() ? text_of(m.client, m.client_lines[i]) : std::string_view{};
}
std::string_view reflector_line(const Mismatch& m, std::size_t i) {
  return i < m.reflector_lines.size() ? text_of(m.reflector, m.reflector_lines[i])
                                      : std::string_view{};
}

std::string sent_and_received(const Mismatch& m) {
  return "the reflector sent " + quoted(reflector_line(m, m.line)) + " but the client received " +
         quoted(client_line(m, m.line));
}

// Lines [first, last) of `lines` that belong to reply number `reply`.
std::pair<std::size_t, std::size_t> reply_span(const std::vector<std::size_t>& reply_of,
                                               std::size_t reply) {
  const auto first = std::find(reply_of.begin(), reply_of.end(), reply);
  const auto last = std::find_if(first, reply_of.end(), [&](auto r) { return r != reply; });
  return {static_cast<std::size_t>(first - reply_of.begin()),
          static_cast<std::size_t>(last - reply_of.begin())};
}

// A difference inside the first EHLO reply (RFC 3207: where STARTTLS is advertised).
TranscriptDifference classify_ehlo_reply(const Mismatch& m, std::size_t reply) {
  const auto client_reply_of = reply_numbers(m.client, m.client_lines);
  const auto reflector_reply_of = reply_numbers(m.reflector, m.reflector_lines);
  const auto [r_first, r_last] = reply_span(reflector_reply_of, reply);
  const auto [c_first, c_last] = reply_span(client_reply_of, reply);
  // The client's EHLO reply must be whole to say STARTTLS is absent from it.
  const bool client_whole = c_last > c_first && (c_last < m.client_lines.size() ||
                                                 is_final(m.client, m.client_lines.back()));
  bool client_has_starttls = false;
  for (auto i = c_first + 1; i < c_last; ++i)
    if (iequals(keyword_of(client_line(m, i)), "STARTTLS")) client_has_starttls = true;
  for (auto i = r_first + 1; i < r_last; ++i) {
    const auto offered = reflector_line(m, i);
    if (!iequals(keyword_of(offered), "STARTTLS")) continue;
    if (client_has_starttls || !client_whole) break;
    const auto seen = client_line(m, i);
    // Same line, same length, other bytes, and as many lines: overwritten in place (Cisco
    // PIX/ASA "ESMTP inspection" turns STARTTLS into "XXXXXXXA", keeping the line count).
    if (i < c_last && seen.size() == offered.size() && c_last - c_first == r_last - r_first)
      return {TranscriptFinding::starttls_masked,
              "STARTTLS was masked in the EHLO reply: the reflector sent " + quoted(offered) +
                  " but the client received " + quoted(seen)};
    return {TranscriptFinding::starttls_removed,
            "STARTTLS was removed from the EHLO reply: the reflector sent " + quoted(offered) +
                " but the client's EHLO reply did not offer it"};
  }
  return {TranscriptFinding::ehlo_reply_altered,
          "the EHLO reply changed on the way: " + sent_and_received(m)};
}

// True when the first command in `to_server` is EHLO.
bool opens_with_ehlo(const CappedBytes& to_server) {
  const auto commands = split_lines(to_server.kept);
  return !commands.empty() && istarts_with(text_of(to_server.kept, commands[0]), "EHLO");
}

TranscriptDifference classify_to_client(const Mismatch& m, const CappedBytes& client_to_server,
                                        const CappedBytes& reflector_to_server) {
  const auto reply_of = reply_numbers(m.client, m.client_lines);
  const auto reply = reply_of[m.line];
  if (reply == 0)
    return {TranscriptFinding::banner_rewritten,
            "the greeting changed on the way: " + sent_and_received(m)};
  // The second reply answers the client's first command; it is the EHLO reply when that
  // command was EHLO (as either end recorded it: one of them may have kept nothing).
  if (reply == 1 && (opens_with_ehlo(client_to_server) || opens_with_ehlo(reflector_to_server)))
    return classify_ehlo_reply(m, reply);
  return {TranscriptFinding::reply_altered, "a reply changed on the way: " + sent_and_received(m)};
}

TranscriptDifference classify_to_server(const Mismatch& m) {
  const auto sent = client_line(m, m.line);
  const auto arrived = reflector_line(m, m.line);
  if (iequals(sent, "STARTTLS"))
    return {TranscriptFinding::starttls_command_altered,
            "the client's STARTTLS command arrived at the reflector as " + quoted(arrived)};
  return {TranscriptFinding::command_altered, "a command changed on the way: the client sent " +
                                                  quoted(sent) + " but the reflector received " +
                                                  quoted(arrived)};
}

}  // namespace

std::vector<TranscriptDifference> compare_transcripts(const Transcript& client_view,
                                                      const Transcript& reflector_view) {
  std::vector<TranscriptDifference> out;
  if (auto m = first_mismatch(client_view.plain.to_client, reflector_view.plain.to_client))
    out.push_back(
        classify_to_client(*m, client_view.plain.to_server, reflector_view.plain.to_server));
  if (auto m = first_mismatch(client_view.plain.to_server, reflector_view.plain.to_server))
    out.push_back(classify_to_server(*m));
  // Inside TLS nothing on the path can change a byte without breaking the record MAC, so
  // any difference means the TLS session ended at something other than the reflector.
  if (auto m = first_mismatch(client_view.tls.to_client, reflector_view.tls.to_client))
    out.push_back({TranscriptFinding::tls_phase_altered, "inside TLS, " + sent_and_received(*m)});
  if (auto m = first_mismatch(client_view.tls.to_server, reflector_view.tls.to_server))
    out.push_back({TranscriptFinding::tls_phase_altered,
                   "inside TLS, the client sent " + quoted(client_line(*m, m->line)) +
                       " but the reflector received " + quoted(reflector_line(*m, m->line))});
  return out;
}

}  // namespace egress25
