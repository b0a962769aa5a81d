// Capped byte transcripts of an SMTP dialogue and their comparison across both ends.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "limits.hpp"

namespace egress25 {

// The first `cap` bytes of a stream, and how many there were in all.
struct CappedBytes {
  std::string kept;
  std::uint64_t total = 0;
  std::size_t cap = limits::transcript_cap;

  void append(std::string_view bytes);
  bool truncated() const { return total > kept.size(); }
  friend bool operator==(const CappedBytes&, const CappedBytes&) = default;
};

// One phase of a dialogue as one end saw it. "to_server" is what travelled client →
// server, "to_client" server → client, whichever end recorded it.
struct PhaseTranscript {
  CappedBytes to_server;
  CappedBytes to_client;
  friend bool operator==(const PhaseTranscript&, const PhaseTranscript&) = default;
};

// A whole dialogue: the cleartext phase (before STARTTLS, empty on implicit TLS) and the
// phase inside TLS.
struct Transcript {
  PhaseTranscript plain;
  PhaseTranscript tls;
  friend bool operator==(const Transcript&, const Transcript&) = default;
};

// What differs between the client's and the reflector's view of one dialogue.
enum class TranscriptFinding {
  banner_rewritten,          // the 220 greeting line differs
  starttls_removed,          // reflector offered STARTTLS in EHLO, client did not see it
  starttls_masked,           // ...client saw it overwritten (e.g. "XXXXXXXX")
  ehlo_reply_altered,        // other change to the EHLO reply
  command_altered,           // bytes the client sent arrived changed at the reflector
  reply_altered,             // other server → client bytes changed
  starttls_command_altered,  // the client's STARTTLS arrived as something else
  tls_phase_altered,         // bytes inside TLS differ (TLS terminated in the middle)
};

struct TranscriptDifference {
  TranscriptFinding finding;
  std::string detail;  // one sentence, quoting the differing line (escaped, capped)
};

// Compares the client's transcript with the reflector's. Streams are compared up to the
// shorter kept prefix, so a truncated side never reads as a change; a stream that one
// end saw end early (a dialogue cut short) is not a change either.
std::vector<TranscriptDifference> compare_transcripts(const Transcript& client_view,
                                                      const Transcript& reflector_view);

// A line as an operator may read it: printable ASCII kept, the rest as \xNN, at most
// `max` characters followed by "...". Never echo raw peer bytes into logs or reports.
std::string printable(std::string_view bytes, std::size_t max = 120);

// Text a peer chose, fit for a terminal: what the client prints of a reflector's error
// messages, version, service names and witness reasons, of a DNS name, and of reasons
// and summaries quoting them. As printable(), so ESC, CR, LF, BEL and every other byte
// outside printable ASCII shows as \xNN: a hostile reflector cannot clear the screen,
// set the window title or forge a line. Room for a paragraph; text of our own passes
// unchanged. The JSON report keeps the exact text instead (JSON escapes it).
std::string terminal_text(std::string_view text, std::size_t max = 4000);

}  // namespace egress25
