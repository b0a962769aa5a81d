// --show-transcript: a probe's SMTP dialogue as this client saw it, side by side with what
// the reflector recorded, escaped and aligned line by line, the way swaks users read one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "evidence.hpp"

namespace egress25::client {

// One line of a dialogue in the order it was spoken.
struct DialogueLine {
  enum class Kind { to_server, to_client, note };
  Kind kind = Kind::note;
  std::string text;  // escaped (printable ASCII, the rest \xNN), without its CRLF

  friend bool operator==(const DialogueLine&, const DialogueLine&) = default;
};

// A transcript as the lines of its dialogue. Each end records the two directions as
// separate streams; SMTP is lock-step (RFC 5321 4.1.1, no PIPELINING here), so replies
// and commands are interleaved: the server greets first in the cleartext phase, and in
// the TLS phase too when there was no cleartext phase (implicit TLS). `tls_note` is the
// line that marks where TLS began ("" for none); a stream cut at its cap says so.
std::vector<DialogueLine> dialogue_lines(const Transcript& transcript, const std::string& tls_note);

// Two dialogues side by side in `width` columns under their titles, aligned on the lines
// they share. The middle column says how each row compares: '|' the same line, '!' a
// line that differs, '<' only on the left, '>' only on the right.
std::string side_by_side(const std::vector<DialogueLine>& left,
                         const std::vector<DialogueLine>& right, const std::string& left_title,
                         const std::string& right_title, std::size_t width);

// The whole --show-transcript block for one probe: its dialogue beside the reflector's
// record of it (or why there is none), in `width` columns.
std::string probe_transcript(const ProbeEvidence& evidence, std::size_t width);

}  // namespace egress25::client
