// Unit tests of the control service's request handler (no I/O): what HELLO and REPORT
// answer, and that a REPORT says only what the reflector can stand behind.
#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "control_protocol.hpp"
#include "control_session.hpp"
#include "limits.hpp"
#include "packet_witness.hpp"
#include "session_store.hpp"

using namespace egress25;
using namespace egress25::reflector;

namespace {

constexpr std::int64_t t0 = 1'700'000'000'000;
const ControlService::Peer client{"198.51.100.7", 40000, Family::ipv4};

// A witness whose flows and health the test sets.
class FakeWitness final : public PacketWitness {
 public:
  void start() override {}
  void stop() override {}
  std::vector<control::WitnessFlow> flows_from(const std::vector<std::string>& addresses,
                                               std::int64_t since_unix_ms) const override {
    std::vector<control::WitnessFlow> out;
    for (const auto& f : flows)
      for (const auto& a : addresses)
        if (f.source_address == a && f.first_seen_unix_ms >= since_unix_ms) out.push_back(f);
    return out;
  }
  std::string capture_error() const override { return error; }

  std::vector<control::WitnessFlow> flows;
  std::string error;
};

control::WitnessFlow syn_from(const std::string& address, std::uint16_t source_port) {
  control::WitnessFlow f;
  f.source_address = address;
  f.source_port = source_port;
  f.destination_port = 25;
  f.syn_seen = true;
  f.syn_count = 1;
  f.first_seen_unix_ms = t0 + 10;
  return f;
}

struct Service {
  explicit Service(bool with_witness = false, SessionStore::Limits limits = {})
      : store(limits), service(store, config(with_witness ? &witness : nullptr)) {}

  ControlConfig config(const PacketWitness* w) {
    ControlConfig c;
    c.services = {{25, ServiceKind::smtp, "smtp"}};
    c.tls_fingerprint = std::string(64, 'a');
    c.banner_identity = "egress25-reflector";
    c.version = "test";
    c.witness = w ? control::WitnessStatus{true, ""}
                  : control::WitnessStatus{false, "disabled by --witness off"};
    c.packet_witness = w;
    return c;
  }

  ControlService::Handled hello(const ControlService::Peer& peer = client,
                                const std::string& version = "test") {
    control::HelloRequest h;
    h.client_version = version;
    return service.handle(h, peer, t0);
  }
  control::HelloResponse session() {
    auto handled = hello();
    BOOST_TEST_REQUIRE(std::holds_alternative<control::HelloResponse>(handled.response));
    return std::get<control::HelloResponse>(handled.response);
  }
  static std::int64_t t0_plus(std::int64_t ms) { return t0 + ms; }
  control::ReportResponse report(const std::string& token) {
    auto handled = service.handle(control::ReportRequest{token}, client, t0 + 1000);
    BOOST_TEST_REQUIRE(std::holds_alternative<control::ReportResponse>(handled.response));
    return std::get<control::ReportResponse>(handled.response);
  }

  FakeWitness witness;
  SessionStore store;
  ControlService service;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(control_service)

BOOST_AUTO_TEST_CASE(one_source_is_told_busy_in_its_own_words) {
  SessionStore::Limits l;
  l.max_sessions_per_address = 2;
  Service s(false, l);
  s.session();
  s.session();
  auto refused = s.hello();
  BOOST_TEST_REQUIRE(std::holds_alternative<control::ErrorResponse>(refused.response));
  const auto& e = std::get<control::ErrorResponse>(refused.response);
  BOOST_TEST((e.code == control::ErrorCode::busy));
  BOOST_TEST(e.message.find("your address " + client.address) != std::string::npos, e.message);
  BOOST_TEST(e.message.find("(2)") != std::string::npos, e.message);
  BOOST_TEST(e.message.find("says nothing about your network") != std::string::npos, e.message);
  BOOST_TEST(refused.log_line.find("HELLO refused: sessions of " + client.address) == 0u,
             refused.log_line);
  // Someone else is still served.
  auto other = s.hello({"203.0.113.9", 40000, Family::ipv4});
  BOOST_TEST(std::holds_alternative<control::HelloResponse>(other.response));
}

BOOST_AUTO_TEST_CASE(a_reported_session_no_longer_counts_toward_its_source) {
  SessionStore::Limits l;
  l.max_sessions_per_address = 1;
  Service s(false, l);
  const auto first = s.session();
  BOOST_TEST(std::holds_alternative<control::ErrorResponse>(s.hello().response));
  s.report(first.token);
  // One check after another from the same address: the first is done once reported.
  BOOST_TEST(std::holds_alternative<control::HelloResponse>(s.hello().response));
}

BOOST_AUTO_TEST_CASE(a_source_over_its_hello_rate_is_told_so) {
  SessionStore::Limits l;
  l.hello_rate_per_address = 3;
  l.max_sessions_per_address = 100;
  Service s(false, l);
  std::string token;
  for (int i = 0; i < 3; ++i) token = s.session().token;
  auto refused = s.hello();
  BOOST_TEST_REQUIRE(std::holds_alternative<control::ErrorResponse>(refused.response));
  const auto& e = std::get<control::ErrorResponse>(refused.response);
  BOOST_TEST((e.code == control::ErrorCode::busy));
  BOOST_TEST(e.message.find("faster than") != std::string::npos, e.message);
  BOOST_TEST(e.message.find("3 a minute") != std::string::npos, e.message);
  // Joining from the other family carries a token: it opens nothing, and is not counted.
  control::HelloRequest join;
  join.client_version = "test";
  join.token = token;
  auto joined = s.service.handle(join, {"2001:db8::7", 40000, Family::ipv6}, s.t0_plus(1));
  BOOST_TEST(std::holds_alternative<control::HelloResponse>(joined.response));
}

BOOST_AUTO_TEST_CASE(the_log_line_escapes_what_the_peer_sent) {
  Service s;
  auto handled = s.hello(client, "evil\n2024-01-01 [error] forged\x1b[31m");
  BOOST_TEST(handled.log_line.find('\n') == std::string::npos, handled.log_line);
  BOOST_TEST(handled.log_line.find('\x1b') == std::string::npos, handled.log_line);
  BOOST_TEST(handled.log_line.find("\\x0a") != std::string::npos, handled.log_line);
}

BOOST_AUTO_TEST_CASE(report_counts_the_records_it_did_not_keep) {
  Service s;
  const auto h = s.session();
  auto rep = s.report(h.token);
  BOOST_TEST(rep.connections_dropped == 0u);

  SessionStore::Limits l;
  l.max_connections_per_session = 1;
  Service small(false, l);
  const auto h2 = small.session();
  for (int i = 0; i < 3; ++i) {
    auto record = std::make_shared<ConnectionRecord>();
    record->peer_address = client.address;
    record->local_port = 25;
    const auto ring_id = small.store.note_connection(*record);
    small.store.saw_name(control::probe_hostname(control::make_probe_tag(h2.probe_id, i + 1)),
                         "ehlo", ring_id, record, t0 + 5);
  }
  rep = small.report(h2.token);
  BOOST_TEST(rep.connections.size() == 1u);
  BOOST_TEST(rep.connections_dropped == 2u);
  // And the count survives the wire.
  const auto decoded = control::decode_response(control::encode(control::Response{rep}));
  BOOST_TEST_REQUIRE(std::holds_alternative<control::Response>(decoded));
  BOOST_TEST(
      std::get<control::ReportResponse>(std::get<control::Response>(decoded)).connections_dropped ==
      2u);
}

BOOST_AUTO_TEST_CASE(report_gives_the_sessions_own_witness_flows) {
  Service s(true);
  s.witness.flows = {syn_from(client.address, 40001), syn_from("203.0.113.9", 40002)};
  const auto h = s.session();
  BOOST_TEST(h.witness.active);
  auto rep = s.report(h.token);
  BOOST_TEST(rep.witness.active);
  BOOST_TEST_REQUIRE(rep.witness_flows.size() == 1u);
  BOOST_TEST(rep.witness_flows[0].source_address == client.address);
}

BOOST_AUTO_TEST_CASE(a_witness_that_stopped_is_not_reported_active) {
  Service s(true);
  const auto h = s.session();
  s.witness.error = "packet capture failed: the interface went down";
  s.witness.flows = {syn_from(client.address, 40001)};
  auto rep = s.report(h.token);
  // "Active with no SYN" would blame the path for what the witness never watched.
  BOOST_TEST(!rep.witness.active);
  BOOST_TEST(rep.witness.reason.find("the interface went down") != std::string::npos,
             rep.witness.reason);
  BOOST_TEST(rep.witness_flows.empty());
  BOOST_TEST(!s.session().witness.active);  // HELLO says so too
}

BOOST_AUTO_TEST_CASE(a_flood_of_flows_makes_the_witness_silent_not_partial) {
  Service s(true);
  const auto h = s.session();
  for (std::size_t i = 0; i <= limits::max_witness_flows_per_report; ++i)
    s.witness.flows.push_back(syn_from(client.address, static_cast<std::uint16_t>(1024 + i)));
  auto rep = s.report(h.token);
  BOOST_TEST(!rep.witness.active);
  BOOST_TEST(rep.witness.reason.find("too many") != std::string::npos, rep.witness.reason);
  BOOST_TEST(rep.witness_flows.empty());
  // The REPORT still fits its frame.
  BOOST_TEST(control::encode(control::Response{rep}).size() <= limits::max_response_frame);

  // At the cap exactly, every flow is given.
  s.witness.flows.pop_back();
  rep = s.report(h.token);
  BOOST_TEST(rep.witness.active);
  BOOST_TEST(rep.witness_flows.size() == limits::max_witness_flows_per_report);
}

BOOST_AUTO_TEST_CASE(report_says_which_connections_the_reflector_itself_refused) {
  Service s;
  const auto h = s.session();
  const std::string cap = "too many connections from " + client.address + " (16)";
  for (int i = 0; i < 3; ++i)
    s.store.refusals().note(client.address, Family::ipv4, 25, cap, t0 + i);
  s.store.refusals().note("203.0.113.9", Family::ipv4, 25, cap, t0 + 5);
  auto rep = s.report(h.token);
  BOOST_TEST_REQUIRE(rep.refused.size() == 1u);
  BOOST_TEST(rep.refused[0].peer_address == client.address);
  BOOST_TEST(rep.refused[0].local_port == 25);
  BOOST_TEST(rep.refused[0].count == 3u);
  BOOST_TEST(rep.refused[0].reason == cap);
  // And it survives the wire.
  const auto decoded = control::decode_response(control::encode(control::Response{rep}));
  BOOST_TEST_REQUIRE(std::holds_alternative<control::Response>(decoded));
  const auto& back = std::get<control::ReportResponse>(std::get<control::Response>(decoded));
  BOOST_TEST_REQUIRE(back.refused.size() == 1u);
  BOOST_TEST(back.refused[0].count == 3u);
  BOOST_TEST(back.refused[0].last_unix_ms == t0 + 2);
}

BOOST_AUTO_TEST_SUITE_END()
