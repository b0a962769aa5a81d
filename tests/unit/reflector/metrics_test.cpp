// Unit tests of the reflector's metrics: the text a scrape returns, the HTTP answer to a
// request head, and the --metrics option (no sockets).
#include "metrics.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <utility>
#include <vector>

#include "listener.hpp"
#include "options.hpp"

using namespace egress25;
using namespace egress25::reflector;

namespace {

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

ParseOutcome parse(std::vector<const char*> args) {
  args.insert(args.begin(), "egress25-reflector");
  return parse_options(static_cast<int>(args.size()), args.data());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(counters_render_in_the_text_format) {
  Metrics m;
  m.session_opened();
  m.session_opened();
  m.probe(25, Family::ipv4);
  m.probe(25, Family::ipv4);
  m.probe(465, Family::ipv6);
  m.refused(RefusalReason::connections_per_source);
  m.tls_handshake_failed();
  auto s = m.snapshot();
  s.sessions_live = 1;
  s.witness = WitnessCounts{1234, 5};
  const auto text = render(s);
  BOOST_TEST(has_line(text, "# TYPE egress25_reflector_sessions_opened_total counter"));
  BOOST_TEST(has_line(text, "egress25_reflector_sessions_opened_total 2"));
  BOOST_TEST(has_line(text, "# TYPE egress25_reflector_sessions_live gauge"));
  BOOST_TEST(has_line(text, "egress25_reflector_sessions_live 1"));
  BOOST_TEST(has_line(text, "egress25_reflector_probes_total{port=\"25\",family=\"ipv4\"} 2"));
  BOOST_TEST(has_line(text, "egress25_reflector_probes_total{port=\"465\",family=\"ipv6\"} 1"));
  BOOST_TEST(
      has_line(text, "egress25_reflector_refused_total{reason=\"connections_per_source\"} 1"));
  BOOST_TEST(has_line(text, "egress25_reflector_tls_handshakes_failed_total 1"));
  BOOST_TEST(has_line(text, "egress25_reflector_witness_active 1"));
  BOOST_TEST(has_line(text, "egress25_reflector_witness_packets_total 1234"));
  BOOST_TEST(has_line(text, "egress25_reflector_witness_packets_dropped_total 5"));
  BOOST_TEST(text.back() == '\n');  // the format ends every line, the last included
}

BOOST_AUTO_TEST_CASE(every_refusal_reason_shows_before_it_happens) {
  // A series that appears only once it is non-zero breaks rate() and alerts on absence.
  const auto text = render(Metrics().snapshot());
  for (const char* reason : {"connections_total", "connections_per_source", "connections_rate",
                             "sessions_total", "sessions_per_source", "sessions_rate"})
    BOOST_TEST(has_line(text, std::string("egress25_reflector_refused_total{reason=\"") + reason +
                                  "\"} 0"),
               reason);
  BOOST_TEST(has_line(text, "egress25_reflector_sessions_opened_total 0"));
  BOOST_TEST(has_line(text, "egress25_reflector_witness_active 0"));
  BOOST_TEST(text.find("witness_packets_total") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_series_has_help_and_type_once) {
  Metrics m;
  m.probe(25, Family::ipv4);
  m.probe(587, Family::ipv4);
  auto s = m.snapshot();
  s.witness = WitnessCounts{};
  const auto text = render(s);
  std::size_t types = 0, pos = 0;
  while ((pos = text.find("# TYPE ", pos)) != std::string::npos) ++types, ++pos;
  BOOST_TEST(types == 8u);
  const auto first = text.find("# TYPE egress25_reflector_probes_total");
  BOOST_TEST(text.find("# TYPE egress25_reflector_probes_total", first + 1) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(limiter_sentences_map_to_their_reason) {
  // The real sentences, so a change of wording cannot silently move a count.
  auto reason_of = [](ConnectionLimits l, int held_from_same, const char* newcomer) {
    ConnectionTable table(l);
    std::vector<ConnectionTable::Slot> held;
    for (int i = 0; i < held_from_same; ++i)
      held.push_back(std::move(*table.admit(net::ip::make_address("192.0.2.1"), 0).slot));
    auto refused = table.admit(net::ip::make_address(newcomer), 0);
    BOOST_TEST_REQUIRE(!refused.slot.has_value());
    return std::pair{connection_refusal_reason(refused.why), refused.why};
  };
  ConnectionLimits total;
  total.max_total = 1;
  auto [r1, why1] = reason_of(total, 1, "198.51.100.1");
  BOOST_TEST((r1 == RefusalReason::connections_total), why1);
  ConnectionLimits address;
  address.max_per_address = 1;
  address.shed_idle_after_ms = 1'000'000;
  auto [r2, why2] = reason_of(address, 1, "192.0.2.1");
  BOOST_TEST((r2 == RefusalReason::connections_per_source), why2);
  ConnectionLimits prefix;
  prefix.max_per_prefix = 1;
  prefix.shed_idle_after_ms = 1'000'000;
  auto [r3, why3] = reason_of(prefix, 1, "192.0.2.2");
  BOOST_TEST((r3 == RefusalReason::connections_per_source), why3);
  ConnectionLimits rate;
  rate.rate_per_address = 1;
  auto [r4, why4] = reason_of(rate, 1, "192.0.2.1");
  BOOST_TEST((r4 == RefusalReason::connections_rate), why4);
}

BOOST_AUTO_TEST_CASE(get_metrics_is_answered_with_the_text_format) {
  const auto r = metrics_http_response("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "a 1\n");
  BOOST_TEST(r.starts_with("HTTP/1.1 200 OK\r\n"));
  BOOST_TEST(r.find("\r\nContent-Type: text/plain; version=0.0.4") != std::string::npos);
  BOOST_TEST(r.find("\r\nContent-Length: 4\r\n") != std::string::npos);
  BOOST_TEST(r.ends_with("\r\n\r\na 1\n"));
  // Prometheus may ask for a subset; the whole page is a valid answer.
  BOOST_TEST(metrics_http_response("GET /metrics?name[]=x HTTP/1.0\r\n\r\n", "")
                 .starts_with("HTTP/1.1 200 "));
}

BOOST_AUTO_TEST_CASE(anything_else_is_not_the_metrics) {
  const std::string body = "secret_series 1\n";
  for (const char* head : {"GET / HTTP/1.1\r\n\r\n", "GET /metricsx HTTP/1.1\r\n\r\n",
                           "GET /favicon.ico HTTP/1.1\r\n\r\n"}) {
    const auto r = metrics_http_response(head, body);
    BOOST_TEST(r.starts_with("HTTP/1.1 404 "), head);
    BOOST_TEST(r.find(body) == std::string::npos);
  }
  BOOST_TEST(
      metrics_http_response("POST /metrics HTTP/1.1\r\n\r\n", body).starts_with("HTTP/1.1 405 "));
  for (const char* head : {"EHLO x\r\n\r\n", "GET /metrics\r\n\r\n", "\r\n\r\n", "GET"})
    BOOST_TEST(metrics_http_response(head, body).starts_with("HTTP/1.1 400 "), head);
}

BOOST_AUTO_TEST_CASE(metrics_endpoint_is_off_by_default_and_loopback_unless_told) {
  BOOST_TEST(parse({}).options.metrics_port == 0);
  for (const char* text : {"9125", ":9125"}) {
    const auto o = parse({"--metrics", text});
    BOOST_TEST_REQUIRE(o.run, text);
    BOOST_TEST(o.options.metrics_address == "127.0.0.1");
    BOOST_TEST(o.options.metrics_port == 9125);
  }
  auto o = parse({"--metrics", "0.0.0.0:9125"});
  BOOST_TEST(o.options.metrics_address == "0.0.0.0");
  o = parse({"--metrics", "[::1]:9200", "--port-offset", "10000"});
  BOOST_TEST_REQUIRE(o.run);
  BOOST_TEST(o.options.metrics_address == "::1");
  BOOST_TEST(o.options.metrics_port == 9200);  // an explicit endpoint: no offset
  for (const char* bad :
       {"", "::1:9125", "localhost:9125", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "x"}) {
    const auto b = parse({"--metrics", bad});
    BOOST_TEST(!b.run, bad);
    BOOST_TEST(b.exit_code == 2);
    BOOST_TEST(b.err.find("--metrics") != std::string::npos, b.err);
  }
}

BOOST_AUTO_TEST_SUITE_END()
