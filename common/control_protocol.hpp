// The control protocol between client and reflector: messages, framing, validation.
//
// A frame is a 4-byte big-endian payload length followed by that many bytes of one
// JSON object carrying "v" (the protocol version) and "type". Requests are capped at
// limits::max_request_frame, responses at limits::max_response_frame. Every field is
// type-checked on decode; a frame that fails is an error, never a crash or a guess.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "evidence.hpp"
#include "net_types.hpp"

namespace egress25::control {

inline constexpr int protocol_version = 1;
inline constexpr std::uint16_t default_control_port = 7025;

// ---- Framing ------------------------------------------------------------------------

std::string encode_frame(std::string_view payload);

// Sans-io frame reader: feed bytes, take frames. A length above the cap is an error
// as soon as the 4 length bytes are in, before any payload is buffered.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_payload) : max_payload_(max_payload) {}

  enum class Status { need_more, frame, error };
  struct Result {
    Status status = Status::need_more;
    std::string payload;  // when status == frame
    std::string error;    // when status == error: one sentence
  };

  void feed(std::string_view bytes);
  Result next();
  std::size_t buffered() const { return buffer_.size(); }

 private:
  std::size_t max_payload_;
  std::string buffer_;
  bool failed_ = false;
};

// ---- Messages -----------------------------------------------------------------------

struct Service {
  std::uint16_t port = 0;
  ServiceKind kind = ServiceKind::smtp;
  // The name an operator knows it by ("submission"), which the port alone no longer
  // tells under --port-offset. Optional on the wire.
  std::string name;
  friend bool operator==(const Service&, const Service&) = default;
};

// Client → reflector. Without a token, opens a session; with one (from an earlier
// HELLO over the other address family), joins it so the reflector learns the client's
// public address for this family too.
struct HelloRequest {
  std::string client_version;
  std::optional<std::string> token;
  std::optional<std::string> secret;  // for a private reflector (--secret-file)
  // How long before this HELLO left the client its probes' first SYN left (they connect
  // beside the control connection): the reflector counts the session's arrivals from
  // then, in its own clock, with no clock offset to guess. Absent: from the session's
  // start. At most limits::witness_lookback is honoured.
  std::optional<std::int64_t> probes_started_ms_ago = {};
};

struct WitnessStatus {
  bool active = false;
  std::string reason;  // why not, when not active
};

struct HelloResponse {
  std::string token;           // secret: ≥128 random bits, hex; only REPORT takes it
  std::string probe_id;        // public: carried in probe EHLO names / SNI
  std::string client_address;  // the client's address as the reflector sees it
  std::uint16_t client_port = 0;
  Family family = Family::ipv4;
  std::vector<Service> services;
  std::string tls_fingerprint;  // SHA-256 of the reflector's certificate (DER), hex
  std::string banner_identity;  // a string every greeting of this reflector contains
  std::string version;
  WitnessStatus witness;
  std::int64_t server_time_unix_ms = 0;
  std::int64_t session_expires_unix_ms = 0;
  // How far before the session's start the REPORT's witness flows reach back: a client
  // may start its probes' connects with the control connection, before HELLO. Optional
  // on the wire (absent from an older reflector: 0, and the client then waits for HELLO).
  std::int64_t witness_lookback_ms = 0;
};

struct ReportRequest {
  std::string token;
};

// A connection to a mail port from one of the session's public addresses that carried
// none of its tags. Only metadata: its bytes may be someone else's behind the same NAT.
struct UntaggedConnection {
  std::string peer_address;
  std::uint16_t local_port = 0;
  Family family = Family::ipv4;
  std::int64_t started_unix_ms = 0;
  // How the reflector saw the connection end ("quit", "peer closed", "reset by peer",
  // "idle timeout", ...); empty while it is open. Optional on the wire (absent from an
  // older reflector: empty). The initializer keeps four-value brace lists warning-free.
  std::string end_reason = {};
};

// A connection from one of the session's public addresses that the reflector itself
// refused for its own limits (per-source cap, table full): not a block on the path.
struct RefusedConnection {
  std::string peer_address;
  std::uint16_t local_port = 0;
  Family family = Family::ipv4;
  std::string reason;  // one sentence, e.g. "too many connections from 192.0.2.10 (16)"
  std::uint64_t count = 0;
  std::int64_t first_unix_ms = 0;
  std::int64_t last_unix_ms = 0;
};

// What the packet witness saw of one TCP flow from a session's public address.
struct WitnessFlow {
  Family family = Family::ipv4;
  std::string source_address;
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  int ttl = 0;
  bool syn_seen = false;
  bool synack_sent = false;
  bool rst_sent = false;
  bool handshake_completed = false;
  int syn_count = 0;
  std::int64_t first_seen_unix_ms = 0;
};

struct ReportResponse {
  std::vector<ConnectionRecord> connections;  // tagged with this session's probe_id
  std::vector<UntaggedConnection> untagged;
  WitnessStatus witness;
  std::vector<WitnessFlow> witness_flows;
  std::optional<std::string> public_ipv4;
  std::optional<std::string> public_ipv6;
  // Connections that carried this session's tag but were not kept, the session holding
  // limits::max_connections_per_session already: `connections` is then incomplete.
  // Optional on the wire (absent from an older reflector: 0).
  std::uint64_t connections_dropped = 0;
  // Connections from the session's public addresses that the reflector refused for its
  // own limits since the session began, at most limits::max_refused_per_report (the most
  // recent). Optional on the wire (absent from an older reflector: empty).
  std::vector<RefusedConnection> refused;
};

// Client → reflector (`egress25 check --inbound`): connect back to the address this
// control connection comes from, on these mail ports. There is no address field: the
// reflector connects only to the control connection's own source, which must be one of
// the session's public addresses. Ports are the reflector's mail ports (25, 465, 587,
// shifted by its --port-offset); each is connected back at most once per family and
// session. The reference port (≥ limits::min_reference_port, the client's own listener)
// is only traced, beside a port whose connection got no banner.
struct ConnectBackRequest {
  std::string token;
  std::vector<std::uint16_t> ports;
  std::optional<std::uint16_t> reference_port;
};

// A port of a CONNECT_BACK the reflector did not connect back to, and why.
struct ConnectBackRefusal {
  std::uint16_t port = 0;
  std::string reason;
};

// What the reflector met on each port it connected back to, in the order asked.
struct ConnectBackResponse {
  std::string address;  // the address it connected to: the control connection's source
  Family family = Family::ipv4;
  std::vector<InboundAttempt> attempts;
  std::vector<ConnectBackRefusal> refused;
};

enum class ErrorCode {
  malformed,  // not JSON, not an object, a field of the wrong type
  too_large,  // frame over the cap
  unknown_type,
  unsupported_version,
  unknown_token,  // expired or never issued
  forbidden,      // secret missing or wrong
  busy,           // session table full
  internal,
};

std::string_view to_string(ErrorCode c);

struct ErrorResponse {
  ErrorCode code = ErrorCode::malformed;
  std::string message;
};

using Request = std::variant<HelloRequest, ReportRequest, ConnectBackRequest>;
using Response = std::variant<HelloResponse, ReportResponse, ConnectBackResponse, ErrorResponse>;

// Encode to a JSON payload (not framed).
std::string encode(const Request& r);
std::string encode(const Response& r);

// Decode a JSON payload. On failure the ErrorResponse says what was wrong with it.
std::variant<Request, ErrorResponse> decode_request(std::string_view payload);
std::variant<Response, ErrorResponse> decode_response(std::string_view payload);

// ---- Identifiers ----------------------------------------------------------------------
// Tokens and probe ids are lower-case hex. A token is the session's secret: at least 128
// random bits. A probe id must fit, inside a tag, in one DNS label (63 octets).
inline constexpr std::size_t min_token_hex = 32;
inline constexpr std::size_t max_token_hex = 128;
inline constexpr std::size_t min_probe_id_hex = 8;
inline constexpr std::size_t max_probe_id_hex = 32;
bool valid_token(std::string_view s);
bool valid_probe_id(std::string_view s);
// A SHA-256 fingerprint: 64 lower-case hex digits.
bool valid_fingerprint(std::string_view s);

// ---- Probe tags ---------------------------------------------------------------------
// A probe's tag is "p<index>-<probe_id>"; the EHLO name and SNI carry it as
// "<tag>.egress25.invalid" (RFC 6761: .invalid never resolves, so the name cannot
// point anyone at a real host).

std::string make_probe_tag(std::string_view probe_id, int index);
std::string probe_hostname(std::string_view tag);
// The tag inside an EHLO argument or SNI, if it has the form above.
std::optional<std::string> tag_from_hostname(std::string_view name);
// The probe_id part of a tag.
std::optional<std::string> probe_id_from_tag(std::string_view tag);

}  // namespace egress25::control
