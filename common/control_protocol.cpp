// The control protocol: length-prefixed framing, strict JSON codec, probe tags.
#include "control_protocol.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <climits>
#include <stdexcept>

#include "evidence_json.hpp"
#include "limits.hpp"

namespace egress25::control {

namespace json = boost::json;

// ---- Framing ------------------------------------------------------------------------

std::string encode_frame(std::string_view payload) {
  if (payload.size() > 0xffffffffu) throw std::length_error("control frame over 4 GiB");
  const auto n = static_cast<std::uint32_t>(payload.size());
  std::string out;
  out.reserve(4 + payload.size());
  out += static_cast<char>(n >> 24 & 0xff);
  out += static_cast<char>(n >> 16 & 0xff);
  out += static_cast<char>(n >> 8 & 0xff);
  out += static_cast<char>(n & 0xff);
  out.append(payload);
  return out;
}

void FrameDecoder::feed(std::string_view bytes) {
  if (!failed_) buffer_.append(bytes);
}

FrameDecoder::Result FrameDecoder::next() {
  const auto too_large = [this](std::uint32_t n) {
    return "a frame announced " + std::to_string(n) + " bytes, over the cap of " +
           std::to_string(max_payload_);
  };
  if (failed_) return {Status::error, {}, "the frame stream already failed"};
  if (buffer_.size() < 4) return {};
  const auto byte = [this](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(buffer_[i]));
  };
  const std::uint32_t n = byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
  // Judged on the length alone, before a byte of the payload is buffered.
  if (n > max_payload_) {
    failed_ = true;
    buffer_.clear();
    buffer_.shrink_to_fit();
    return {Status::error, {}, too_large(n)};
  }
  if (buffer_.size() - 4 < n) return {};
  Result r{Status::frame, buffer_.substr(4, n), {}};
  buffer_.erase(0, 4 + static_cast<std::size_t>(n));
  return r;
}

// ---- Identifiers ----------------------------------------------------------------------

namespace {

bool lower_hex(std::string_view s, std::size_t min, std::size_t max) {
  return s.size() >= min && s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

bool valid_token(std::string_view s) {
  return lower_hex(s, min_token_hex, max_token_hex);
}
bool valid_probe_id(std::string_view s) {
  return lower_hex(s, min_probe_id_hex, max_probe_id_hex);
}
bool valid_fingerprint(std::string_view s) {
  return lower_hex(s, 64, 64);
}

// ---- Error codes ------------------------------------------------------------------------

namespace {

constexpr std::array<std::pair<ErrorCode, std::string_view>, 8> error_words{{
    {ErrorCode::malformed, "malformed"},
    {ErrorCode::too_large, "too_large"},
    {ErrorCode::unknown_type, "unknown_type"},
    {ErrorCode::unsupported_version, "unsupported_version"},
    {ErrorCode::unknown_token, "unknown_token"},
    {ErrorCode::forbidden, "forbidden"},
    {ErrorCode::busy, "busy"},
    {ErrorCode::internal, "internal"},
}};

std::optional<ErrorCode> error_code_from_string(std::string_view s) {
  for (const auto& [code, word] : error_words)
    if (word == s) return code;
  return std::nullopt;
}

}  // namespace

std::string_view to_string(ErrorCode c) {
  for (const auto& [code, word] : error_words)
    if (code == c) return word;
  return "internal";
}

// ---- Encoding ---------------------------------------------------------------------------

namespace {

json::object envelope(std::string_view type) {
  return {{"v", protocol_version}, {"type", type}};
}

json::object to_json(const WitnessStatus& w) {
  return {{"active", w.active}, {"reason", json_safe(w.reason)}};
}

json::value optional_text(const std::optional<std::string>& s) {
  return s ? json::value(json_safe(*s)) : json::value(nullptr);
}

std::string encode_message(const HelloRequest& r) {
  auto o = envelope("hello");
  o["client_version"] = json_safe(r.client_version);
  if (r.token) o["token"] = json_safe(*r.token);
  if (r.secret) o["secret"] = json_safe(*r.secret);
  if (r.probes_started_ms_ago) o["probes_started_ms_ago"] = *r.probes_started_ms_ago;
  return json::serialize(o);
}

std::string encode_message(const ReportRequest& r) {
  auto o = envelope("report");
  o["token"] = json_safe(r.token);
  return json::serialize(o);
}

std::string encode_message(const ConnectBackRequest& r) {
  auto o = envelope("connect_back");
  json::array ports;
  for (const auto p : r.ports) ports.push_back(p);
  o["token"] = json_safe(r.token);
  o["ports"] = std::move(ports);
  if (r.reference_port) o["reference_port"] = *r.reference_port;
  return json::serialize(o);
}

std::string encode_message(const ConnectBackResponse& r) {
  auto o = envelope("connect_back_ok");
  json::array attempts;
  for (const auto& a : r.attempts) attempts.push_back(egress25::to_json(a));
  json::array refused;
  for (const auto& x : r.refused)
    refused.push_back({{"port", x.port}, {"reason", json_safe(x.reason)}});
  o["address"] = json_safe(r.address);
  o["family"] = to_string(r.family);
  o["attempts"] = std::move(attempts);
  o["refused"] = std::move(refused);
  return json::serialize(o);
}

std::string encode_message(const HelloResponse& r) {
  auto o = envelope("hello_ok");
  json::array services;
  for (const auto& s : r.services)
    services.push_back(
        {{"port", s.port}, {"kind", to_string(s.kind)}, {"name", json_safe(s.name)}});
  o["token"] = json_safe(r.token);
  o["probe_id"] = json_safe(r.probe_id);
  o["client_address"] = json_safe(r.client_address);
  o["client_port"] = r.client_port;
  o["family"] = to_string(r.family);
  o["services"] = std::move(services);
  o["tls_fingerprint"] = json_safe(r.tls_fingerprint);
  o["banner_identity"] = json_safe(r.banner_identity);
  o["version"] = json_safe(r.version);
  o["witness"] = to_json(r.witness);
  o["server_time_unix_ms"] = r.server_time_unix_ms;
  o["session_expires_unix_ms"] = r.session_expires_unix_ms;
  o["witness_lookback_ms"] = r.witness_lookback_ms;
  return json::serialize(o);
}

std::string encode_message(const ReportResponse& r) {
  auto o = envelope("report_ok");
  json::array connections;
  for (const auto& c : r.connections) connections.push_back(egress25::to_json(c));
  json::array untagged;
  for (const auto& u : r.untagged)
    untagged.push_back({{"peer_address", json_safe(u.peer_address)},
                        {"local_port", u.local_port},
                        {"family", to_string(u.family)},
                        {"started_unix_ms", u.started_unix_ms},
                        {"end_reason", json_safe(u.end_reason)}});
  json::array refused;
  for (const auto& x : r.refused)
    refused.push_back({{"peer_address", json_safe(x.peer_address)},
                       {"local_port", x.local_port},
                       {"family", to_string(x.family)},
                       {"reason", json_safe(x.reason)},
                       {"count", x.count},
                       {"first_unix_ms", x.first_unix_ms},
                       {"last_unix_ms", x.last_unix_ms}});
  json::array flows;
  for (const auto& f : r.witness_flows) flows.push_back(egress25::to_json(f));
  o["connections"] = std::move(connections);
  o["untagged"] = std::move(untagged);
  o["witness"] = to_json(r.witness);
  o["witness_flows"] = std::move(flows);
  o["public_ipv4"] = optional_text(r.public_ipv4);
  o["public_ipv6"] = optional_text(r.public_ipv6);
  o["connections_dropped"] = r.connections_dropped;
  o["refused"] = std::move(refused);
  return json::serialize(o);
}

std::string encode_message(const ErrorResponse& r) {
  auto o = envelope("error");
  o["code"] = to_string(r.code);
  o["message"] = json_safe(r.message);
  return json::serialize(o);
}

}  // namespace

std::string encode(const Request& r) {
  return std::visit([](const auto& m) { return encode_message(m); }, r);
}

std::string encode(const Response& r) {
  return std::visit([](const auto& m) { return encode_message(m); }, r);
}

// ---- Decoding ---------------------------------------------------------------------------

namespace {

// The decoder's caps, each with its reason in limits.hpp.
using limits::max_address_text;
using limits::max_connect_back_items;
using limits::max_enum_word;
using limits::max_reason_text;
using limits::max_reported_count;
using limits::max_secret_bytes;
using limits::max_service_name;
using limits::max_services;
using limits::max_type_text;
using limits::max_unix_ms;
using limits::max_version_text;
using limits::max_witness_lookback_ms;

ErrorResponse malformed(std::string message) {
  return {ErrorCode::malformed, std::move(message)};
}

// The checked envelope of a message: the object and its type.
struct Envelope {
  json::value document;
  std::string type;
};

std::variant<Envelope, ErrorResponse> open_envelope(std::string_view payload) {
  json::parse_options options;
  options.max_depth = limits::max_json_depth;
  std::error_code ec;
  Envelope e;
  e.document = json::parse(payload, ec, {}, options);
  if (ec) return malformed("the payload is not valid JSON (" + ec.message() + ")");
  const auto* o = e.document.if_object();
  if (!o) return malformed("the payload is not a JSON object");
  std::string error;
  FieldReader f(*o, "", error);
  std::int64_t version = 0;
  if (!f.integer("v", version, INT_MIN, INT_MAX)) return malformed(error);
  // The version is judged before the type: a newer peer's types mean nothing here.
  if (version != protocol_version)
    return ErrorResponse{ErrorCode::unsupported_version,
                         "protocol version " + std::to_string(version) +
                             " is not supported; this end speaks version " +
                             std::to_string(protocol_version)};
  if (!f.string("type", e.type, max_type_text)) return malformed(error);
  return e;
}

ErrorResponse unknown_type(std::string_view type) {
  return {ErrorCode::unknown_type, "unknown message type \"" + printable(type, 64) + "\""};
}

bool read_token(FieldReader& f, std::string_view key, std::string& out) {
  return f.string(key, out, max_token_hex) &&
         (valid_token(out) || f.fail(key, "must be 32 to 128 lower-case hex digits"));
}

bool ip_address(std::string_view s, Family family) {
  if (s.empty() || s.size() >= INET6_ADDRSTRLEN) return false;
  const std::string text(s);
  std::array<unsigned char, sizeof(in6_addr)> buf{};
  return inet_pton(family == Family::ipv4 ? AF_INET : AF_INET6, text.c_str(), buf.data()) == 1;
}

bool read_address(FieldReader& f, std::string_view key, std::string& out) {
  if (!f.string(key, out, max_address_text)) return false;
  if (ip_address(out, Family::ipv4) || ip_address(out, Family::ipv6)) return true;
  return f.fail(key, "must be an IPv4 or IPv6 address");
}

bool read_family(FieldReader& f, std::string_view key, Family& out) {
  std::string word;
  if (!f.string(key, word, max_enum_word)) return false;
  const auto family = family_from_string(word);
  if (!family) return f.fail(key, "must be \"ipv4\" or \"ipv6\"");
  out = *family;
  return true;
}

bool read_kind(FieldReader& f, std::string_view key, ServiceKind& out) {
  std::string word;
  if (!f.string(key, word, max_enum_word)) return false;
  const auto kind = service_kind_from_string(word);
  if (!kind) return f.fail(key, "must be \"smtp\" or \"smtps\"");
  out = *kind;
  return true;
}

bool read_witness(FieldReader& f, std::string_view key, WitnessStatus& out, std::string& error) {
  const auto* o = f.object(key);
  if (!o) return false;
  FieldReader w(*o, f.field_name(key), error);
  return w.boolean("active", out.active) && w.string("reason", out.reason, max_reason_text);
}

std::string item_path(std::string_view array, std::size_t i) {
  return std::string(array) + "[" + std::to_string(i) + "]";
}

// Each item of an array field must be an object; `read` takes it with a reader whose errors
// name the item ("services[1].port").
template <class Read>
bool read_items(FieldReader& f, std::string_view key, std::size_t max_items, std::string& error,
                Read read) {
  const auto* a = f.array(key, max_items);
  if (!a) return false;
  for (std::size_t i = 0; i < a->size(); ++i) {
    const auto path = item_path(f.field_name(key), i);
    const auto* o = (*a)[i].if_object();
    if (!o) {
      error = "field \"" + path + "\" must be an object";
      return false;
    }
    FieldReader item(*o, path, error);
    if (!read(item, (*a)[i], path)) return false;
  }
  return true;
}

// An array of evidence, each item read by its from_json() (evidence_json.hpp).
template <typename T>
bool read_evidence_items(FieldReader& f, std::string_view key, std::size_t max_items,
                         std::string& error, std::vector<T>& out) {
  return read_items(f, key, max_items, error,
                    [&](FieldReader&, const json::value& v, const std::string& path) {
                      T item;
                      if (!from_json(v, item, error, path)) return false;
                      out.push_back(std::move(item));
                      return true;
                    });
}

std::variant<Request, ErrorResponse> decode_hello_request(const json::object& o) {
  std::string error;
  FieldReader f(o, "", error);
  HelloRequest r;
  if (!f.string("client_version", r.client_version, max_version_text) ||
      !f.optional_string("token", r.token, max_token_hex) ||
      !f.optional_string("secret", r.secret, max_secret_bytes))
    return malformed(error);
  if (o.contains("probes_started_ms_ago")) {
    std::int64_t ago = 0;
    if (!f.integer("probes_started_ms_ago", ago, 0, max_witness_lookback_ms))
      return malformed(error);
    r.probes_started_ms_ago = ago;
  }
  if (r.token && !valid_token(*r.token)) {
    f.fail("token", "must be 32 to 128 lower-case hex digits");
    return malformed(error);
  }
  return Request{std::move(r)};
}

std::variant<Request, ErrorResponse> decode_report_request(const json::object& o) {
  std::string error;
  FieldReader f(o, "", error);
  ReportRequest r;
  if (!read_token(f, "token", r.token)) return malformed(error);
  return Request{std::move(r)};
}

std::variant<Request, ErrorResponse> decode_connect_back_request(const json::object& o) {
  std::string error;
  FieldReader f(o, "", error);
  ConnectBackRequest r;
  if (!read_token(f, "token", r.token)) return malformed(error);
  const auto* ports = f.array("ports", max_connect_back_items);
  if (!ports) return malformed(error);
  if (ports->empty()) {
    f.fail("ports", "must name at least one port");
    return malformed(error);
  }
  for (std::size_t i = 0; i < ports->size(); ++i) {
    const auto* n = (*ports)[i].if_int64();
    const auto* u = (*ports)[i].if_uint64();
    const std::int64_t v = n ? *n : u && *u <= 65535 ? static_cast<std::int64_t>(*u) : -1;
    if (v < 1 || v > 65535) {
      f.fail(item_path("ports", i), "must be a port number (1 to 65535)");
      return malformed(error);
    }
    r.ports.push_back(static_cast<std::uint16_t>(v));
  }
  if (o.contains("reference_port") && !o.at("reference_port").is_null()) {
    std::uint16_t port = 0;
    if (!f.port("reference_port", port)) return malformed(error);
    r.reference_port = port;
  }
  return Request{std::move(r)};
}

std::variant<Response, ErrorResponse> decode_connect_back_response(const json::object& o) {
  std::string error;
  FieldReader f(o, "", error);
  ConnectBackResponse r;
  const bool ok =
      read_address(f, "address", r.address) && read_family(f, "family", r.family) &&
      read_evidence_items(f, "attempts", limits::max_connect_back_ports, error, r.attempts) &&
      read_items(
          f, "refused", max_connect_back_items, error,
          [&](FieldReader& item, const json::value&, const std::string&) {
            ConnectBackRefusal x;
            if (!item.port("port", x.port) || !item.string("reason", x.reason, max_reason_text))
              return false;
            r.refused.push_back(std::move(x));
            return true;
          });
  if (!ok) return malformed(error);
  return Response{std::move(r)};
}

std::variant<Response, ErrorResponse> decode_hello_response(const json::object& o) {
  std::string error;
  FieldReader f(o, "", error);
  HelloResponse r;
  const bool ok =
      read_token(f, "token", r.token) && f.string("probe_id", r.probe_id, max_probe_id_hex) &&
      (valid_probe_id(r.probe_id) || f.fail("probe_id", "must be 8 to 32 lower-case hex digits")) &&
      read_address(f, "client_address", r.client_address) && f.port("client_port", r.client_port) &&
      read_family(f, "family", r.family) &&
      read_items(f, "services", max_services, error,
                 [&](FieldReader& item, const json::value&, const std::string&) {
                   Service s;
                   std::optional<std::string> name;
                   if (!item.port("port", s.port) || !read_kind(item, "kind", s.kind) ||
                       !item.optional_string("name", name, max_service_name))
                     return false;
                   s.name = name.value_or(service_name(s.port, s.kind));
                   r.services.push_back(s);
                   return true;
                 }) &&
      f.string("tls_fingerprint", r.tls_fingerprint, 64) &&
      (valid_fingerprint(r.tls_fingerprint) ||
       f.fail("tls_fingerprint", "must be 64 lower-case hex digits (SHA-256)")) &&
      f.string("banner_identity", r.banner_identity, max_reason_text) &&
      f.string("version", r.version, max_version_text) &&
      read_witness(f, "witness", r.witness, error) &&
      f.integer("server_time_unix_ms", r.server_time_unix_ms, 0, max_unix_ms) &&
      f.integer("session_expires_unix_ms", r.session_expires_unix_ms, 0, max_unix_ms) &&
      (!o.contains("witness_lookback_ms") ||
       f.integer("witness_lookback_ms", r.witness_lookback_ms, 0, max_witness_lookback_ms));
  if (!ok) return malformed(error);
  return Response{std::move(r)};
}

std::variant<Response, ErrorResponse> decode_report_response(const json::object& o) {
  std::string error;
  FieldReader f(o, "", error);
  ReportResponse r;
  const auto optional_address = [&](std::string_view key, Family family,
                                    std::optional<std::string>& out) {
    return f.optional_string(key, out, max_address_text) &&
           (!out || ip_address(*out, family) ||
            f.fail(key, family == Family::ipv4 ? "must be an IPv4 address or null"
                                               : "must be an IPv6 address or null"));
  };
  const bool ok =
      read_evidence_items(f, "connections", limits::max_connections_per_session, error,
                          r.connections) &&
      read_items(f, "untagged", limits::max_untagged_connections, error,
                 [&](FieldReader& item, const json::value& v, const std::string&) {
                   UntaggedConnection u;
                   if (!read_address(item, "peer_address", u.peer_address) ||
                       !item.port("local_port", u.local_port) ||
                       !read_family(item, "family", u.family) ||
                       !item.integer("started_unix_ms", u.started_unix_ms, 0, max_unix_ms) ||
                       // Optional (an older reflector); present, it must be a string.
                       (v.as_object().contains("end_reason") &&
                        !item.string("end_reason", u.end_reason, max_reason_text)))
                     return false;
                   r.untagged.push_back(std::move(u));
                   return true;
                 }) &&
      read_witness(f, "witness", r.witness, error) &&
      read_items(f, "witness_flows", limits::max_witness_flows_per_report, error,
                 [&](FieldReader& item, const json::value&, const std::string&) {
                   WitnessFlow w;
                   if (!read_family(item, "family", w.family) ||
                       !read_address(item, "source_address", w.source_address) ||
                       !item.port("source_port", w.source_port) ||
                       !item.port("destination_port", w.destination_port) ||
                       !item.int32("ttl", w.ttl, 0, 255) || !item.boolean("syn_seen", w.syn_seen) ||
                       !item.boolean("synack_sent", w.synack_sent) ||
                       !item.boolean("rst_sent", w.rst_sent) ||
                       !item.boolean("handshake_completed", w.handshake_completed) ||
                       !item.int32("syn_count", w.syn_count, 0, INT_MAX) ||
                       !item.integer("first_seen_unix_ms", w.first_seen_unix_ms, 0, max_unix_ms))
                     return false;
                   r.witness_flows.push_back(std::move(w));
                   return true;
                 }) &&
      optional_address("public_ipv4", Family::ipv4, r.public_ipv4) &&
      optional_address("public_ipv6", Family::ipv6, r.public_ipv6) &&
      // Optional: absent from an older reflector. Present, it must be a count (not null).
      (!o.contains("connections_dropped") ||
       f.unsigned_integer("connections_dropped", r.connections_dropped, max_reported_count)) &&
      // Optional likewise; present, it must be an array of well-formed refusals.
      (!o.contains("refused") ||
       read_items(f, "refused", limits::max_refused_per_report, error,
                  [&](FieldReader& item, const json::value&, const std::string&) {
                    RefusedConnection x;
                    if (!read_address(item, "peer_address", x.peer_address) ||
                        !item.port("local_port", x.local_port) ||
                        !read_family(item, "family", x.family) ||
                        !item.string("reason", x.reason, max_reason_text) ||
                        !item.unsigned_integer("count", x.count, max_reported_count) ||
                        !item.integer("first_unix_ms", x.first_unix_ms, 0, max_unix_ms) ||
                        !item.integer("last_unix_ms", x.last_unix_ms, 0, max_unix_ms))
                      return false;
                    r.refused.push_back(std::move(x));
                    return true;
                  }));
  if (!ok) return malformed(error);
  return Response{std::move(r)};
}

std::variant<Response, ErrorResponse> decode_error_response(const json::object& o) {
  std::string error;
  FieldReader f(o, "", error);
  ErrorResponse r;
  std::string code;
  if (!f.string("code", code, max_type_text) || !f.string("message", r.message, max_reason_text))
    return malformed(error);
  const auto c = error_code_from_string(code);
  if (!c) {
    f.fail("code", "is not a known error code");
    return malformed(error);
  }
  r.code = *c;
  return Response{std::move(r)};
}

// Decoding never throws: a peer's bytes are data. Only allocation can fail here, and that
// too becomes an answer rather than an exception escaping into the session.
template <class Result, class Decode>
Result guarded(std::string_view payload, Decode decode) {
  try {
    auto opened = open_envelope(payload);
    if (auto* e = std::get_if<ErrorResponse>(&opened)) return *e;
    auto& envelope = std::get<Envelope>(opened);
    return decode(envelope.type, envelope.document.get_object());
  } catch (const std::exception& e) {
    return ErrorResponse{ErrorCode::internal, std::string("could not decode: ") + e.what()};
  }
}

}  // namespace

std::variant<Request, ErrorResponse> decode_request(std::string_view payload) {
  using Result = std::variant<Request, ErrorResponse>;
  return guarded<Result>(payload, [](const std::string& type, const json::object& o) -> Result {
    if (type == "hello") return decode_hello_request(o);
    if (type == "report") return decode_report_request(o);
    if (type == "connect_back") return decode_connect_back_request(o);
    return unknown_type(type);
  });
}

std::variant<Response, ErrorResponse> decode_response(std::string_view payload) {
  using Result = std::variant<Response, ErrorResponse>;
  return guarded<Result>(payload, [](const std::string& type, const json::object& o) -> Result {
    if (type == "hello_ok") return decode_hello_response(o);
    if (type == "report_ok") return decode_report_response(o);
    if (type == "connect_back_ok") return decode_connect_back_response(o);
    if (type == "error") return decode_error_response(o);
    return unknown_type(type);
  });
}

// ---- Probe tags ---------------------------------------------------------------------

namespace {

constexpr std::string_view tag_domain = ".egress25.invalid";

}  // namespace

std::string make_probe_tag(std::string_view probe_id, int index) {
  return "p" + std::to_string(index) + "-" + std::string(probe_id);
}

std::string probe_hostname(std::string_view tag) {
  return std::string(tag) + std::string(tag_domain);
}

std::optional<std::string> probe_id_from_tag(std::string_view tag) {
  if (tag.size() < 3 || tag[0] != 'p') return std::nullopt;
  const auto dash = tag.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const auto index = tag.substr(1, dash - 1);
  if (index.empty() || index.size() > limits::max_tag_index_digits ||
      !std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      (index.size() > 1 && index[0] == '0'))
    return std::nullopt;
  const auto id = tag.substr(dash + 1);
  if (!valid_probe_id(id)) return std::nullopt;
  return std::string(id);
}

std::optional<std::string> tag_from_hostname(std::string_view name) {
  // DNS names are case-insensitive, and a middlebox (or a 0x20-style resolver trick) may
  // change the case of the EHLO argument or SNI.
  if (name.size() <= tag_domain.size() || name.size() > limits::max_host_name) return std::nullopt;
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  if (!std::string_view(lower).ends_with(tag_domain)) return std::nullopt;
  lower.resize(lower.size() - tag_domain.size());
  if (!probe_id_from_tag(lower)) return std::nullopt;
  return lower;
}

}  // namespace egress25::control
