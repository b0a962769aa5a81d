// Unit tests of the evidence JSON forms: lossless bytes, strict readers, safe strings.
#include "evidence_json.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>
#include <string>

using namespace egress25;
namespace json = boost::json;

namespace {

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  return s;
}

// Through text and back, as it travels.
json::value reparsed(const json::object& o) {
  return json::parse(json::serialize(o));
}

ConnectionRecord sample_record() {
  ConnectionRecord c;
  c.probe_tag = "p1-0123abcd";
  c.tag_seen_in = {"sni"};
  c.peer_address = "2001:db8::9";
  c.peer_port = 50000;
  c.local_address = "2001:db8::1";
  c.local_port = 465;
  c.kind = ServiceKind::smtps;
  c.family = Family::ipv6;
  c.started_unix_ms = 10;
  c.ended_unix_ms = 20;
  c.tls_version = "TLSv1.3";
  c.tls_cipher = "TLS_AES_128_GCM_SHA256";
  c.tls_sni = "p1-0123abcd.egress25.invalid";
  c.end_reason = "quit";
  c.transcript.tls.to_client.append("220 hi\r\n");
  c.transcript.tls.to_server.append(all_bytes());
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(evidence_json)

BOOST_AUTO_TEST_CASE(base64_known_vectors_rfc4648) {
  const std::vector<std::pair<std::string, std::string>> vectors{
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    BOOST_TEST(base64_encode(plain) == encoded);
    BOOST_TEST(*base64_decode(encoded) == plain);
  }
}

BOOST_AUTO_TEST_CASE(base64_decoder_is_strict) {
  for (std::string_view bad : std::vector<std::string_view>{
           "Zg", "Zg=", "Zh==", "Zm9=", "Z===", "Zm9v!A==", "Zg==Zg==", "Zm 9v", "=Zg=", "Zm9v\n",
           std::string_view("Zm8=\0", 5)})
    BOOST_TEST(!base64_decode(bad), bad);
}

BOOST_AUTO_TEST_CASE(capped_bytes_round_trip_every_byte_value) {
  CappedBytes b;
  b.cap = 300;
  b.append(all_bytes());
  b.append(all_bytes());  // 512 seen, 300 kept
  const auto o = to_json(b);
  BOOST_TEST(o.at("total").as_uint64() == 512u);
  BOOST_TEST(o.at("cap").as_uint64() == 300u);
  BOOST_TEST(o.at("truncated").as_bool());
  // The human preview is escaped ASCII.
  const auto text = std::string(o.at("text").as_string());
  BOOST_TEST(text.substr(0, 8) == "\\x00\\x01");
  BOOST_TEST(std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; }));
  CappedBytes back;
  std::string error;
  BOOST_TEST_REQUIRE(from_json(reparsed(o), back, error), error);
  BOOST_TEST((back == b));
  BOOST_TEST(back.kept.size() == 300u);
  BOOST_TEST(back.truncated());
}

BOOST_AUTO_TEST_CASE(invalid_utf8_round_trips_exactly) {
  CappedBytes b;
  b.append("250-\xc3\x28 \xed\xa0\x80 \xf8\x88\x80\x80\x80 \xff\r\n");
  CappedBytes back;
  std::string error;
  BOOST_TEST_REQUIRE(from_json(reparsed(to_json(b)), back, error), error);
  BOOST_TEST(back.kept == b.kept);
}

BOOST_AUTO_TEST_CASE(capped_bytes_reader_rejects_inconsistent_records) {
  CappedBytes b;
  b.cap = 4;
  b.append("abcdef");
  const auto good = to_json(b);
  struct Case {
    const char* field;
    json::value value;
  };
  std::vector<Case> cases;
  cases.push_back({"b64", json::value("not base64!")});
  cases.push_back({"b64", json::value(42)});
  cases.push_back({"total", json::value(2)});  // fewer than kept
  cases.push_back({"total", json::value(-1)});
  cases.push_back({"total", json::value(6.0)});
  cases.push_back({"cap", json::value(3)});            // kept more than the cap
  cases.push_back({"truncated", json::value(false)});  // contradicts total
  cases.push_back({"truncated", json::value("yes")});
  for (const auto& c : cases) {
    auto broken = good;
    broken[c.field] = c.value;
    CappedBytes out;
    out.kept = "untouched";
    std::string error;
    BOOST_TEST(!from_json(broken, out, error), c.field);
    BOOST_TEST(error.find(c.field) != std::string::npos, error);
    BOOST_TEST(out.kept == "untouched");  // not written on failure
  }
  for (const auto* key : {"b64", "total", "cap", "truncated"}) {
    auto broken = good;
    broken.erase(key);
    CappedBytes out;
    std::string error;
    BOOST_TEST(!from_json(broken, out, error));
    BOOST_TEST(error.find(key) != std::string::npos, error);
  }
  CappedBytes out;
  std::string error;
  BOOST_TEST(!from_json(json::value(json::array{}), out, error));
  BOOST_TEST(!error.empty());
}

BOOST_AUTO_TEST_CASE(transcript_round_trip_and_nested_error_names) {
  Transcript t;
  t.plain.to_client.append("220 x\r\n");
  t.plain.to_server.append("EHLO y\r\n");
  t.tls.to_server.append(std::string("\0\x01\x02", 3));
  Transcript back;
  std::string error;
  const auto o = to_json(t);
  BOOST_TEST_REQUIRE(from_json(reparsed(o), back, error), error);
  BOOST_TEST((back == t));

  auto broken = o;
  broken["tls"].as_object()["to_client"].as_object()["total"] = "many";
  BOOST_TEST(!from_json(broken, back, error));
  BOOST_TEST(error.find("tls.to_client.total") != std::string::npos, error);
  BOOST_TEST(!from_json(broken, back, error, "connections[4].transcript"));
  BOOST_TEST(error.find("connections[4].transcript.tls.to_client.total") != std::string::npos,
             error);
}

BOOST_AUTO_TEST_CASE(connection_record_round_trip) {
  const auto c = sample_record();
  const auto o = to_json(c);
  BOOST_TEST(o.at("kind").as_string() == "smtps");
  BOOST_TEST(o.at("family").as_string() == "ipv6");
  ConnectionRecord back;
  std::string error;
  BOOST_TEST_REQUIRE(from_json(reparsed(o), back, error), error);
  BOOST_TEST(back.probe_tag == c.probe_tag);
  BOOST_TEST(back.tag_seen_in == c.tag_seen_in, boost::test_tools::per_element());
  BOOST_TEST(back.peer_address == c.peer_address);
  BOOST_TEST(back.peer_port == c.peer_port);
  BOOST_TEST(back.local_address == c.local_address);
  BOOST_TEST(back.local_port == c.local_port);
  BOOST_TEST((back.kind == c.kind));
  BOOST_TEST((back.family == c.family));
  BOOST_TEST(back.started_unix_ms == c.started_unix_ms);
  BOOST_TEST(back.ended_unix_ms == c.ended_unix_ms);
  BOOST_TEST(back.tls_version == c.tls_version);
  BOOST_TEST(back.tls_cipher == c.tls_cipher);
  BOOST_TEST(back.tls_sni == c.tls_sni);
  BOOST_TEST(back.end_reason == c.end_reason);
  BOOST_TEST((back.transcript == c.transcript));
}

BOOST_AUTO_TEST_CASE(connection_record_reader_is_strict) {
  const auto good = to_json(sample_record());
  struct Case {
    const char* field;
    json::value value;
  };
  std::vector<Case> cases;
  cases.push_back({"kind", json::value("pop3")});
  cases.push_back({"family", json::value("ipv5")});
  cases.push_back({"peer_port", json::value(70000)});
  cases.push_back({"local_port", json::value("25")});
  cases.push_back({"started_unix_ms", json::value(-1)});
  cases.push_back({"tag_seen_in", json::value("ehlo")});
  cases.push_back({"tag_seen_in", json::value(json::array{1})});
  cases.push_back({"end_reason", json::value(std::string(5000, 'x'))});
  cases.push_back({"transcript", json::value(json::object{})});
  for (const auto& c : cases) {
    auto broken = good;
    broken[c.field] = c.value;
    ConnectionRecord out;
    std::string error;
    BOOST_TEST(!from_json(broken, out, error), c.field);
    BOOST_TEST(error.find(c.field) != std::string::npos, error);
  }
  for (const auto& [key, value] : good) {
    auto broken = good;
    broken.erase(key);
    ConnectionRecord out;
    std::string error;
    BOOST_TEST(!from_json(broken, out, error), key);
    BOOST_TEST(error.find(std::string(key)) != std::string::npos, error);
  }
}

BOOST_AUTO_TEST_CASE(client_probe_json_uses_words_and_nulls) {
  ClientProbe p;
  p.host = "reflector.example";
  p.address = "192.0.2.10";
  p.port = 587;
  p.kind = ServiceKind::smtp;
  p.connect = ConnectOutcome::icmp_error;
  p.icmp = IcmpReport{"198.51.100.1", 3, 13, "administratively prohibited"};
  p.end = DialogueEnd::none;
  p.banner = "220 \xff\xfe";
  p.transcript.plain.to_client.append("x");
  const auto o = reparsed(to_json(p)).as_object();
  BOOST_TEST(o.at("service").as_string() == "submission");
  BOOST_TEST(o.at("connect").as_string() == "icmp_error");
  BOOST_TEST(o.at("end").as_string() == "none");
  BOOST_TEST(o.at("family").as_string() == "ipv4");
  BOOST_TEST(o.at("icmp").as_object().at("sender").as_string() == "198.51.100.1");
  BOOST_TEST(o.at("icmp").as_object().at("code").as_int64() == 13);
  BOOST_TEST(o.at("banner_code").is_null());
  BOOST_TEST(o.at("starttls_reply_code").is_null());
  BOOST_TEST(o.at("banner").as_string() == "220 \\xff\\xfe");  // still valid JSON
  CappedBytes back;
  std::string error;
  BOOST_TEST(from_json(o.at("transcript").at("plain").at("to_client"), back, error), error);
  BOOST_TEST(back.kept == "x");

  p.icmp.reset();
  p.banner_code = 220;
  const auto o2 = to_json(p);
  BOOST_TEST(o2.at("icmp").is_null());
  BOOST_TEST(o2.at("banner_code").as_int64() == 220);
}

BOOST_AUTO_TEST_CASE(path_trace_json) {
  PathTrace t;
  t.probed.port = 25;
  t.probed.hops = {{1, "192.0.2.1", HopKind::time_exceeded, 11, 0},
                   {2, "198.51.100.1", HopKind::unreachable, 3, 13},
                   {3, "", HopKind::silent, 0, 0}};
  t.reference.port = 7025;
  t.reference.hops = {{1, "192.0.2.1", HopKind::time_exceeded, 11, 0},
                      {2, "203.0.113.9", HopKind::reached, 0, 0}};
  const auto o = reparsed(to_json(t)).as_object();
  const auto& probed = o.at("probed").as_object();
  BOOST_TEST(probed.at("port").as_int64() == 25);
  const auto& hops = probed.at("hops").as_array();
  BOOST_TEST_REQUIRE(hops.size() == 3u);
  BOOST_TEST(hops[1].at("kind").as_string() == "unreachable");
  BOOST_TEST(hops[1].at("address").as_string() == "198.51.100.1");
  BOOST_TEST(hops[1].at("icmp_code").as_int64() == 13);
  BOOST_TEST(hops[2].at("kind").as_string() == "silent");
  BOOST_TEST(o.at("reference").at("hops").as_array()[1].at("kind").as_string() == "reached");
}

BOOST_AUTO_TEST_CASE(json_safe_keeps_utf8_and_escapes_the_rest) {
  BOOST_TEST(json_safe("plain ascii\r\n") == "plain ascii\r\n");
  BOOST_TEST(json_safe("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7") ==
             "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7");
  BOOST_TEST(json_safe("\xff") == "\\xff");
  BOOST_TEST(json_safe("\xc3") == "\\xc3");                             // truncated sequence
  BOOST_TEST(json_safe("\xc0\xaf") == "\\xc0\\xaf");                    // overlong '/'
  BOOST_TEST(json_safe("\xed\xa0\x80") == "\\xed\\xa0\\x80");           // surrogate
  BOOST_TEST(json_safe("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  // Whatever goes in, the result parses back as JSON.
  const auto s = json_safe(all_bytes());
  const auto v = json::parse(json::serialize(json::value(s)));
  BOOST_TEST(v.as_string() == s);
}

BOOST_AUTO_TEST_SUITE_END()
