// Unit tests of the control protocol: framing caps, message round trips, hostile input.
#include "control_protocol.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <random>
#include <string>

#include "evidence_json.hpp"
#include "limits.hpp"

using namespace egress25;
using namespace egress25::control;

namespace {

const std::string token(32, 'a');
const std::string token2 = "0123456789abcdef0123456789abcdef0123456789abcdef";
const std::string probe_id = "3f9c2a7b1d4e5f60";
const std::string fingerprint(64, 'e');

std::string be32(std::uint32_t n) {
  return {static_cast<char>(n >> 24), static_cast<char>(n >> 16 & 0xff),
          static_cast<char>(n >> 8 & 0xff), static_cast<char>(n & 0xff)};
}

HelloResponse sample_hello_response() {
  HelloResponse r;
  r.token = token2;
  r.probe_id = probe_id;
  r.client_address = "2001:db8::7";
  r.client_port = 51234;
  r.family = Family::ipv6;
  r.services = {{25, ServiceKind::smtp, "smtp"},
                {587, ServiceKind::smtp, "submission"},
                {465, ServiceKind::smtps, "smtps"}};
  r.tls_fingerprint = fingerprint;
  r.banner_identity = "egress25-reflector";
  r.version = "0.1.0";
  r.witness = {false, "no CAP_NET_RAW"};
  r.server_time_unix_ms = 1'700'000'000'123;
  r.session_expires_unix_ms = 1'700'000'600'123;
  r.witness_lookback_ms = 15'000;
  return r;
}

ConnectionRecord sample_record() {
  ConnectionRecord c;
  c.probe_tag = make_probe_tag(probe_id, 2);
  c.tag_seen_in = {"ehlo", "ehlo_after_starttls"};
  c.peer_address = "198.51.100.7";
  c.peer_port = 40000;
  c.local_address = "203.0.113.5";
  c.local_port = 25;
  c.kind = ServiceKind::smtp;
  c.family = Family::ipv4;
  c.started_unix_ms = 1'700'000'000'000;
  c.ended_unix_ms = 1'700'000'000'250;
  c.tls_version = "TLSv1.3";
  c.tls_cipher = "TLS_AES_256_GCM_SHA384";
  c.end_reason = "quit";
  c.transcript.plain.to_client.append("220 reflector ESMTP\r\n");
  c.transcript.plain.to_server.append(std::string("EHLO x\r\n\xff\x00", 10));
  c.transcript.tls.to_server.append("QUIT\r\n");
  return c;
}

ReportResponse sample_report() {
  ReportResponse r;
  r.connections = {sample_record()};
  r.untagged = {{"198.51.100.7", 587, Family::ipv4, 1'700'000'000'500, "peer closed"}};
  r.refused = {{"198.51.100.7", 25, Family::ipv4, "too many connections from 198.51.100.7 (16)",
                1234, 1'700'000'000'100, 1'700'000'009'900}};
  r.witness = {true, ""};
  WitnessFlow f;
  f.family = Family::ipv4;
  f.source_address = "198.51.100.7";
  f.source_port = 40000;
  f.destination_port = 25;
  f.ttl = 57;
  f.syn_seen = true;
  f.synack_sent = true;
  f.handshake_completed = true;
  f.syn_count = 2;
  f.first_seen_unix_ms = 1'700'000'000'001;
  r.witness_flows = {f};
  r.public_ipv4 = "198.51.100.7";
  r.connections_dropped = 3;
  return r;
}

template <class V>
std::string error_text(const V& d) {
  const auto* e = std::get_if<ErrorResponse>(&d);
  return e ? e->message : std::string();
}

// By value: the decoded variant is a temporary.
template <class T>
T request_as(const std::variant<Request, ErrorResponse>& d) {
  BOOST_TEST_REQUIRE(std::holds_alternative<Request>(d), "decode failed: " << error_text(d));
  const auto& r = std::get<Request>(d);
  BOOST_TEST_REQUIRE(std::holds_alternative<T>(r));
  return std::get<T>(r);
}

template <class T>
T response_as(const std::variant<Response, ErrorResponse>& d) {
  BOOST_TEST_REQUIRE(std::holds_alternative<Response>(d), "decode failed: " << error_text(d));
  const auto& r = std::get<Response>(d);
  BOOST_TEST_REQUIRE(std::holds_alternative<T>(r));
  return std::get<T>(r);
}

ErrorResponse request_error(std::string_view payload) {
  const auto d = decode_request(payload);
  BOOST_TEST_REQUIRE(std::holds_alternative<ErrorResponse>(d), "accepted: " << payload);
  return std::get<ErrorResponse>(d);
}

ErrorResponse response_error(std::string_view payload) {
  const auto d = decode_response(payload);
  BOOST_TEST_REQUIRE(std::holds_alternative<ErrorResponse>(d), "accepted: " << payload);
  return std::get<ErrorResponse>(d);
}

// A valid message as a JSON object, to break one field at a time.
boost::json::object object_of(const std::string& payload) {
  return boost::json::parse(payload).as_object();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(control_protocol)

// ---- Framing ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(frame_round_trip_byte_at_a_time) {
  const std::string stream = encode_frame("{\"a\":1}") + encode_frame("") + encode_frame("xyz");
  BOOST_TEST(stream.substr(0, 4) == be32(7));
  FrameDecoder d(limits::max_request_frame);
  std::vector<std::string> frames;
  for (char c : stream) {
    d.feed(std::string_view(&c, 1));
    for (auto r = d.next(); r.status != FrameDecoder::Status::need_more; r = d.next()) {
      BOOST_TEST_REQUIRE((r.status == FrameDecoder::Status::frame));
      frames.push_back(r.payload);
    }
  }
  BOOST_TEST(frames == (std::vector<std::string>{"{\"a\":1}", "", "xyz"}),
             boost::test_tools::per_element());
  BOOST_TEST(d.buffered() == 0u);
}

BOOST_AUTO_TEST_CASE(frame_exactly_at_cap_is_accepted) {
  FrameDecoder d(100);
  d.feed(encode_frame(std::string(100, 'x')));
  const auto r = d.next();
  BOOST_TEST((r.status == FrameDecoder::Status::frame));
  BOOST_TEST(r.payload.size() == 100u);
}

BOOST_AUTO_TEST_CASE(frame_one_byte_over_cap_is_rejected_from_its_length_alone) {
  FrameDecoder d(100);
  d.feed(be32(101).substr(0, 3));
  BOOST_TEST((d.next().status == FrameDecoder::Status::need_more));
  d.feed(be32(101).substr(3));  // the fourth length byte, no payload yet
  const auto r = d.next();
  BOOST_TEST((r.status == FrameDecoder::Status::error));
  BOOST_TEST(r.error.find("101") != std::string::npos);
  BOOST_TEST(d.buffered() == 0u);
  // It stays failed and buffers nothing more.
  d.feed(std::string(50, 'x'));
  BOOST_TEST((d.next().status == FrameDecoder::Status::error));
  BOOST_TEST(d.buffered() == 0u);
}

BOOST_AUTO_TEST_CASE(frame_with_4gib_length_is_rejected) {
  FrameDecoder d(limits::max_response_frame);
  d.feed("\xff\xff\xff\xff");
  BOOST_TEST((d.next().status == FrameDecoder::Status::error));
}

// ---- Round trips --------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(hello_request_round_trip) {
  HelloRequest h{"egress25 0.1.0", std::nullopt, std::nullopt};
  const auto payload = encode(Request{h});
  const auto o = object_of(payload);
  BOOST_TEST(o.at("v").as_int64() == 1);
  BOOST_TEST(o.at("type").as_string() == "hello");
  const auto back = request_as<HelloRequest>(decode_request(payload));
  BOOST_TEST(back.client_version == "egress25 0.1.0");
  BOOST_TEST(!back.token);
  BOOST_TEST(!back.secret);
  BOOST_TEST(!back.probes_started_ms_ago);
  BOOST_TEST(!o.contains("probes_started_ms_ago"));  // an older reflector sees nothing new

  // Probes started before HELLO: how long before, in whole milliseconds, never negative.
  h.probes_started_ms_ago = 104;
  BOOST_TEST(*request_as<HelloRequest>(decode_request(encode(Request{h}))).probes_started_ms_ago ==
             104);
  auto negative = object_of(encode(Request{h}));
  negative["probes_started_ms_ago"] = -1;
  BOOST_TEST(
      std::holds_alternative<ErrorResponse>(decode_request(boost::json::serialize(negative))));
  h.probes_started_ms_ago.reset();

  h.token = token;
  h.secret = "s3cret with spaces";
  const auto back2 = request_as<HelloRequest>(decode_request(encode(Request{h})));
  BOOST_TEST(*back2.token == token);
  BOOST_TEST(*back2.secret == "s3cret with spaces");
}

BOOST_AUTO_TEST_CASE(report_request_round_trip) {
  const auto payload = encode(Request{ReportRequest{token2}});
  BOOST_TEST(object_of(payload).at("type").as_string() == "report");
  BOOST_TEST(request_as<ReportRequest>(decode_request(payload)).token == token2);
}

BOOST_AUTO_TEST_CASE(hello_response_round_trip) {
  const auto h = sample_hello_response();
  const auto payload = encode(Response{h});
  BOOST_TEST(object_of(payload).at("type").as_string() == "hello_ok");
  const auto b = response_as<HelloResponse>(decode_response(payload));
  BOOST_TEST(b.token == h.token);
  BOOST_TEST(b.probe_id == h.probe_id);
  BOOST_TEST(b.client_address == h.client_address);
  BOOST_TEST(b.client_port == h.client_port);
  BOOST_TEST((b.family == Family::ipv6));
  BOOST_TEST((b.services == h.services));
  BOOST_TEST(b.tls_fingerprint == h.tls_fingerprint);
  BOOST_TEST(b.banner_identity == h.banner_identity);
  BOOST_TEST(b.version == h.version);
  BOOST_TEST(b.witness.active == false);
  BOOST_TEST(b.witness.reason == "no CAP_NET_RAW");
  BOOST_TEST(b.server_time_unix_ms == h.server_time_unix_ms);
  BOOST_TEST(b.session_expires_unix_ms == h.session_expires_unix_ms);
  BOOST_TEST(b.witness_lookback_ms == 15'000);
}

BOOST_AUTO_TEST_CASE(report_response_round_trip_with_binary_transcript) {
  const auto r = sample_report();
  const auto payload = encode(Response{r});
  BOOST_TEST(object_of(payload).at("type").as_string() == "report_ok");
  const auto b = response_as<ReportResponse>(decode_response(payload));
  BOOST_TEST_REQUIRE(b.connections.size() == 1u);
  const auto& c = b.connections[0];
  const auto& e = r.connections[0];
  BOOST_TEST(c.probe_tag == e.probe_tag);
  BOOST_TEST(c.tag_seen_in == e.tag_seen_in, boost::test_tools::per_element());
  BOOST_TEST(c.peer_address == e.peer_address);
  BOOST_TEST(c.peer_port == e.peer_port);
  BOOST_TEST(c.local_port == e.local_port);
  BOOST_TEST(c.started_unix_ms == e.started_unix_ms);
  BOOST_TEST(c.ended_unix_ms == e.ended_unix_ms);
  BOOST_TEST(c.tls_cipher == e.tls_cipher);
  BOOST_TEST(c.end_reason == e.end_reason);
  BOOST_TEST((c.transcript == e.transcript));
  BOOST_TEST(c.transcript.plain.to_server.kept.size() == 10u);  // the NUL survived
  BOOST_TEST_REQUIRE(b.untagged.size() == 1u);
  BOOST_TEST(b.untagged[0].local_port == 587);
  BOOST_TEST(b.untagged[0].end_reason == "peer closed");
  BOOST_TEST_REQUIRE(b.refused.size() == 1u);
  const auto& x = b.refused[0];
  BOOST_TEST(x.peer_address == "198.51.100.7");
  BOOST_TEST(x.local_port == 25);
  BOOST_TEST((x.family == Family::ipv4));
  BOOST_TEST(x.reason == "too many connections from 198.51.100.7 (16)");
  BOOST_TEST(x.count == 1234u);
  BOOST_TEST(x.first_unix_ms == 1'700'000'000'100);
  BOOST_TEST(x.last_unix_ms == 1'700'000'009'900);
  BOOST_TEST(b.witness.active);
  BOOST_TEST_REQUIRE(b.witness_flows.size() == 1u);
  BOOST_TEST(b.witness_flows[0].ttl == 57);
  BOOST_TEST(b.witness_flows[0].syn_count == 2);
  BOOST_TEST(b.witness_flows[0].handshake_completed);
  BOOST_TEST(!b.witness_flows[0].rst_sent);
  BOOST_TEST(*b.public_ipv4 == "198.51.100.7");
  BOOST_TEST(!b.public_ipv6);
  BOOST_TEST(b.connections_dropped == 3u);
}

BOOST_AUTO_TEST_CASE(report_connections_dropped_is_optional_and_strict) {
  auto o = object_of(encode(Response{sample_report()}));
  BOOST_TEST(o.at("connections_dropped").as_int64() == 3);

  // Absent (an older reflector): nothing was dropped.
  auto absent = o;
  absent.erase("connections_dropped");
  BOOST_TEST(response_as<ReportResponse>(decode_response(boost::json::serialize(absent)))
                 .connections_dropped == 0u);

  // Present, it must be a non-negative integer.
  for (const boost::json::value& bad :
       {boost::json::value(-1), boost::json::value(nullptr), boost::json::value("3"),
        boost::json::value(2.5), boost::json::value(true),
        boost::json::value(std::uint64_t{1} << 40)}) {
    auto broken = o;
    broken["connections_dropped"] = bad;
    const auto e = response_error(boost::json::serialize(broken));
    BOOST_TEST((e.code == ErrorCode::malformed));
    BOOST_TEST(e.message.find("connections_dropped") != std::string::npos, e.message);
  }
}

BOOST_AUTO_TEST_CASE(report_refused_is_optional_and_strict) {
  auto o = object_of(encode(Response{sample_report()}));
  BOOST_TEST(o.at("refused").as_array().size() == 1u);

  // Absent (an older reflector): no refusals.
  auto absent = o;
  absent.erase("refused");
  BOOST_TEST(
      response_as<ReportResponse>(decode_response(boost::json::serialize(absent))).refused.empty());

  // Present, it must be an array, not null or an object.
  for (const boost::json::value& bad : {boost::json::value(nullptr), boost::json::value("x"),
                                        boost::json::value(boost::json::object{})}) {
    auto broken = o;
    broken["refused"] = bad;
    const auto e = response_error(boost::json::serialize(broken));
    BOOST_TEST((e.code == ErrorCode::malformed));
    BOOST_TEST(e.message.find("refused") != std::string::npos, e.message);
  }

  // Each field of an item is type-checked, and the error names it.
  const std::vector<std::pair<std::string, boost::json::value>> bad_fields{
      {"peer_address", boost::json::value("not an address")},
      {"peer_address", boost::json::value(7)},
      {"local_port", boost::json::value(70000)},
      {"local_port", boost::json::value("25")},
      {"family", boost::json::value("ipv5")},
      {"reason", boost::json::value(nullptr)},
      {"reason", boost::json::value(std::string(5000, 'x'))},
      {"count", boost::json::value(-1)},
      {"count", boost::json::value("1234")},
      {"count", boost::json::value(2.5)},
      {"first_unix_ms", boost::json::value(-5)},
      {"last_unix_ms", boost::json::value(true)},
  };
  for (const auto& [key, value] : bad_fields) {
    auto broken = o;
    broken["refused"].as_array()[0].as_object()[key] = value;
    const auto e = response_error(boost::json::serialize(broken));
    BOOST_TEST((e.code == ErrorCode::malformed));
    BOOST_TEST(e.message.find("refused[0]." + key) != std::string::npos, e.message);
  }
  for (const char* key : {"peer_address", "local_port", "family", "reason", "count",
                          "first_unix_ms", "last_unix_ms"}) {
    auto broken = o;
    broken["refused"].as_array()[0].as_object().erase(key);
    const auto e = response_error(boost::json::serialize(broken));
    BOOST_TEST(e.message.find(std::string("refused[0].") + key) != std::string::npos, e.message);
  }
  auto item_not_object = o;
  item_not_object["refused"].as_array()[0] = 5;
  BOOST_TEST(response_error(boost::json::serialize(item_not_object)).message.find("refused[0]") !=
             std::string::npos);

  // Capped in count: more than a REPORT may carry is hostile.
  auto too_many = o;
  too_many["refused"] =
      boost::json::array(limits::max_refused_per_report + 1, o["refused"].as_array()[0]);
  BOOST_TEST(response_error(boost::json::serialize(too_many)).message.find("refused") !=
             std::string::npos);
  auto at_cap = o;
  at_cap["refused"] =
      boost::json::array(limits::max_refused_per_report, o["refused"].as_array()[0]);
  BOOST_TEST(
      response_as<ReportResponse>(decode_response(boost::json::serialize(at_cap))).refused.size() ==
      limits::max_refused_per_report);
}

BOOST_AUTO_TEST_CASE(untagged_end_reason_is_optional_and_strict) {
  auto o = object_of(encode(Response{sample_report()}));
  BOOST_TEST(o.at("untagged").as_array()[0].as_object().at("end_reason").as_string() ==
             "peer closed");

  auto absent = o;
  absent["untagged"].as_array()[0].as_object().erase("end_reason");
  const auto r = response_as<ReportResponse>(decode_response(boost::json::serialize(absent)));
  BOOST_TEST_REQUIRE(r.untagged.size() == 1u);
  BOOST_TEST(r.untagged[0].end_reason.empty());
  BOOST_TEST(r.untagged[0].local_port == 587);

  for (const boost::json::value& bad :
       {boost::json::value(nullptr), boost::json::value(3), boost::json::value(false),
        boost::json::value(boost::json::array{}), boost::json::value(std::string(5000, 'x'))}) {
    auto broken = o;
    broken["untagged"].as_array()[0].as_object()["end_reason"] = bad;
    const auto e = response_error(boost::json::serialize(broken));
    BOOST_TEST((e.code == ErrorCode::malformed));
    BOOST_TEST(e.message.find("untagged[0].end_reason") != std::string::npos, e.message);
  }
}

BOOST_AUTO_TEST_CASE(error_response_round_trip) {
  for (auto code : {ErrorCode::malformed, ErrorCode::too_large, ErrorCode::unknown_type,
                    ErrorCode::unsupported_version, ErrorCode::unknown_token, ErrorCode::forbidden,
                    ErrorCode::busy, ErrorCode::internal}) {
    const auto payload = encode(Response{ErrorResponse{code, "because"}});
    BOOST_TEST(object_of(payload).at("code").as_string() == to_string(code));
    const auto e = response_as<ErrorResponse>(decode_response(payload));
    BOOST_TEST((e.code == code));
    BOOST_TEST(e.message == "because");
  }
}

// ---- Hostile and malformed input ----------------------------------------------------

BOOST_AUTO_TEST_CASE(not_json_and_not_object_are_malformed) {
  for (std::string_view bad : {"", "not json", "{\"v\":1,", "[1,2,3]", "\"hello\"", "42", "null",
                               "{\"v\":1,\"type\":\"hello\",\"client_version\":\"x\"} trailing"}) {
    const auto e = request_error(bad);
    BOOST_TEST((e.code == ErrorCode::malformed), bad);
  }
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_refused_without_recursion_trouble) {
  const std::string deep = std::string(10000, '[') + std::string(10000, ']');
  BOOST_TEST((request_error(deep).code == ErrorCode::malformed));
}

BOOST_AUTO_TEST_CASE(version_is_checked_before_type) {
  auto e = request_error(R"({"v":2,"type":"future_thing"})");
  BOOST_TEST((e.code == ErrorCode::unsupported_version));
  e = request_error(R"({"type":"hello","client_version":"x"})");
  BOOST_TEST((e.code == ErrorCode::malformed));
  BOOST_TEST(e.message.find("\"v\"") != std::string::npos);
  e = request_error(R"({"v":"1","type":"hello","client_version":"x"})");
  BOOST_TEST((e.code == ErrorCode::malformed));
  e = request_error(R"({"v":1.0,"type":"hello","client_version":"x"})");
  BOOST_TEST((e.code == ErrorCode::malformed));
}

BOOST_AUTO_TEST_CASE(unknown_types_are_named) {
  auto e = request_error(R"({"v":1,"type":"shutdown"})");
  BOOST_TEST((e.code == ErrorCode::unknown_type));
  BOOST_TEST(e.message.find("shutdown") != std::string::npos);
  // A response type is not a request, and the other way round.
  BOOST_TEST((request_error(R"({"v":1,"type":"hello_ok"})").code == ErrorCode::unknown_type));
  BOOST_TEST(
      (response_error(encode(Request{ReportRequest{token}})).code == ErrorCode::unknown_type));
  BOOST_TEST((request_error(R"({"v":1,"type":7})").code == ErrorCode::malformed));
}

BOOST_AUTO_TEST_CASE(wrong_field_types_and_missing_fields_name_the_field) {
  struct Case {
    std::string payload;
    std::string field;
  };
  const std::vector<Case> cases{
      {R"({"v":1,"type":"hello"})", "client_version"},
      {R"({"v":1,"type":"hello","client_version":5})", "client_version"},
      {R"({"v":1,"type":"hello","client_version":"x","token":123})", "token"},
      {R"({"v":1,"type":"hello","client_version":"x","secret":["a"]})", "secret"},
      {R"({"v":1,"type":"report"})", "token"},
      {R"({"v":1,"type":"report","token":null})", "token"},
      {R"({"v":1,"type":"report","token":{"a":1}})", "token"},
  };
  for (const auto& c : cases) {
    const auto e = request_error(c.payload);
    BOOST_TEST((e.code == ErrorCode::malformed), c.payload);
    BOOST_TEST(e.message.find("\"" + c.field + "\"") != std::string::npos,
               c.payload << " -> " << e.message);
  }
}

BOOST_AUTO_TEST_CASE(tokens_must_be_lower_case_hex_of_sane_length) {
  for (const std::string& bad :
       {std::string(31, 'a'), std::string(129, 'a'), std::string(32, 'A'), std::string(32, 'g'),
        std::string(31, 'a') + std::string(1, '\0'), std::string(),
        std::string(16, 'a') + " " + std::string(15, 'a')}) {
    boost::json::object o{{"v", 1}, {"type", "report"}, {"token", bad}};
    const auto e = request_error(boost::json::serialize(o));
    BOOST_TEST((e.code == ErrorCode::malformed));
    BOOST_TEST(e.message.find("token") != std::string::npos);
  }
  BOOST_TEST(valid_token(std::string(32, 'f')));
  BOOST_TEST(valid_token(std::string(128, '0')));
  BOOST_TEST(!valid_probe_id("abc"));
  BOOST_TEST(valid_probe_id(probe_id));
  BOOST_TEST(valid_fingerprint(fingerprint));
  BOOST_TEST(!valid_fingerprint(std::string(64, 'E')));
}

BOOST_AUTO_TEST_CASE(numbers_out_of_range_are_refused) {
  const auto good = encode(Response{sample_hello_response()});
  const std::string field = "\"client_port\":51234";
  BOOST_TEST_REQUIRE(good.find(field) != std::string::npos);
  for (const char* bad : {"65536", "-1", "25.5", "1e3", "99999999999999999999999", "\"25\"", "true",
                          "null", "1e400", "-99999999999999999999999"}) {
    auto text = good;
    text.replace(text.find(field), field.size(), "\"client_port\":" + std::string(bad));
    const auto e = response_error(text);
    BOOST_TEST((e.code == ErrorCode::malformed), bad);
    // 1e400 may already fail as JSON; every other value is refused by name.
    if (std::string_view(bad) != "1e400")
      BOOST_TEST(e.message.find("client_port") != std::string::npos, e.message);
  }
  auto broken = object_of(good);
  broken["server_time_unix_ms"] = boost::json::parse("18446744073709551615");
  BOOST_TEST(response_error(boost::json::serialize(broken)).message.find("server_time") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(hello_response_fields_are_validated) {
  const auto o = object_of(encode(Response{sample_hello_response()}));
  struct Case {
    const char* field;
    std::string value;  // JSON text
  };
  const std::vector<Case> cases{
      {"probe_id", R"("XYZ")"},
      {"probe_id", "\"" + std::string(33, 'a') + "\""},
      {"client_address", R"("not an address")"},
      {"client_address", R"("198.51.100.300")"},
      {"family", R"("ipv5")"},
      {"services", R"([{"port":25,"kind":"ftp"}])"},
      {"services", R"([{"port":70000,"kind":"smtp"}])"},
      {"services", "[42]"},
      {"services", "{}"},
      {"tls_fingerprint", "\"" + std::string(63, 'a') + "\""},
      {"witness", R"({"active":"yes","reason":""})"},
      {"witness", "true"},
      {"session_expires_unix_ms", "-5"},
      {"witness_lookback_ms", "-1"},
      {"witness_lookback_ms", R"("15s")"},
  };
  for (const auto& c : cases) {
    auto broken = o;
    broken[c.field] = boost::json::parse(c.value);
    const auto e = response_error(boost::json::serialize(broken));
    BOOST_TEST((e.code == ErrorCode::malformed), c.field);
    BOOST_TEST(e.message.find(c.field) != std::string::npos, e.message);
  }
  // Every field is required but witness_lookback_ms, which an older reflector does not
  // send: absent, it is 0 (the client then starts no probe before HELLO).
  {
    auto older = o;
    older.erase("witness_lookback_ms");
    const auto b = response_as<HelloResponse>(decode_response(boost::json::serialize(older)));
    BOOST_TEST(b.witness_lookback_ms == 0);
  }
  for (const auto& [key, value] : o) {
    if (key == "v" || key == "type" || key == "witness_lookback_ms") continue;
    auto broken = o;
    broken.erase(key);
    const auto e = response_error(boost::json::serialize(broken));
    BOOST_TEST(e.message.find(std::string(key)) != std::string::npos, e.message);
  }
}

BOOST_AUTO_TEST_CASE(report_errors_name_the_nested_field) {
  auto o = object_of(encode(Response{sample_report()}));
  auto broken = o;
  broken["connections"]
      .as_array()[0]
      .as_object()["transcript"]
      .as_object()["tls"]
      .as_object()["to_server"]
      .as_object()["b64"] = "!!!!";
  auto e = response_error(boost::json::serialize(broken));
  BOOST_TEST((e.code == ErrorCode::malformed));
  BOOST_TEST(e.message.find("connections[0].transcript.tls.to_server.b64") != std::string::npos,
             e.message);

  broken = o;
  broken["witness_flows"].as_array()[0].as_object()["ttl"] = 300;
  e = response_error(boost::json::serialize(broken));
  BOOST_TEST(e.message.find("witness_flows[0].ttl") != std::string::npos, e.message);

  broken = o;
  broken["public_ipv4"] = "2001:db8::1";
  e = response_error(boost::json::serialize(broken));
  BOOST_TEST(e.message.find("public_ipv4") != std::string::npos, e.message);

  broken = o;
  broken["connections"] =
      boost::json::array(limits::max_connections_per_session + 1, o["connections"].as_array()[0]);
  e = response_error(boost::json::serialize(broken));
  BOOST_TEST(e.message.find("connections") != std::string::npos, e.message);
}

BOOST_AUTO_TEST_CASE(unknown_error_codes_are_refused) {
  const auto e = response_error(R"({"v":1,"type":"error","code":"teapot","message":"x"})");
  BOOST_TEST((e.code == ErrorCode::malformed));
  BOOST_TEST(e.message.find("code") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_ignored_for_forward_compatibility) {
  const auto r = request_as<ReportRequest>(
      decode_request(R"({"v":1,"type":"report","token":")" + token + R"(","extra":[1,2]})"));
  BOOST_TEST(r.token == token);
}

BOOST_AUTO_TEST_CASE(peer_strings_with_invalid_utf8_still_encode_to_valid_json) {
  const auto payload = encode(Response{ErrorResponse{ErrorCode::malformed, "bad \xff\xfe byte"}});
  const auto e = response_as<ErrorResponse>(decode_response(payload));
  BOOST_TEST(e.message == "bad \\xff\\xfe byte");
}

BOOST_AUTO_TEST_CASE(mutated_payloads_never_throw) {
  // Flipped, dropped and truncated bytes of every valid message: each decode returns a
  // message or an error, never an exception. Fixed seed: a failure reproduces.
  std::mt19937 rng(25);
  const std::vector<std::string> seeds{
      encode(Request{HelloRequest{"v", token, std::string("s")}}),
      encode(Request{ReportRequest{token}}),
      encode(Response{sample_hello_response()}),
      encode(Response{sample_report()}),
      encode(Response{ErrorResponse{ErrorCode::busy, "full"}}),
  };
  int decoded = 0;
  for (const auto& seed : seeds) {
    for (int i = 0; i < 400; ++i) {
      auto s = seed;
      const auto edits = 1 + rng() % 3;
      for (unsigned e = 0; e < edits && !s.empty(); ++e) {
        const auto at = rng() % s.size();
        switch (rng() % 3) {
          case 0:
            s[at] = static_cast<char>(rng() % 256);
            break;
          case 1:
            s.erase(at, 1);
            break;
          case 2:
            s.resize(at);
            break;
        }
      }
      BOOST_CHECK_NO_THROW(decode_request(s));
      BOOST_CHECK_NO_THROW(decode_response(s));
      decoded += std::holds_alternative<Response>(decode_response(s)) ? 1 : 0;
    }
  }
  BOOST_TEST(decoded < 2000);  // most mutations are refused
}

// ---- Probe tags ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(probe_tags_and_hostnames) {
  const auto tag = make_probe_tag(probe_id, 3);
  BOOST_TEST(tag == "p3-" + probe_id);
  const auto host = probe_hostname(tag);
  BOOST_TEST(host == tag + ".egress25.invalid");
  BOOST_TEST(*tag_from_hostname(host) == tag);
  BOOST_TEST(*probe_id_from_tag(tag) == probe_id);
  // Case-insensitive, as DNS names are; the tag comes back lower case.
  std::string upper = host;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  BOOST_TEST(*tag_from_hostname(upper) == tag);
}

BOOST_AUTO_TEST_CASE(anything_else_is_not_a_tag) {
  for (const std::string& bad : std::vector<std::string>{
           std::string("mail.example.com"),
           std::string("[192.0.2.1]"),
           std::string(".egress25.invalid"),
           "p3-" + probe_id + ".egress25.invalid.",
           "p3-" + probe_id + ".egress25.example",
           "x3-" + probe_id + ".egress25.invalid",
           "p-" + probe_id + ".egress25.invalid",
           "p03-" + probe_id + ".egress25.invalid",
           "p1234567-" + probe_id + ".egress25.invalid",
           "p3-abc.egress25.invalid",
           "p3-" + probe_id + "z.egress25.invalid",
           "p3-" + probe_id + ".sub.egress25.invalid",
           "evil.p3-" + probe_id + ".egress25.invalid",
           std::string("p3-") + probe_id + std::string("\0.egress25.invalid", 18),
       })
    BOOST_TEST(!tag_from_hostname(bad), bad);
  BOOST_TEST(!probe_id_from_tag("p3"));
  BOOST_TEST(!probe_id_from_tag("p3-" + std::string(33, 'a')));
  BOOST_TEST(*probe_id_from_tag("p0-" + probe_id) == probe_id);
}

BOOST_AUTO_TEST_CASE(connect_back_round_trips) {
  ConnectBackRequest q;
  q.token = token;
  q.ports = {25, 465};
  q.reference_port = 40123;
  auto decoded = decode_request(encode(Request{q}));
  BOOST_TEST_REQUIRE(std::holds_alternative<Request>(decoded));
  const auto& back = std::get<ConnectBackRequest>(std::get<Request>(decoded));
  BOOST_TEST((back.ports == std::vector<std::uint16_t>{25, 465}));
  BOOST_TEST((back.reference_port == std::optional<std::uint16_t>(40123)));

  ConnectBackResponse r;
  r.address = "198.51.100.7";
  r.family = Family::ipv4;
  InboundAttempt open;
  open.address = "198.51.100.7";
  open.port = 25;
  open.connect = ConnectOutcome::connected;
  open.banner_code = 220;
  open.banner = "220 mx.example.org ESMTP\r\n";
  open.ehlo_code = 250;
  open.quit_code = 221;
  open.end = DialogueEnd::completed;
  InboundAttempt silent;
  silent.address = "198.51.100.7";
  silent.port = 587;
  silent.connect = ConnectOutcome::timed_out;
  silent.syn_left_host = false;
  InboundAttempt dropped;
  dropped.address = "198.51.100.7";
  dropped.port = 465;
  dropped.kind = ServiceKind::smtps;
  dropped.connect = ConnectOutcome::icmp_error;
  dropped.icmp = IcmpReport{"198.51.100.1", 3, 13, "communication administratively prohibited"};
  PathTrace trace;
  trace.probed.port = 465;
  trace.probed.hops = {{1, "203.0.113.1", HopKind::time_exceeded, 11, 0},
                       {2, "198.51.100.1", HopKind::unreachable, 3, 13}};
  trace.reference.port = 40123;
  trace.reference.hops = {{1, "203.0.113.1", HopKind::time_exceeded, 11, 0},
                          {2, "", HopKind::silent, 0, 0}};
  dropped.trace = trace;
  r.attempts = {open, dropped, silent};
  r.refused = {{587, "already connected back"}};
  const auto encoded = encode(Response{r});
  auto got = decode_response(encoded);
  BOOST_TEST_REQUIRE(std::holds_alternative<Response>(got));
  const auto& rr = std::get<ConnectBackResponse>(std::get<Response>(got));
  BOOST_TEST_REQUIRE(rr.attempts.size() == 3u);
  // Whether a silent SYN left the reflector: kept both ways, null when unknown.
  BOOST_TEST(!rr.attempts[0].syn_left_host.has_value());
  BOOST_TEST((rr.attempts[2].syn_left_host == std::optional<bool>(false)));
  // Not a boolean: the frame is refused, not read as "unknown".
  std::string bad = encoded;
  const auto at = bad.find("\"syn_left_host\":false");
  BOOST_TEST_REQUIRE(at != std::string::npos);
  bad.replace(at, std::string("\"syn_left_host\":false").size(), "\"syn_left_host\":\"no\"");
  BOOST_TEST(!std::holds_alternative<Response>(decode_response(bad)));
  BOOST_TEST(rr.attempts[0].banner == open.banner);
  BOOST_TEST((rr.attempts[0].quit_code == std::optional<int>(221)));
  BOOST_TEST(!rr.attempts[1].banner_code.has_value());
  BOOST_TEST_REQUIRE(rr.attempts[1].icmp.has_value());
  BOOST_TEST(rr.attempts[1].icmp->sender == "198.51.100.1");
  BOOST_TEST_REQUIRE(rr.attempts[1].trace.has_value());
  BOOST_TEST(rr.attempts[1].trace->probed.hops.size() == 2u);
  BOOST_TEST((rr.attempts[1].trace->probed.hops[1].kind == HopKind::unreachable));
  BOOST_TEST(rr.attempts[1].trace->reference.port == 40123);
  BOOST_TEST(rr.refused.size() == 1u);
}

BOOST_AUTO_TEST_CASE(connect_back_requests_are_checked) {
  const auto request = [](const std::string& ports) {
    return R"({"v":1,"type":"connect_back","token":")" + token + R"(","ports":)" + ports + "}";
  };
  for (const auto* bad :
       {"[]", "[0]", "[70000]", "[\"25\"]", "25", "[25,25,25,25,25,25,25,25,25]"}) {
    auto d = decode_request(request(bad));
    BOOST_TEST_REQUIRE(std::holds_alternative<ErrorResponse>(d), bad);
    BOOST_TEST((std::get<ErrorResponse>(d).code == ErrorCode::malformed));
  }
  auto d = decode_request(request("[587]"));
  BOOST_TEST(std::holds_alternative<Request>(d));
}

BOOST_AUTO_TEST_SUITE_END()
