// JSON forms of the evidence records, strict readers for them, base64 and UTF-8 safety.
#include "evidence_json.hpp"

#include <array>
#include <limits>

#include "control_protocol.hpp"
#include "hex.hpp"

namespace egress25 {

namespace json = boost::json;

// ---- base64 ------------------------------------------------------------------------------
// Hand-written: Boost has base64 only as boost::beast::detail::base64, which is not public
// API and whose decoder is lenient (it stops quietly at the first bad character and ignores
// what follows '='). Input from a peer needs a decoder that rejects anything malformed.

namespace {

constexpr std::string_view b64_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<signed char, 256> make_b64_inverse() {
  std::array<signed char, 256> inv{};
  for (auto& v : inv) v = -1;
  for (std::size_t i = 0; i < b64_alphabet.size(); ++i)
    inv[static_cast<unsigned char>(b64_alphabet[i])] = static_cast<signed char>(i);
  return inv;
}
constexpr auto b64_inverse = make_b64_inverse();

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto n = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
    out += b64_alphabet[n >> 18 & 63];
    out += b64_alphabet[n >> 12 & 63];
    out += b64_alphabet[n >> 6 & 63];
    out += b64_alphabet[n & 63];
  }
  const auto rest = bytes.size() - i;
  if (rest == 1) {
    const auto n = byte(i) << 16;
    out += b64_alphabet[n >> 18 & 63];
    out += b64_alphabet[n >> 12 & 63];
    out += "==";
  } else if (rest == 2) {
    const auto n = byte(i) << 16 | byte(i + 1) << 8;
    out += b64_alphabet[n >> 18 & 63];
    out += b64_alphabet[n >> 12 & 63];
    out += b64_alphabet[n >> 6 & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int pad = 0;
    if (last && text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    std::uint32_t n = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      n <<= 6;
      if (k >= 4 - static_cast<std::size_t>(pad)) continue;  // a padding position
      const auto v = b64_inverse[static_cast<unsigned char>(text[i + k])];
      if (v < 0) return std::nullopt;
      n |= static_cast<std::uint32_t>(v);
    }
    // The bits under the padding must be zero (RFC 4648 3.5), so each byte string has
    // exactly one encoding.
    if ((pad == 1 && (n & 0xff) != 0) || (pad == 2 && (n & 0xffff) != 0)) return std::nullopt;
    out += static_cast<char>(n >> 16 & 0xff);
    if (pad < 2) out += static_cast<char>(n >> 8 & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

// ---- UTF-8 safety ----------------------------------------------------------------------------

namespace {

// Length of the valid UTF-8 sequence (RFC 3629: no overlongs, no surrogates, at most
// U+10FFFF) that starts `s`, or 0.
std::size_t utf8_sequence(std::string_view s) {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xc0) == 0x80; };
  const auto c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xe0 && b(1) < 0xa0) return 0;   // overlong
    if (c == 0xed && b(1) >= 0xa0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xf0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xf4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

std::string json_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const auto n = utf8_sequence(text);
    if (n == 0) {
      append_hex_escape(out, static_cast<unsigned char>(text[0]));
      text.remove_prefix(1);
    } else {
      out.append(text.substr(0, n));
      text.remove_prefix(n);
    }
  }
  return out;
}

// ---- FieldReader ---------------------------------------------------------------------------

std::string FieldReader::field_name(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

bool FieldReader::fail(std::string_view key, std::string_view what) {
  if (error_.empty()) error_ = "field \"" + field_name(key) + "\" " + std::string(what);
  return false;
}

const json::value* FieldReader::value(std::string_view key) {
  if (!ok()) return nullptr;
  const auto* v = object_.if_contains(key);
  if (!v) fail(key, "is missing");
  return v;
}

bool FieldReader::string(std::string_view key, std::string& out, std::size_t max_size) {
  const auto* v = value(key);
  if (!v) return false;
  const auto* s = v->if_string();
  if (!s) return fail(key, "must be a string");
  if (s->size() > max_size)
    return fail(key, "is longer than " + std::to_string(max_size) + " bytes");
  out.assign(s->data(), s->size());
  return true;
}

bool FieldReader::optional_string(std::string_view key, std::optional<std::string>& out,
                                  std::size_t max_size) {
  if (!ok()) return false;
  const auto* v = object_.if_contains(key);
  if (!v || v->is_null()) {
    out.reset();
    return true;
  }
  std::string s;
  if (!string(key, s, max_size)) return false;
  out = std::move(s);
  return true;
}

bool FieldReader::boolean(std::string_view key, bool& out) {
  const auto* v = value(key);
  if (!v) return false;
  const auto* b = v->if_bool();
  if (!b) return fail(key, "must be true or false");
  out = *b;
  return true;
}

bool FieldReader::integer(std::string_view key, std::int64_t& out, std::int64_t min,
                          std::int64_t max) {
  const auto* v = value(key);
  if (!v) return false;
  const auto range =
      "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
  // Only JSON integers: 25.0 or 1e3 are doubles to Boost.JSON, and so is an integer too
  // big for 64 bits; all are refused rather than rounded.
  std::int64_t n = 0;
  if (const auto* i = v->if_int64()) {
    n = *i;
  } else if (const auto* u = v->if_uint64()) {
    if (*u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return fail(key, range);
    n = static_cast<std::int64_t>(*u);
  } else {
    return fail(key, range);
  }
  if (n < min || n > max) return fail(key, range);
  out = n;
  return true;
}

bool FieldReader::unsigned_integer(std::string_view key, std::uint64_t& out, std::uint64_t max) {
  const auto* v = value(key);
  if (!v) return false;
  const auto range = "must be an integer from 0 to " + std::to_string(max);
  std::uint64_t n = 0;
  if (const auto* u = v->if_uint64()) {
    n = *u;
  } else if (const auto* i = v->if_int64(); i && *i >= 0) {
    n = static_cast<std::uint64_t>(*i);
  } else {
    return fail(key, range);
  }
  if (n > max) return fail(key, range);
  out = n;
  return true;
}

bool FieldReader::port(std::string_view key, std::uint16_t& out) {
  std::uint64_t n = 0;
  if (!unsigned_integer(key, n, 65535)) return false;
  out = static_cast<std::uint16_t>(n);
  return true;
}

bool FieldReader::int32(std::string_view key, int& out, int min, int max) {
  std::int64_t n = 0;
  if (!integer(key, n, min, max)) return false;
  out = static_cast<int>(n);
  return true;
}

const json::object* FieldReader::object(std::string_view key) {
  const auto* v = value(key);
  if (!v) return nullptr;
  const auto* o = v->if_object();
  if (!o) fail(key, "must be an object");
  return o;
}

const json::array* FieldReader::array(std::string_view key, std::size_t max_items) {
  const auto* v = value(key);
  if (!v) return nullptr;
  const auto* a = v->if_array();
  if (!a) {
    fail(key, "must be an array");
    return nullptr;
  }
  if (a->size() > max_items) {
    fail(key, "has more than " + std::to_string(max_items) + " items");
    return nullptr;
  }
  return a;
}

// ---- Writers -------------------------------------------------------------------------------

namespace {

json::value optional_int(const std::optional<int>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::object to_json(const PhaseTranscript& p) {
  return {{"to_server", to_json(p.to_server)}, {"to_client", to_json(p.to_client)}};
}

json::object to_json(const PortTrace& t) {
  json::array hops;
  for (const auto& h : t.hops) hops.push_back(to_json(h));
  return {{"port", t.port}, {"hops", std::move(hops)}};
}

}  // namespace

json::object to_json(const CappedBytes& b) {
  return {{"text", printable(b.kept, limits::transcript_text_preview)},
          {"b64", base64_encode(b.kept)},
          {"total", b.total},
          {"cap", b.cap},
          {"truncated", b.truncated()}};
}

json::object to_json(const Transcript& t) {
  return {{"plain", to_json(t.plain)}, {"tls", to_json(t.tls)}};
}

json::object to_json(const ConnectionRecord& r) {
  json::array seen;
  for (const auto& s : r.tag_seen_in) seen.emplace_back(json_safe(s));
  return {{"probe_tag", json_safe(r.probe_tag)},
          {"tag_seen_in", std::move(seen)},
          {"peer_address", json_safe(r.peer_address)},
          {"peer_port", r.peer_port},
          {"local_address", json_safe(r.local_address)},
          {"local_port", r.local_port},
          {"kind", to_string(r.kind)},
          {"family", to_string(r.family)},
          {"started_unix_ms", r.started_unix_ms},
          {"ended_unix_ms", r.ended_unix_ms},
          {"tls_version", json_safe(r.tls_version)},
          {"tls_cipher", json_safe(r.tls_cipher)},
          {"tls_sni", json_safe(r.tls_sni)},
          {"end_reason", json_safe(r.end_reason)},
          {"transcript", to_json(r.transcript)}};
}

json::object to_json(const ClientProbe& p) {
  json::value icmp = nullptr;
  if (p.icmp)
    icmp = json::object{{"sender", json_safe(p.icmp->sender)},
                        {"type", p.icmp->type},
                        {"code", p.icmp->code},
                        {"description", json_safe(p.icmp->description)}};
  return {{"host", json_safe(p.host)},
          {"address", json_safe(p.address)},
          {"port", p.port},
          {"kind", to_string(p.kind)},
          {"service", service_name(p.port, p.kind)},
          {"family", to_string(p.family)},
          {"probe_tag", json_safe(p.probe_tag)},
          {"local_address", json_safe(p.local_address)},
          {"connect", to_string(p.connect)},
          {"connect_error", json_safe(p.connect_error)},
          {"icmp", std::move(icmp)},
          {"connect_ms", p.connect_ms},
          {"syn_left_host", p.syn_left_host ? json::value(*p.syn_left_host) : json::value(nullptr)},
          {"end", to_string(p.end)},
          {"end_detail", json_safe(p.end_detail)},
          {"banner_code", optional_int(p.banner_code)},
          {"banner", json_safe(p.banner)},
          {"starttls_advertised", p.starttls_advertised},
          {"starttls_reply_code", optional_int(p.starttls_reply_code)},
          {"tls_attempted", p.tls_attempted},
          {"tls_completed", p.tls_completed},
          {"tls_error", json_safe(p.tls_error)},
          {"tls_version", json_safe(p.tls_version)},
          {"tls_cipher", json_safe(p.tls_cipher)},
          {"peer_cert_sha256", json_safe(p.peer_cert_sha256)},
          {"peer_cert_subject", json_safe(p.peer_cert_subject)},
          {"transcript", to_json(p.transcript)},
          {"elapsed_ms", p.elapsed_ms}};
}

json::object to_json(const PathTrace& t) {
  return {{"probed", to_json(t.probed)}, {"reference", to_json(t.reference)}};
}

json::object to_json(const TraceHop& h) {
  return {{"ttl", h.ttl},
          {"address", json_safe(h.address)},
          {"kind", to_string(h.kind)},
          {"icmp_type", h.icmp_type},
          {"icmp_code", h.icmp_code}};
}

namespace {

json::value icmp_json(const std::optional<IcmpReport>& icmp) {
  if (!icmp) return nullptr;
  return json::object{{"sender", json_safe(icmp->sender)},
                      {"type", icmp->type},
                      {"code", icmp->code},
                      {"description", json_safe(icmp->description)}};
}

}  // namespace

json::object to_json(const InboundAttempt& a) {
  return {{"address", json_safe(a.address)},
          {"local_address", json_safe(a.local_address)},
          {"port", a.port},
          {"kind", to_string(a.kind)},
          {"family", to_string(a.family)},
          {"connect", to_string(a.connect)},
          {"connect_error", json_safe(a.connect_error)},
          {"icmp", icmp_json(a.icmp)},
          {"connect_ms", a.connect_ms},
          {"syn_left_host", a.syn_left_host ? json::value(*a.syn_left_host) : json::value(nullptr)},
          {"end", to_string(a.end)},
          {"end_detail", json_safe(a.end_detail)},
          {"banner_code", optional_int(a.banner_code)},
          {"banner", json_safe(a.banner)},
          {"ehlo_code", optional_int(a.ehlo_code)},
          {"quit_code", optional_int(a.quit_code)},
          {"tls_attempted", a.tls_attempted},
          {"tls_completed", a.tls_completed},
          {"tls_error", json_safe(a.tls_error)},
          {"tls_version", json_safe(a.tls_version)},
          {"trace", a.trace ? json::value(to_json(*a.trace)) : json::value(nullptr)},
          {"trace_unavailable", json_safe(a.trace_unavailable)},
          {"started_unix_ms", a.started_unix_ms},
          {"elapsed_ms", a.elapsed_ms}};
}

json::object to_json(const BlockingHop& hop) {
  return {{"ttl", hop.ttl},
          {"address", hop.address.empty() ? json::value(nullptr) : json::value(hop.address)},
          {"role", hop.role.empty() ? json::value(nullptr) : json::value(hop.role)},
          {"segment", to_string(hop.segment)}};
}

void put_classification(json::object& o, const Classification& c) {
  o["verdict"] = to_string(c.verdict);
  o["location"] = to_string(c.location);
  o["segment"] = c.segment ? json::value(to_string(*c.segment)) : json::value(nullptr);
  o["blocking_hop"] = c.blocking_hop ? json::value(to_json(*c.blocking_hop)) : json::value(nullptr);
  json::array candidates;
  for (const auto& hop : c.blocking_candidates) candidates.push_back(to_json(hop));
  o["blocking_candidates"] = std::move(candidates);
  json::array reasons;
  for (const auto& reason : c.reasons) reasons.push_back(json::string(json_safe(reason)));
  o["reasons"] = std::move(reasons);
}

json::object to_json(const control::WitnessFlow& f) {
  return {{"family", to_string(f.family)},
          {"source_address", json_safe(f.source_address)},
          {"source_port", f.source_port},
          {"destination_port", f.destination_port},
          {"ttl", f.ttl},
          {"syn_seen", f.syn_seen},
          {"synack_sent", f.synack_sent},
          {"rst_sent", f.rst_sent},
          {"handshake_completed", f.handshake_completed},
          {"syn_count", f.syn_count},
          {"first_seen_unix_ms", f.first_seen_unix_ms}};
}

// ---- Readers -------------------------------------------------------------------------------

namespace {

// The readers' caps, each with its reason in limits.hpp.
using limits::max_address_text;
using limits::max_reason_text;
using limits::max_short_text;
using limits::max_unix_ms;

const json::object* as_object(const json::value& v, const std::string& path, std::string& error) {
  const auto* o = v.if_object();
  if (!o && error.empty())
    error = path.empty() ? "the value must be a JSON object"
                         : "field \"" + path + "\" must be an object";
  return o;
}

std::string join_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

bool read_capped(const json::value& v, const std::string& path, CappedBytes& out,
                 std::string& error) {
  const auto* o = as_object(v, path, error);
  if (!o) return false;
  FieldReader f(*o, path, error);
  std::string b64;
  std::uint64_t total = 0;
  std::uint64_t cap = 0;
  bool truncated = false;
  if (!(f.string("b64", b64, limits::max_transcript_b64) &&
        f.unsigned_integer("total", total, UINT64_MAX) &&
        f.unsigned_integer("cap", cap, limits::max_declared_transcript_cap) &&
        f.boolean("truncated", truncated)))
    return false;
  auto kept = base64_decode(b64);
  if (!kept) return f.fail("b64", "is not valid base64");
  if (kept->size() > cap) return f.fail("b64", "holds more bytes than \"cap\"");
  if (total < kept->size()) return f.fail("total", "is less than the bytes kept");
  if (truncated != (total > kept->size()))
    return f.fail("truncated", "contradicts \"total\" and the bytes kept");
  out.kept = std::move(*kept);
  out.total = total;
  out.cap = static_cast<std::size_t>(cap);
  return true;
}

bool read_phase(const json::value& v, const std::string& path, PhaseTranscript& out,
                std::string& error) {
  const auto* o = as_object(v, path, error);
  if (!o) return false;
  FieldReader f(*o, path, error);
  const auto* to_server = f.value("to_server");
  if (!to_server || !read_capped(*to_server, join_path(path, "to_server"), out.to_server, error))
    return false;
  const auto* to_client = f.value("to_client");
  return to_client && read_capped(*to_client, join_path(path, "to_client"), out.to_client, error);
}

bool read_transcript(const json::value& v, const std::string& path, Transcript& out,
                     std::string& error) {
  const auto* o = as_object(v, path, error);
  if (!o) return false;
  FieldReader f(*o, path, error);
  const auto* plain = f.value("plain");
  if (!plain || !read_phase(*plain, join_path(path, "plain"), out.plain, error)) return false;
  const auto* tls = f.value("tls");
  return tls && read_phase(*tls, join_path(path, "tls"), out.tls, error);
}

// The word `text` names among `values` (by their to_string), if any.
template <class Enum, std::size_t N>
std::optional<Enum> enum_from_string(std::string_view text, const std::array<Enum, N>& values) {
  for (const auto e : values)
    if (to_string(e) == text) return e;
  return std::nullopt;
}

constexpr std::array hop_kinds{HopKind::time_exceeded, HopKind::unreachable, HopKind::reached,
                               HopKind::reset, HopKind::silent};
constexpr std::array connect_outcomes{ConnectOutcome::not_attempted, ConnectOutcome::connected,
                                      ConnectOutcome::refused,       ConnectOutcome::timed_out,
                                      ConnectOutcome::icmp_error,    ConnectOutcome::local_error};
constexpr std::array dialogue_ends{DialogueEnd::none,         DialogueEnd::completed,
                                   DialogueEnd::reset,        DialogueEnd::timed_out,
                                   DialogueEnd::closed_early, DialogueEnd::protocol_error,
                                   DialogueEnd::tls_failed};

bool read_port_trace(const json::value& v, const std::string& path, PortTrace& out,
                     std::string& error) {
  const auto* o = as_object(v, path, error);
  if (!o) return false;
  FieldReader f(*o, path, error);
  if (!f.port("port", out.port)) return false;
  const auto* hops = f.array("hops", limits::max_trace_hops);
  if (!hops) return false;
  for (std::size_t i = 0; i < hops->size(); ++i) {
    const auto item_path = join_path(path, "hops") + "[" + std::to_string(i) + "]";
    const auto* h = as_object((*hops)[i], item_path, error);
    if (!h) return false;
    FieldReader hf(*h, item_path, error);
    TraceHop hop;
    std::string kind;
    if (!(hf.int32("ttl", hop.ttl, 1, 255) && hf.string("address", hop.address, max_address_text) &&
          hf.string("kind", kind, max_short_text) && hf.int32("icmp_type", hop.icmp_type, 0, 255) &&
          hf.int32("icmp_code", hop.icmp_code, 0, 255)))
      return false;
    const auto k = enum_from_string(kind, hop_kinds);
    if (!k) return hf.fail("kind", "is not a known hop kind");
    hop.kind = *k;
    out.hops.push_back(std::move(hop));
  }
  return true;
}

bool read_path_trace(const json::value& v, const std::string& path, PathTrace& out,
                     std::string& error) {
  const auto* o = as_object(v, path, error);
  if (!o) return false;
  FieldReader f(*o, path, error);
  const auto* probed = f.value("probed");
  if (!probed || !read_port_trace(*probed, join_path(path, "probed"), out.probed, error))
    return false;
  const auto* reference = f.value("reference");
  return reference &&
         read_port_trace(*reference, join_path(path, "reference"), out.reference, error);
}

bool read_optional_code(FieldReader& f, const json::object& o, std::string_view key,
                        std::optional<int>& out) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) {
    out.reset();
    return true;
  }
  int code = 0;
  if (!f.int32(key, code, 100, 599)) return false;
  out = code;
  return true;
}

// A from_json() by one of the readers above: `out` is written only when the whole of `v`
// reads, and `error` says nothing else.
template <typename T>
bool read_whole(bool (*read)(const json::value&, const std::string&, T&, std::string&),
                const json::value& v, T& out, std::string& error, std::string_view path) {
  error.clear();
  T t;
  if (!read(v, std::string(path), t, error)) return false;
  out = std::move(t);
  return true;
}

}  // namespace

bool from_json(const json::value& v, PathTrace& out, std::string& error, std::string_view path) {
  return read_whole(read_path_trace, v, out, error, path);
}

bool from_json(const json::value& v, InboundAttempt& out, std::string& error,
               std::string_view path_view) {
  error.clear();
  const std::string path(path_view);
  const auto* o = as_object(v, path, error);
  if (!o) return false;
  FieldReader f(*o, path, error);
  InboundAttempt a;
  std::string kind, family, connect, end;
  const auto milliseconds = [&](std::string_view key, double& out_ms) {
    const auto* x = f.value(key);
    if (!x) return false;
    if (!x->is_number()) return f.fail(key, "must be a number");
    const double d = x->to_number<double>();
    if (!(d >= 0 && d < 1e9)) return f.fail(key, "must be between 0 and 1e9");
    out_ms = d;
    return true;
  };
  if (!(f.string("address", a.address, max_address_text) &&
        f.string("local_address", a.local_address, max_address_text) && f.port("port", a.port) &&
        f.string("kind", kind, max_short_text) && f.string("family", family, max_short_text) &&
        f.string("connect", connect, max_short_text) &&
        f.string("connect_error", a.connect_error, max_reason_text) &&
        milliseconds("connect_ms", a.connect_ms) && f.string("end", end, max_short_text) &&
        f.string("end_detail", a.end_detail, max_reason_text) &&
        read_optional_code(f, *o, "banner_code", a.banner_code) &&
        f.string("banner", a.banner, 4 * limits::max_connect_back_banner) &&
        read_optional_code(f, *o, "ehlo_code", a.ehlo_code) &&
        read_optional_code(f, *o, "quit_code", a.quit_code) &&
        f.boolean("tls_attempted", a.tls_attempted) &&
        f.boolean("tls_completed", a.tls_completed) &&
        f.string("tls_error", a.tls_error, max_reason_text) &&
        f.string("tls_version", a.tls_version, max_short_text) &&
        f.string("trace_unavailable", a.trace_unavailable, max_reason_text) &&
        f.integer("started_unix_ms", a.started_unix_ms, 0, max_unix_ms) &&
        milliseconds("elapsed_ms", a.elapsed_ms)))
    return false;
  const auto k = service_kind_from_string(kind);
  if (!k) return f.fail("kind", "must be \"smtp\" or \"smtps\"");
  a.kind = *k;
  const auto fam = family_from_string(family);
  if (!fam) return f.fail("family", "must be \"ipv4\" or \"ipv6\"");
  a.family = *fam;
  const auto c = enum_from_string(connect, connect_outcomes);
  if (!c) return f.fail("connect", "is not a known connect outcome");
  a.connect = *c;
  const auto e = enum_from_string(end, dialogue_ends);
  if (!e) return f.fail("end", "is not a known dialogue end");
  a.end = *e;
  if (const auto* icmp = o->if_contains("icmp"); icmp && !icmp->is_null()) {
    const auto* io = as_object(*icmp, join_path(path, "icmp"), error);
    if (!io) return false;
    FieldReader fi(*io, join_path(path, "icmp"), error);
    IcmpReport r;
    if (!(fi.string("sender", r.sender, max_address_text) && fi.int32("type", r.type, 0, 255) &&
          fi.int32("code", r.code, 0, 255) &&
          fi.string("description", r.description, max_short_text)))
      return false;
    a.icmp = std::move(r);
  }
  if (const auto* trace = o->if_contains("trace"); trace && !trace->is_null()) {
    PathTrace t;
    if (!read_path_trace(*trace, join_path(path, "trace"), t, error)) return false;
    a.trace = std::move(t);
  }
  // Optional: older reflectors do not send it.
  if (const auto* left = o->if_contains("syn_left_host"); left && !left->is_null()) {
    if (!left->is_bool()) return f.fail("syn_left_host", "must be true, false or null");
    a.syn_left_host = left->as_bool();
  }
  out = std::move(a);
  return true;
}

bool from_json(const json::value& v, CappedBytes& out, std::string& error, std::string_view path) {
  return read_whole(read_capped, v, out, error, path);
}

bool from_json(const json::value& v, Transcript& out, std::string& error, std::string_view path) {
  return read_whole(read_transcript, v, out, error, path);
}

bool from_json(const json::value& v, ConnectionRecord& out, std::string& error,
               std::string_view path_view) {
  error.clear();
  const std::string path(path_view);
  const auto* o = as_object(v, path, error);
  if (!o) return false;
  FieldReader f(*o, path, error);
  ConnectionRecord r;
  std::string kind, family;
  if (!(f.string("probe_tag", r.probe_tag, max_short_text) &&
        f.string("peer_address", r.peer_address, max_address_text) &&
        f.port("peer_port", r.peer_port) &&
        f.string("local_address", r.local_address, max_address_text) &&
        f.port("local_port", r.local_port) && f.string("kind", kind, max_short_text) &&
        f.string("family", family, max_short_text) &&
        f.integer("started_unix_ms", r.started_unix_ms, 0, max_unix_ms) &&
        f.integer("ended_unix_ms", r.ended_unix_ms, 0, max_unix_ms) &&
        f.string("tls_version", r.tls_version, max_short_text) &&
        f.string("tls_cipher", r.tls_cipher, max_short_text) &&
        f.string("tls_sni", r.tls_sni, max_short_text) &&
        f.string("end_reason", r.end_reason, max_reason_text)))
    return false;
  const auto k = service_kind_from_string(kind);
  if (!k) return f.fail("kind", "must be \"smtp\" or \"smtps\"");
  r.kind = *k;
  const auto fam = family_from_string(family);
  if (!fam) return f.fail("family", "must be \"ipv4\" or \"ipv6\"");
  r.family = *fam;
  const auto* seen = f.array("tag_seen_in", limits::max_tag_places);
  if (!seen) return false;
  for (std::size_t i = 0; i < seen->size(); ++i) {
    const auto* s = (*seen)[i].if_string();
    if (!s || s->size() > max_short_text)
      return f.fail("tag_seen_in", "must hold short strings only");
    r.tag_seen_in.emplace_back(s->data(), s->size());
  }
  const auto* transcript = f.value("transcript");
  if (!transcript ||
      !read_transcript(*transcript, join_path(path, "transcript"), r.transcript, error))
    return false;
  out = std::move(r);
  return true;
}

}  // namespace egress25
