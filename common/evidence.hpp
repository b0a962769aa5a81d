// Evidence about one probe, from both ends and the path: the classifier's only input.
//
// Each source of evidence is optional on its own (the reflector's report, the packet
// witness, the hop trace), so that a missing source makes the verdict fall back
// honestly instead of changing shape.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net_types.hpp"
#include "transcript.hpp"
#include "verdict.hpp"

namespace egress25 {

// ---------------------------------------------------------------------------------
// What the client saw.

enum class ConnectOutcome {
  not_attempted,
  connected,
  refused,      // a TCP reset answered the SYN (ECONNREFUSED)
  timed_out,    // no answer within the budget
  icmp_error,   // an ICMP error came back (see IcmpReport), e.g. admin-prohibited
  local_error,  // this host could not even send: no route, no address of that family
};

std::string_view to_string(ConnectOutcome o);

// An ICMP error read with IP_RECVERR / IPV6_RECVERR, with the address that sent it.
struct IcmpReport {
  std::string sender;  // "" when the kernel gave none
  int type = 0;
  int code = 0;
  std::string description;  // "administratively prohibited", "port unreachable", ...
};

// How the dialogue after connect ended, as the client saw it.
enum class DialogueEnd {
  none,            // never connected
  completed,       // QUIT sent (and answered, when the 221 was awaited)
  reset,           // a TCP reset after the connection was up
  timed_out,       // silence in the middle of the dialogue
  closed_early,    // the server closed before the dialogue was over
  protocol_error,  // unparseable or oversized reply
  tls_failed,      // the TLS handshake failed (alert, bad record, EOF)
};

std::string_view to_string(DialogueEnd e);

struct ClientProbe {
  // What was probed.
  std::string host;     // as the user named it
  std::string address;  // the address connected to
  std::uint16_t port = 0;
  ServiceKind kind = ServiceKind::smtp;
  Family family = Family::ipv4;
  std::string service;        // "smtp", "submission", "smtps", ...
  std::string probe_tag;      // carried in EHLO (and in SNI on implicit TLS)
  std::string local_address;  // our end of the connection, when it connected

  // TCP.
  ConnectOutcome connect = ConnectOutcome::not_attempted;
  std::string connect_error;  // the system's words for a failure
  std::optional<IcmpReport> icmp;
  double connect_ms = 0;
  // For a connect that timed out: whether its SYN is known to have left this computer.
  // true when the kernel transmitted a retransmission of it; false when the kernel counted
  // a retransmission and transmitted none (this computer's own firewall or queue refused
  // it: Linux's tcpi_total_retrans without tcpi_retrans); nullopt when no retransmission
  // was due before the probe gave up, or the system does not say.
  std::optional<bool> syn_left_host;

  // SMTP / TLS.
  DialogueEnd end = DialogueEnd::none;
  std::string end_detail;
  std::optional<int> banner_code;
  std::string banner;                      // the whole greeting line(s), as received
  bool starttls_advertised = false;        // in the first EHLO reply
  std::optional<int> starttls_reply_code;  // the reply to our STARTTLS, if sent
  bool tls_attempted = false;
  bool tls_completed = false;
  std::string tls_error;
  std::string tls_version;
  std::string tls_cipher;
  std::string peer_cert_sha256;  // hex, lower case, of the leaf certificate (DER)
  std::string peer_cert_subject;

  Transcript transcript;
  double elapsed_ms = 0;
};

// ---------------------------------------------------------------------------------
// What the reflector recorded of one connection on a mail port.

struct ConnectionRecord {
  std::string probe_tag;                 // "" when none of the session's tags was seen
  std::vector<std::string> tag_seen_in;  // "ehlo", "sni", "ehlo_after_starttls"
  std::string peer_address;              // as seen by the reflector
  std::uint16_t peer_port = 0;
  std::string local_address;
  std::uint16_t local_port = 0;
  ServiceKind kind = ServiceKind::smtp;
  Family family = Family::ipv4;
  std::int64_t started_unix_ms = 0;
  std::int64_t ended_unix_ms = 0;  // 0 while still open
  std::string tls_version;
  std::string tls_cipher;
  std::string tls_sni;
  std::string end_reason;  // "quit", "peer closed", "idle timeout", "tls failed: ...", ...
  Transcript transcript;   // caps declared in each CappedBytes
};

// ---------------------------------------------------------------------------------
// What the packet witness saw of SYNs from the client's public address to one port.

struct WitnessPortView {
  bool syn_seen = false;
  bool synack_sent = false;
  bool rst_sent = false;
  bool handshake_completed = false;
  int syn_count = 0;
  std::optional<int> ttl;  // TTL / hop limit of the first SYN as it arrived
};

// ---------------------------------------------------------------------------------
// Hop tracing: TTL-limited connects for the probed port and a reference port.

enum class HopKind {
  time_exceeded,  // an ICMP time-exceeded from a router at this TTL
  unreachable,    // an ICMP destination-unreachable (see icmp_type / icmp_code)
  reached,        // the destination answered with SYN-ACK
  reset,          // a TCP reset answered at this TTL
  silent,         // nothing came back at this TTL
};

std::string_view to_string(HopKind k);

struct TraceHop {
  int ttl = 0;
  std::string address;  // "" when silent
  HopKind kind = HopKind::silent;
  int icmp_type = 0;
  int icmp_code = 0;
};

struct PortTrace {
  std::uint16_t port = 0;
  std::vector<TraceHop> hops;  // in TTL order, one per TTL tried
};

struct PathTrace {
  PortTrace probed;
  PortTrace reference;  // a port known to work to the same address (the control port)
};

// ---------------------------------------------------------------------------------
// What the reflector met when it connected back to the client's public address on one
// port (`egress25 check --inbound`): the same facts a probe records, seen from the
// reflector, and its trace toward that address when the connection did not get a banner.
// `egress25-reflector --self-test` records its connection to a mail destination's port 25
// in the same form (its `address` is then the destination's).

struct InboundAttempt {
  std::string address;        // the client's public address: the control connection's own
  std::string local_address;  // the reflector's end, when it connected
  std::uint16_t port = 0;
  ServiceKind kind = ServiceKind::smtp;  // smtps on 465: implicit TLS
  Family family = Family::ipv4;

  ConnectOutcome connect = ConnectOutcome::not_attempted;
  std::string connect_error;
  // local_error because this host's own firewall refused to send (EPERM, EACCES from
  // connect: a netfilter OUTPUT rule), not for want of a route. Not carried over the
  // control protocol: the self-test reads it.
  bool blocked_locally = false;
  std::optional<IcmpReport> icmp;
  double connect_ms = 0;
  // A connect that timed out: whether its SYN left the reflector host (as
  // ClientProbe::syn_left_host); nullopt when unknown, or from an older reflector.
  std::optional<bool> syn_left_host;

  DialogueEnd end = DialogueEnd::none;
  std::string end_detail;
  std::optional<int> banner_code;
  std::string banner;  // the greeting as received, capped
  std::optional<int> ehlo_code;
  std::optional<int> quit_code;
  bool tls_attempted = false;
  bool tls_completed = false;
  std::string tls_error;
  std::string tls_version;

  // Toward `address`: this port beside the client's reference port, from the reflector.
  std::optional<PathTrace> trace;
  std::string trace_unavailable;  // why there is none, when there is none

  std::int64_t started_unix_ms = 0;
  double elapsed_ms = 0;
};

// ---------------------------------------------------------------------------------
// All evidence about one probe.

enum class Target { reflector, destination };

struct ReflectorEvidence {
  bool report_available = false;
  std::string report_error;              // why not, when not available
  std::string expected_fingerprint;      // SHA-256 pinned over the control connection
  std::string banner_identity;           // a string the reflector's greeting contains
  std::string client_public_address;     // as seen on the control connection, this family
  bool port_advertised = false;          // the reflector said it listens on this port
  std::vector<ConnectionRecord> tagged;  // records carrying this probe's tag
  // Tagged connections of this session the reflector did not keep (over its cap): when
  // non-zero, an empty `tagged` may mean "not kept" rather than "never arrived".
  std::uint64_t connections_dropped = 0;
  int untagged_from_client = 0;  // connections to this port from the client's public
                                 // address that carried no tag
  // Packet witness: nullopt with a reason when the reflector ran without one.
  std::optional<WitnessPortView> witness;
  std::string witness_unavailable;
  // How the reflector saw the untagged connections from the client's address on this
  // port end ("peer reset", "idle timeout", ...), where its REPORT says.
  std::vector<std::string> untagged_end_reasons;
  // The reflector's own refusals of the client's address on this port (its per-source
  // cap, a full table), one sentence each: not a block anywhere on the path.
  std::vector<std::string> refusals;
  // Where this session's probes of the same family to the reflector's other ports
  // arrived from: a probe that alone arrives from another address was relayed.
  std::vector<std::string> sibling_sources;
};

// What the client knows of its own network for the probe's family: its own addresses
// and its default gateway. They tell this computer and the home network apart from the
// rest of the path.
struct HostNetwork {
  std::vector<std::string> local_addresses;
  std::string gateway;  // the default route's next hop; "" when there is none or unknown
  // The address the reflector saw this host come from, this family; "" when unknown. Not
  // in host_network's JSON: the classifier takes it from the reflector's evidence.
  std::string public_address;
};

struct ProbeEvidence {
  Target target = Target::reflector;
  ClientProbe client;
  ReflectorEvidence reflector;
  HostNetwork host;
  std::optional<PathTrace> trace;
  std::string trace_unavailable;  // why there is no trace, when there is none
  // For a destination probe: the verdict of the reflector probe of the same port and
  // family, which it is judged against.
  std::optional<Verdict> reference_verdict;
};

// A hop that stopped (or answered in place of the reflector) a probe: its TTL from the
// client, its address ("" when it never answered traceroute) and its role in words
// ("home router", "ISP (shared address space)", "in front of the reflector", ...).
struct BlockingHop {
  int ttl = 0;
  std::string address;
  std::string role;
  Segment segment = Segment::unknown;
};

struct Classification {
  Verdict verdict = Verdict::inconclusive;
  Location location = Location::unknown;
  // For location `path`: which part of it; nullopt otherwise.
  std::optional<Segment> segment;
  // Only when the evidence pins one hop; otherwise every hop that could have done it.
  std::optional<BlockingHop> blocking_hop;
  std::vector<BlockingHop> blocking_candidates;
  std::vector<std::string> reasons;
  // The reflector itself refused the client for its own limits: not a block.
  bool refused_by_reflector = false;
};

}  // namespace egress25
