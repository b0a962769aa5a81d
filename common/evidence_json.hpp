// JSON forms of the evidence records, shared by the control protocol and the report.
#pragma once

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "evidence.hpp"

namespace egress25 {

namespace control {
struct WitnessFlow;
}

// CappedBytes: {"text": printable() preview, "b64": the kept bytes exactly (base64),
// "total": bytes seen, "cap": bytes keepable, "truncated": total > kept}. "b64" is the
// data; "text" is for people and is ignored when read back.
boost::json::object to_json(const CappedBytes& b);
boost::json::object to_json(const Transcript& t);
boost::json::object to_json(const ConnectionRecord& r);
boost::json::object to_json(const ClientProbe& p);
boost::json::object to_json(const PathTrace& t);
boost::json::object to_json(const TraceHop& h);
boost::json::object to_json(const InboundAttempt& a);
// {"ttl", "address" (null when it never answered), "role", "segment"}.
boost::json::object to_json(const BlockingHop& hop);
// A judgement's fields as a report carries them: verdict, location, segment (null but
// for location path), blocking_hop (null unless pinned), blocking_candidates, reasons.
void put_classification(boost::json::object& o, const Classification& c);
// One packet-witness flow, as a REPORT carries it.
boost::json::object to_json(const control::WitnessFlow& f);

// Strict readers: every field type-checked; on failure `error` names the field, prefixed
// by `path` when the value sits inside a larger document ("connections[2]"). `out` is
// written only on success.
bool from_json(const boost::json::value& v, CappedBytes& out, std::string& error,
               std::string_view path = {});
bool from_json(const boost::json::value& v, Transcript& out, std::string& error,
               std::string_view path = {});
bool from_json(const boost::json::value& v, ConnectionRecord& out, std::string& error,
               std::string_view path = {});
bool from_json(const boost::json::value& v, PathTrace& out, std::string& error,
               std::string_view path = {});
bool from_json(const boost::json::value& v, InboundAttempt& out, std::string& error,
               std::string_view path = {});

// RFC 4648 base64 with padding. base64_decode is strict (alphabet, padding, no spare
// bits) and returns nullopt on anything else.
std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// `text` as it may go into a JSON string: valid UTF-8 is kept as is, each byte that is
// not part of valid UTF-8 becomes the four characters "\xNN". Boost.JSON's parser rejects
// invalid UTF-8, so a peer's stray byte in a banner must not make a report unreadable.
std::string json_safe(std::string_view text);

// Strict, type-checked access to the fields of one JSON object received from a peer.
// `error` starts empty. Each call checks one field; the first failure writes `error` ("field
// \"a.b\" must be a string") and every later call returns false, so a reader can chain calls with
// &&.
class FieldReader {
 public:
  // `path` prefixes field names in errors ("connections[2]"); "" at the top level.
  FieldReader(const boost::json::object& object, std::string path, std::string& error)
      : object_(object), path_(std::move(path)), error_(error) {}

  bool string(std::string_view key, std::string& out, std::size_t max_size);
  // Absent or null reads as nullopt.
  bool optional_string(std::string_view key, std::optional<std::string>& out, std::size_t max_size);
  bool boolean(std::string_view key, bool& out);
  bool integer(std::string_view key, std::int64_t& out, std::int64_t min, std::int64_t max);
  bool unsigned_integer(std::string_view key, std::uint64_t& out, std::uint64_t max);
  bool port(std::string_view key, std::uint16_t& out);
  bool int32(std::string_view key, int& out, int min, int max);
  // nullptr (and error set) when missing or of another kind.
  const boost::json::object* object(std::string_view key);
  const boost::json::array* array(std::string_view key, std::size_t max_items);
  // The value, or nullptr (and error set) when missing.
  const boost::json::value* value(std::string_view key);

  // Sets the error for a field that has the right kind but a wrong value.
  bool fail(std::string_view key, std::string_view what);
  std::string field_name(std::string_view key) const;
  bool ok() const { return error_.empty(); }

 private:
  const boost::json::object& object_;
  std::string path_;
  std::string& error_;
};

}  // namespace egress25
