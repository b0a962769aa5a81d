// Every cap, deadline and table bound in egress25, in one place with its reason.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>

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
// The fields of a message, each bounded before the decoder looks inside. JSON nesting:
// the deepest message (a REPORT's transcripts) needs 6.
inline constexpr int max_json_depth = 16;
// A program version ("0.9.1", a git describe), a message type, an error code: one word.
inline constexpr std::size_t max_version_text = 64;
inline constexpr std::size_t max_type_text = 64;
// A word of a closed list ("ipv4", "smtps").
inline constexpr std::size_t max_enum_word = 16;
// An IP address as text: IPv6 with a zone id fits.
inline constexpr std::size_t max_address_text = 64;
// One sentence: a reason, an error message, an end reason, a banner identity.
inline constexpr std::size_t max_reason_text = 1024;
// The evidence's kinds, names, TLS versions and cipher names, probe tags and SNI.
inline constexpr std::size_t max_short_text = 256;
// Services a HELLO answer lists (a reflector serves a handful of ports), and each name.
inline constexpr std::size_t max_services = 32;
inline constexpr std::size_t max_service_name = 32;
// Ports a CONNECT_BACK, and its answer, may name: more than the mail ports is a scan,
// not a check. The reflector judges each against its own list; this only bounds the array.
inline constexpr std::size_t max_connect_back_items = 8;
// Dropped connections a REPORT may claim, and refusals one entry may count: a bound of
// sanity, no more.
inline constexpr std::uint64_t max_reported_count = std::numeric_limits<std::uint32_t>::max();
// A time in Unix milliseconds: whatever a signed 64-bit count holds; only a negative one
// is refused.
inline constexpr std::int64_t max_unix_ms = std::numeric_limits<std::int64_t>::max();
// The witness lookback a HELLO answer declares, and how long before its HELLO a client
// says its probes started: one longer than a session's life would be a bug.
inline constexpr std::int64_t max_witness_lookback_ms = 24 * 3600 * 1000;
// The index in a probe tag ("p12-<id>"): a check makes a few probes, never a million.
inline constexpr std::size_t max_tag_index_digits = 6;
// A host name: 253 characters as text (RFC 1035 2.3.4: 255 octets on the wire).
inline constexpr std::size_t max_host_name = 253;

// --- Fair share (reflector) ------------------------------------------------------------
// After Postfix's anvil and postscreen: every cap below counts per source address and per
// network prefix, so that neither one host nor one network can take what everyone shares.
// An IPv4 /24 is one customer or one small hosting block; an IPv6 /64 is one host, which
// picks any address in it at will (RFC 4941). Each has a reflector option of the same
// name (egress25-reflector --help); the defaults fit a small VPS (1 GB, one core). A check
// needs one session, one to three control connections and one connection per port and
// family, plus up to max_trace_ttl connects per traced port at once; a NAT of many users
// needs many times that, hence caps per address well above one check.
inline constexpr int default_ipv4_prefix = 24;
inline constexpr int default_ipv6_prefix = 64;
// Concurrent connections on the mail ports, and apart from them on the control port: in
// all, per address, per prefix. 512 idle connections cost about 4 MiB of memory.
inline constexpr std::size_t max_concurrent_connections = 512;
inline constexpr std::size_t max_concurrent_per_address = 16;
inline constexpr std::size_t max_concurrent_per_prefix = 64;
// New connections a minute per address and per prefix, as token buckets holding a
// minute's worth. A burst is fine (a traced check sends up to max_trace_ttl connects per
// traced port at once); a flood is not: each one costs an accept, a TLS handshake on 465,
// a refusal. 8 a second per address, 32 per prefix, after the burst.
inline constexpr double connection_rate_per_address = 480;
inline constexpr double connection_rate_per_prefix = 1920;
// Keys a rate table remembers (about 200 bytes each: 13 MiB at most). A quiet key is
// forgotten once its bucket is full again; past the cap, the one quiet longest.
inline constexpr std::size_t max_rate_keys = 65536;
// At its address's or prefix's cap, a newcomer takes the place of that source's oldest
// untagged connection that has been silent this long: a source's own idle connections
// must not lock out the other users behind its NAT. A real probe speaks within an RTT.
inline constexpr auto shed_idle_after = 2s;
// Stress mode: from this fraction of a table's cap, connections already open get the
// shorter timeouts below too (a sweep each second closes those past them), so that room
// is made before the cap refuses anyone.
inline constexpr double stress_fraction = 0.75;
// Under stress: an untagged connection (no tag; on control, no request) this old, or any
// connection silent this long, is closed. A probe shows its tag in its first command;
// a control client waiting between HELLO and REPORT reconnects when it is closed.
inline constexpr auto stress_untagged_lifetime = 5s;
inline constexpr auto stress_idle_timeout = 10s;

// --- Sessions (reflector) ----------------------------------------------------------
inline constexpr std::size_t max_sessions = 4096;
// Sessions under way (not yet reported) per address and per prefix: a check needs one.
inline constexpr std::size_t max_sessions_per_address = 16;
inline constexpr std::size_t max_sessions_per_prefix = 64;
// HELLOs that open a session, a minute, per address and per prefix (token buckets of a
// minute's worth): a check sends one; 64 sources sending 4096 in 0.4 s must not fill the
// table (issue 7).
inline constexpr double hello_rate_per_address = 30;
inline constexpr double hello_rate_per_prefix = 120;
// A session lives session_lifetime once a probe of it arrived. One that no probe has
// reached and that has not been reported is gone after unprobed_session_lifetime: a
// client whose every port is blocked asks its REPORT after the probe timeout
// (max_probe_timeout, 30 s, at most), so a minute is enough, and a flood of HELLOs holds
// its sessions for a minute, not ten.
inline constexpr auto session_lifetime = 10min;
inline constexpr auto unprobed_session_lifetime = 60s;
// After its first REPORT a session has served its client, which may ask again if the
// answer was lost: it lingers this long, and no longer counts toward its source's caps.
inline constexpr auto reported_session_linger = 60s;
// Connections recorded per session: a check probes a few ports × 2 families. With four
// capped streams each (base64 + a 2 KiB text rendering), 32 records stay under
// max_response_frame: 32 × 4 × (16 KiB × 4/3 + 2 KiB) ≈ 3 MiB.
inline constexpr std::size_t max_connections_per_session = 32;
// Connections kept that carried no known tag (a rewritten EHLO, a scanner): recent
// ones only, so a REPORT can say "something from your address arrived without a tag".
inline constexpr std::size_t max_untagged_connections = 1024;
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

// --- Connect-back (reflector, `egress25 check --inbound`) -----------------------------
// The reflector connects back to a session's own control address (never one a client
// names), on the mail ports and one reference port, speaking EHLO and QUIT only. Each
// bound keeps it from being anyone's port scanner or a flood source.
// Mail ports one request may name: 25, 465 and 587 are all there are.
inline constexpr std::size_t max_connect_back_ports = 3;
// Connect-backs (one port, one family: a connect, its dialogue, a trace when it failed)
// begun a minute by the whole reflector, as a token bucket of a minute's worth: a check
// asks for 1 to 3 ports over 2 families; 60 a minute serve a busy public reflector and
// keep its outbound SYNs (up to max_trace_ttl × 2 per traced port) far from a scan.
inline constexpr double connect_back_rate = 60;
// Connect-backs under way at once, reflector-wide: each holds a socket, and while it
// traces up to 2 × trace_parallelism more.
inline constexpr std::size_t max_concurrent_connect_backs = 8;
// The TCP handshake, then each reply (banner, EHLO, QUIT) and a TLS handshake on 465: a
// mail server greets within seconds (RFC 5321 4.5.3.2 lets it take 5 min; a test need not).
inline constexpr auto connect_back_connect_timeout = 5s;
inline constexpr auto connect_back_reply_timeout = 5s;
// The trace of a connect-back that did not reach a server: all TTLs at once.
inline constexpr auto connect_back_trace_budget = 3s;
// A whole connect-back request, every port in parallel: connect, three replies and a TLS
// handshake, then a trace. The client waits this long for the answer, plus its RTT.
inline constexpr auto connect_back_request_budget = 30s;
// The banner kept for the report: one greeting, its lines capped like any reply.
inline constexpr std::size_t max_connect_back_banner = 1024;
// The reference port the client names must be unprivileged (≥ 1024): it is the client's
// own listener, which needs no privilege, so it can never aim the reflector at a service.
inline constexpr unsigned min_reference_port = 1024;

// --- Self-test (reflector --self-test: can this host open port 25 to a destination?) -----
// It runs from the operator's shell against a destination the operator names, once, and
// speaks EHLO and QUIT only: the bounds keep one run short and polite to that host.
// The TCP handshake: Linux retransmits a SYN after 1, 3 and 7 s, so 10 s sees a lossy
// path answer the third retransmission; a silent drop is then a drop, not bad luck.
inline constexpr auto self_test_connect_timeout = 10s;
// Each reply (greeting, EHLO, QUIT): Postfix's postscreen holds its greeting 6 s by
// default and some MXes tarpit longer; RFC 5321 4.5.3.2.1 allows 5 min, a test need not.
inline constexpr auto self_test_reply_timeout = 20s;
// Each reference port's plain connect (connect and close, no byte sent), one after another.
inline constexpr auto self_test_reference_timeout = 5s;
// The trace of port 25 beside the reference port: all TTLs at once.
inline constexpr auto self_test_trace_budget = 3s;
// The MX query and the address lookups of --target together.
inline constexpr auto self_test_resolve_timeout = 10s;

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
// A transcript cap a REPORT may declare: above any the reflector uses; a bigger one is
// nonsense.
inline constexpr std::uint64_t max_declared_transcript_cap = 64 * 1024 * 1024;
// A stream's base64 text: at most a response frame's worth of bytes.
inline constexpr std::size_t max_transcript_b64 = (max_response_frame + 2) / 3 * 4;
// How much of a stream a REPORT's "text" rendering shows; "b64" always carries all of it.
inline constexpr std::size_t transcript_text_preview = 2048;
// Places one connection shows its tag in: EHLO, SNI, EHLO after STARTTLS, with room.
inline constexpr std::size_t max_tag_places = 8;
// A trace has one hop per TTL, and TTLs stop at 255.
inline constexpr std::size_t max_trace_hops = 255;
// Over-long lines tolerated before the session is closed: a client that keeps sending
// them is not speaking SMTP.
inline constexpr int max_long_smtp_lines = 3;
inline constexpr auto smtp_idle_timeout = 30s;
// An SMTP connection that has shown no live session's tag (in its EHLO or SNI) this long
// after it opened is closed: a probe shows it in its first command, and a scanner or a
// slow drip must not hold a slot for smtp_session_lifetime.
inline constexpr auto untagged_smtp_lifetime = 30s;
inline constexpr auto tls_handshake_timeout = 15s;
// An SMTP session's whole life: commands, line length and the idle timeout bound each
// step, but a peer trickling a byte every 29 s would still hold a slot for weeks.
inline constexpr auto smtp_session_lifetime = 5min;
// The last words, which are worth a short deadline only: the 421 after an idle timeout,
// the TLS close_notify.
inline constexpr auto smtp_farewell_timeout = 2s;
// At shutdown (SIGTERM) each open SMTP session is told 421 (RFC 5321 3.8) and closes; the
// daemon waits this long for them, then exits anyway: a peer that reads nothing must not
// hold up a restart (systemd waits 90 s before it kills).
inline constexpr auto shutdown_grace = 5s;

// --- Reflector I/O ------------------------------------------------------------------
// Bytes an SMTP or control session reads at once. Plain reads go into one buffer the
// thread shares, so an idle connection holds no read buffer at all (a TLS session has
// one of its own, of this size).
inline constexpr std::size_t session_read_size = 4096;
// Lingering close (Apache's and nginx's): after its FIN a session reads and drops what
// the peer still sends, so that closing with unread input does not make Linux send a
// reset that destroys the last reply; this much at most, for this long at most.
inline constexpr std::size_t lingering_close_max_bytes = 64 * 1024;
inline constexpr auto lingering_close_time = 2s;
// A refused connection: what the peer sent before its refusal is read and dropped at
// once, never waited for; a control request at most (a mail client waits for the
// greeting).
inline constexpr std::size_t refusal_drain_max_bytes = max_request_frame + 4;
// Asio's pool of socket states, grown at start-up in one piece (reflector.cpp,
// warm_socket_pool): this many (about 11 MiB) cover any cap a VPS can hold; past it,
// sockets are added as they come. The descriptors it leaves free of the limit: listeners,
// the witness, files.
inline constexpr std::size_t max_warmed_sockets = 65536;
inline constexpr std::size_t warm_descriptor_headroom = 256;
// The log (LogLimiter): one line per connection is what an operator expects of a few
// checks a second; a flood from one prefix gets 5 lines a second, and all kinds together
// 50. Kinds tracked at once (a flood from many prefixes makes many): beyond it the kind
// quiet longest is forgotten, its count told at the next flush.
inline constexpr std::size_t log_lines_per_kind = 50;
inline constexpr std::size_t log_lines_all_kinds = 500;
inline constexpr auto log_interval = 10s;
inline constexpr std::size_t max_log_kinds = 1024;

// --- Client -------------------------------------------------------------------------
// Linux retransmits an unanswered SYN after 1 s (RFC 6298's initial RTO): the default
// budget, 1 s + 4 × the control RTT, sees that retransmission answered with three RTTs
// to spare. Below a 50 ms RTT it takes this floor instead: 200 ms after the
// retransmission, four times a 50 ms round trip plus the kernel timer's slack (a jiffy).
// It was 1.5 s; nmap -sT gives a silent port about 1.25 s.
inline constexpr auto syn_retransmit_time = 1s;
inline constexpr auto min_probe_timeout = 1200ms;
inline constexpr auto max_probe_timeout = 30s;
// --timeout is a per-probe budget; past five minutes it is a typo.
inline constexpr auto max_timeout_option = 300s;
inline constexpr auto default_control_timeout = 5s;
// A REPORT carries capped transcripts of every probe: give it longer than a HELLO.
inline constexpr auto report_timeout = 3 * default_control_timeout;
// Enough of a foreign peer's first bytes on the control port to tell SMTP, HTTP, SSH or
// TLS, and to quote it.
inline constexpr std::size_t control_first_bytes_kept = 128;
// Ports one check may probe: each costs a connection per family, and the reflector
// records at most max_connections_per_session per session.
inline constexpr std::size_t max_ports = 16;
// MX hosts of a destination probed (lowest preference first); the reflector's
// --self-test tries as many (common/destination.cpp resolves for both).
inline constexpr std::size_t max_destination_hosts = 3;
// The resolver's own bounds for the MX query (res_state): seconds per try, tries per
// name server.
inline constexpr int mx_retrans_seconds = 2;
inline constexpr int mx_retry = 1;
// A port whose SYN has no answer after 3 control RTTs is traced while its probe goes on
// (check.cpp); never sooner than this floor, so that on a LAN or loopback the timer's and
// the scheduler's slack do not pass for silence.
inline constexpr auto min_trace_delay = 150ms;
// Silent hops are waited for until the probe gives up, and never less than what one
// answer from the far end of a slow path needs.
inline constexpr auto min_trace_budget = 500ms;
// The witness window is widened on each side by the control RTT (the clock offset can be
// wrong by half of it, and a SYN takes about that long to arrive) plus this margin, and
// by no more than the bound.
inline constexpr auto witness_slack_margin = 250ms;
inline constexpr auto max_witness_slack = 2s;
// --show-transcript: a dialogue longer than this is shown up to here (the alignment is
// quadratic, and the reflector keeps transcript_cap bytes per stream anyway); escaped
// lines longer than this are cut.
inline constexpr std::size_t transcript_view_max_lines = 1000;
inline constexpr std::size_t transcript_view_max_line_chars = 2000;
// check --inbound's own listener. Connections it serves on a port during a check: the
// reflector makes one per port and family; beyond a handful they are someone else's and
// are closed at once. Commands one connection may send, the bytes of a line waiting for
// its end, and its whole life: the connect-back says EHLO and QUIT within seconds.
inline constexpr int inbound_listener_sessions_per_port = 8;
inline constexpr int inbound_listener_max_commands = 8;
inline constexpr std::size_t inbound_listener_max_pending = 4096;
inline constexpr auto inbound_listener_session_lifetime = 15s;
// Maximum TTL / hop limit tried when tracing, and how many go out at once.
inline constexpr int max_trace_ttl = 30;
inline constexpr int trace_parallelism = 30;
// A trace's budget when its caller names none: all TTLs go out at once, so a trace costs
// about one budget, not one per hop.
inline constexpr auto default_trace_budget = 3s;
// How often a tracing connect looks at its socket even without a readiness event: the
// reactor is edge-triggered, and this bounds the cost of a notification missed (an error
// queued while no wait was registered) to one interval, not the budget.
inline constexpr auto trace_recheck_interval = 200ms;
// ICMP errors read from one socket's error queue at a time: the queue is bounded by the
// socket's receive buffer, and so is the loop; this is a hard cap against a misbehaving
// kernel.
inline constexpr int max_icmp_errors_per_read = 64;

// --- Packet witness -----------------------------------------------------------------
// The flow table is sized to the session table: a check makes one flow per port and
// family (3 ports × 2 families) and one per control connection; a traced port adds one
// per TTL-limited SYN that reaches the host (up to max_trace_ttl for it and as many for
// its reference port). 8 a session on average, at about 250 bytes a flow, is 8 MiB for
// the default 4096 sessions; past it the oldest flow goes first, and a REPORT comes
// seconds after its probes (32,768 flows are 500 traced checks in those seconds).
inline constexpr std::size_t witness_flows_per_session = 8;
inline constexpr auto witness_flow_lifetime = 10min;
// Bytes captured of each packet: the largest link header, IPv6 with a few extension
// headers, and TCP.
inline constexpr int witness_snaplen = 256;
// The kernel's capture ring (TPACKET_V3, memory-mapped, mapped into the RSS whole): libpcap
// cuts it into 256 KiB blocks, each handed over when full or after the block timeout, so
// 4 blocks let the capture thread fall 3 block timeouts behind before a packet is lost
// (counted in the metrics). A block of handshake segments (~300 bytes each with the
// headers, at most 6 a check) holds about 800 of them.
inline constexpr std::size_t witness_ring_bytes = 1024 * 1024;
// How late a block may be handed over: one wakeup per block rather than per packet. The
// kernel's timer runs in jiffies (4 ms at HZ=250), so a packet is handed over up to one
// or two jiffies late; a REPORT waits at most witness_report_wait for the capture to
// catch up with its arrival (at once when a later packet was already handed over).
inline constexpr auto witness_block_timeout = 1ms;
inline constexpr auto witness_report_wait = 10ms;
// A client starts its probes' connects beside the control connection, before its HELLO
// makes the session: a REPORT's witness flows reach back this far before the session's
// start, enough for a control connect that waited for its SYN's retransmissions. The
// client drops flows from before its own probes (its window); older flows of the same
// address cost only bytes.
inline constexpr auto witness_lookback = 15s;
// The client says how long before its HELLO its probes' first SYN left; both crossed the
// same path, so the SYN arrived that long before the HELLO, give or take the change in
// the path's queueing over that round trip. Arrivals from the client's address this much
// earlier still count. The margin cuts both ways: a HELLO delayed more than it would put
// the probes' own SYNs out of the window, and another program's connection from the same
// address less than it before the check would count as the check's. Back-to-back runs of
// nmap and egress25 (bench/) start 30 ms or more apart.
inline constexpr auto early_probe_margin = 20ms;
// Witness flows one REPORT carries. SYNs with a forged source are cheap: a flood in a
// client's name must not push its REPORT over max_response_frame (about 250 bytes a
// flow; 2048 flows ≈ 0.5 MiB beside the records' ≈ 3 MiB). Over the cap the REPORT says
// the witness cannot tell this client's flows apart, rather than sending a part.
inline constexpr std::size_t max_witness_flows_per_report = 2048;

// --- The home router's external address (check --inbound, client/gateway_query.cpp) ----
// SSDP's MX of 1 lets a device wait up to a second before it answers discovery (UPnP
// Device Architecture 1.1, 1.3.2); miniupnpc waits that long for each device type.
inline constexpr auto upnp_discovery_wait = 1s;
// NAT-PMP is one datagram to the gateway, retried by libnatpmp after 250 ms, 500 ms, 1 s
// (RFC 6886, 3.1): three tries.
inline constexpr auto natpmp_budget = 2s;
// The whole query, both protocols at once, beside the probes and the connect-back (which
// take longer): what does not answer by then is named as silent.
inline constexpr auto gateway_query_budget = 3s;
// The short trace toward the reflector that finds the first router past the local
// network (its address in shared space or not): a few TTLs, each a connect to the
// control port; a budget of 4 RTTs, never below what a LAN's slowest router needs.
inline constexpr int nat_trace_max_ttl = 6;
inline constexpr auto min_nat_trace_budget = 500ms;

}  // namespace egress25::limits
