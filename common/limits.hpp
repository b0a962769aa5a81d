// Every cap, deadline and table bound in egress25, in one place with its reason.
#pragma once

#include <chrono>
#include <cstddef>

namespace egress25::limits {

using namespace std::chrono_literals;

// --- Control protocol -------------------------------------------------------------
// A request is a handful of short fields; anything bigger is hostile (iperf3's CVEs
// came from unbounded control reads).
inline constexpr std::size_t max_request_frame = 8 * 1024;
// A REPORT carries capped transcripts for a bounded number of connections.
inline constexpr std::size_t max_response_frame = 4 * 1024 * 1024;
// Requests one control connection may make before it is closed.
inline constexpr int max_requests_per_control_connection = 16;
inline constexpr auto control_idle_timeout = 15s;
// A control connection's whole life, however its bytes trickle in: without it a peer
// sending one byte every 14 s holds a slot for days (slowloris). A check's HELLO and
// REPORT take seconds; the client reconnects for a REPORT when its connection is gone.
inline constexpr auto control_connection_lifetime = 2min;
// A shared secret (--secret-file) is a password, not a document: a file longer than this
// is the wrong file.
inline constexpr std::size_t max_secret_bytes = 1024;

// --- Sessions (reflector) ----------------------------------------------------------
inline constexpr std::size_t max_sessions = 4096;
// Live sessions one source may hold (an IPv4 address, an IPv6 /64: one host or one
// customer's network): a check needs one, so one source filling the table with HELLOs
// would lock everyone else out for session_lifetime. Generous for a NAT of many users.
inline constexpr std::size_t max_sessions_per_source = 64;
inline constexpr auto session_lifetime = 10min;
// Connections recorded per session: a check probes a few ports × 2 families. With four
// capped streams each (base64 + a 2 KiB text rendering), 32 records stay under
// max_response_frame: 32 × 4 × (16 KiB × 4/3 + 2 KiB) ≈ 3 MiB.
inline constexpr std::size_t max_connections_per_session = 32;
// Connections kept that carried no known tag (a rewritten EHLO, a scanner): recent
// ones only, so a REPORT can say "something from your address arrived without a tag".
inline constexpr std::size_t max_untagged_connections = 1024;
// Concurrent connections accepted on mail ports, in all and per source address.
inline constexpr std::size_t max_concurrent_connections = 512;
inline constexpr std::size_t max_concurrent_per_source = 16;
// Connections refused for those caps, remembered by source address and local port for
// session_lifetime, so a REPORT can say "the reflector refused you itself" and the client
// does not blame the path (issue 11). Sources that complete a handshake are real, but an
// IPv6 host has a /64 of them: the least recently refused entry is forgotten first.
// About 200 bytes an entry.
inline constexpr std::size_t max_refusal_entries = 4096;
// Refusals one REPORT carries: a session has two public addresses at most and a
// reflector serves a handful of ports; a longer --smtp-ports list keeps the most recent.
// About 250 bytes each: 16 KiB beside max_response_frame's other contents.
inline constexpr std::size_t max_refused_per_report = 64;
// A source over a cap is told once per this interval in the log, with a count: one
// warning per refused connection would let one busy NAT flood the log.
inline constexpr auto refusal_log_interval = 10s;

// --- Metrics endpoint (reflector --metrics) -------------------------------------------
// A scrape is "GET /metrics" and a few headers: Prometheus sends about 300 bytes.
inline constexpr std::size_t max_metrics_request = 4 * 1024;
// A whole scrape, request to response: Prometheus's default scrape_timeout is 10 s, and a
// page of text over loopback takes milliseconds. A peer trickling its request holds a
// slot for no longer than this.
inline constexpr auto metrics_connection_timeout = 5s;
// Scrapes served at once: one or two Prometheus servers and an operator's curl. More is
// a flood on an endpoint that should be on loopback; extra connections are closed.
inline constexpr std::size_t max_concurrent_scrapes = 4;

// --- SMTP ---------------------------------------------------------------------------
// RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF; 4.5.3.1.5: a
// reply line at most 512. We allow 1000 (the text-line limit of 4.5.3.1.6) to be
// lenient with real servers, and no more.
inline constexpr std::size_t max_smtp_line = 1000;
// A multi-line reply (EHLO) with more lines than this is hostile.
inline constexpr std::size_t max_reply_lines = 64;
// Commands one SMTP session may issue before the reflector closes it.
inline constexpr int max_smtp_commands = 50;
// Bytes kept of each direction of each phase of a dialogue. What is past the cap is
// counted, not kept, and the record says it was truncated.
inline constexpr std::size_t transcript_cap = 16 * 1024;
inline constexpr auto smtp_idle_timeout = 30s;
inline constexpr auto tls_handshake_timeout = 15s;
// An SMTP session's whole life: commands, line length and the idle timeout bound each
// step, but a peer trickling a byte every 29 s would still hold a slot for weeks.
inline constexpr auto smtp_session_lifetime = 5min;

// --- Client -------------------------------------------------------------------------
// Linux retransmits an unanswered SYN after 1 s (RFC 6298 initial RTO), so a budget
// below ~1.5 s cannot see a retransmission answered.
inline constexpr auto min_probe_timeout = 1500ms;
inline constexpr auto max_probe_timeout = 30s;
inline constexpr auto default_control_timeout = 5s;
// Maximum TTL / hop limit tried when tracing, and how many go out at once.
inline constexpr int max_trace_ttl = 30;
inline constexpr int trace_parallelism = 30;

// --- Packet witness -----------------------------------------------------------------
inline constexpr std::size_t max_witness_flows = 65536;
inline constexpr auto witness_flow_lifetime = 10min;
// Witness flows one REPORT carries. SYNs with a forged source are cheap: a flood in a
// client's name must not push its REPORT over max_response_frame (about 250 bytes a
// flow; 2048 flows ≈ 0.5 MiB beside the records' ≈ 3 MiB). Over the cap the REPORT says
// the witness cannot tell this client's flows apart, rather than sending a part.
inline constexpr std::size_t max_witness_flows_per_report = 2048;

}  // namespace egress25::limits
