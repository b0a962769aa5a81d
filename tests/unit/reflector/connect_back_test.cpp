// Unit tests of the connect-back rules (no I/O): whom the reflector connects back to (the
// session's own address over its own control connection, nobody else), on which ports,
// how often per session, and its reflector-wide caps.
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "connect_back.hpp"
#include "control_protocol.hpp"
#include "control_session.hpp"
#include "limits.hpp"
#include "session_store.hpp"

using namespace egress25;
using namespace egress25::reflector;

namespace {

constexpr std::int64_t t0 = 1'700'000'000'000;
const ControlService::Peer client4{"198.51.100.7", 40000, Family::ipv4};
const ControlService::Peer client6{"2001:db8::7", 40001, Family::ipv6};
const ControlService::Peer stranger4{"203.0.113.99", 40002, Family::ipv4};

struct Fixture {
  explicit Fixture(ConnectBackRules rules = {}) : gate(rules), service(store, config()) {}

  ControlConfig config() {
    ControlConfig c;
    c.services = {{25, ServiceKind::smtp, "smtp"}};
    c.tls_fingerprint = std::string(64, 'a');
    c.banner_identity = "egress25-reflector";
    c.version = "test";
    c.connect_back = &gate;
    return c;
  }

  std::string hello(const ControlService::Peer& peer = client4,
                    std::optional<std::string> token = std::nullopt) {
    control::HelloRequest h;
    h.client_version = "test";
    h.token = token;
    auto handled = service.handle(h, peer, t0);
    BOOST_TEST_REQUIRE(std::holds_alternative<control::HelloResponse>(handled.response));
    return std::get<control::HelloResponse>(handled.response).token;
  }

  ControlService::ConnectBackStart ask(const std::string& token, std::vector<std::uint16_t> ports,
                                       const ControlService::Peer& peer = client4,
                                       std::optional<std::uint16_t> reference = 40123,
                                       std::int64_t now = t0) {
    control::ConnectBackRequest r;
    r.token = token;
    r.ports = std::move(ports);
    r.reference_port = reference;
    return service.begin_connect_back(r, peer, now);
  }

  SessionStore store;
  ConnectBackGate gate;
  ControlService service;
};

std::vector<std::uint16_t> ports_of(const ConnectBackGate::Plan& p) {
  std::vector<std::uint16_t> out;
  for (const auto& s : p.connect) out.push_back(s.port);
  return out;
}

control::ErrorCode error_of(const ControlService::ConnectBackStart& s) {
  BOOST_TEST_REQUIRE(s.answer.has_value());
  BOOST_TEST_REQUIRE(std::holds_alternative<control::ErrorResponse>(s.answer->response));
  return std::get<control::ErrorResponse>(s.answer->response).code;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(connect_back)

BOOST_AUTO_TEST_CASE(the_fixed_mail_ports_move_with_the_port_offset) {
  ConnectBackRules rules;
  BOOST_TEST((ports_of({ConnectBackGate(rules).ports(), {}, {}}) ==
              std::vector<std::uint16_t>{25, 465, 587}));
  rules.port_offset = 10000;
  ConnectBackGate shifted(rules);
  BOOST_TEST(
      (ports_of({shifted.ports(), {}, {}}) == std::vector<std::uint16_t>{10025, 10465, 10587}));
  BOOST_TEST((shifted.ports()[1].kind == ServiceKind::smtps));
}

BOOST_AUTO_TEST_CASE(connects_back_to_the_requested_mail_ports_of_its_own_session) {
  Fixture f;
  const auto token = f.hello();
  auto start = f.ask(token, {25, 587});
  BOOST_TEST(!start.answer.has_value());
  BOOST_TEST((ports_of(start.plan) == std::vector<std::uint16_t>{25, 587}));
  BOOST_TEST(start.plan.refused.empty());
  BOOST_TEST((start.plan.reference_port == std::optional<std::uint16_t>(40123)));
  BOOST_TEST(f.gate.in_flight() == 2u);
  f.gate.release(2);
  BOOST_TEST(f.gate.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(another_address_holding_the_token_is_refused) {
  // The token is the session's secret, but even its holder cannot aim the reflector at an
  // address that did not open or join the session.
  Fixture f;
  const auto token = f.hello();
  BOOST_TEST((error_of(f.ask(token, {25}, stranger4)) == control::ErrorCode::forbidden));
  BOOST_TEST(f.gate.in_flight() == 0u);
  // Over IPv6 before the session was joined over IPv6: no address of that family yet.
  BOOST_TEST((error_of(f.ask(token, {25}, client6)) == control::ErrorCode::forbidden));
  // Joined over IPv6, that address may ask over IPv6.
  f.hello(client6, token);
  auto start = f.ask(token, {25}, client6);
  BOOST_TEST(!start.answer.has_value());
  BOOST_TEST((ports_of(start.plan) == std::vector<std::uint16_t>{25}));
}

BOOST_AUTO_TEST_CASE(an_unknown_token_and_a_disabled_reflector_are_refused) {
  Fixture f;
  BOOST_TEST((error_of(f.ask(std::string(32, 'b'), {25})) == control::ErrorCode::unknown_token));
  ConnectBackRules off;
  off.enabled = false;
  Fixture g(off);
  const auto token = g.hello();
  auto start = g.ask(token, {25});
  BOOST_TEST((error_of(start) == control::ErrorCode::forbidden));
  const auto& e = std::get<control::ErrorResponse>(start.answer->response);
  BOOST_TEST(e.message.find("--connect-back off") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(only_mail_ports_and_an_unprivileged_reference_port) {
  Fixture f;
  const auto token = f.hello();
  auto start = f.ask(token, {22, 25, 80, 443, 7025});
  BOOST_TEST((ports_of(start.plan) == std::vector<std::uint16_t>{25}));
  BOOST_TEST_REQUIRE(start.plan.refused.size() == 4u);
  for (const auto& x : start.plan.refused)
    BOOST_TEST(x.reason.find("only to 25, 465, 587") != std::string::npos);
  f.gate.release(1);
  // A privileged reference port would aim the trace's connects at a service.
  BOOST_TEST((error_of(f.ask(token, {465}, client4, 22)) == control::ErrorCode::forbidden));
  BOOST_TEST((error_of(f.ask(token, {465}, client4, 1023)) == control::ErrorCode::forbidden));
  auto ok = f.ask(token, {465}, client4, 1024);
  BOOST_TEST((ports_of(ok.plan) == std::vector<std::uint16_t>{465}));
}

BOOST_AUTO_TEST_CASE(each_port_once_per_family_and_session) {
  Fixture f;
  const auto token = f.hello();
  f.hello(client6, token);
  auto first = f.ask(token, {25, 25, 465});
  BOOST_TEST((ports_of(first.plan) == std::vector<std::uint16_t>{25, 465}));
  f.gate.release(2);
  auto again = f.ask(token, {25, 465, 587});
  BOOST_TEST((ports_of(again.plan) == std::vector<std::uint16_t>{587}));
  BOOST_TEST(again.plan.refused.size() == 2u);
  BOOST_TEST(again.plan.refused[0].reason.find("once per port and family") != std::string::npos);
  f.gate.release(1);
  // Every port done over IPv4: the answer says so, with nothing to connect back to.
  auto none = f.ask(token, {25});
  BOOST_TEST_REQUIRE(none.answer.has_value());
  BOOST_TEST_REQUIRE(std::holds_alternative<control::ConnectBackResponse>(none.answer->response));
  const auto& r = std::get<control::ConnectBackResponse>(none.answer->response);
  BOOST_TEST(r.attempts.empty());
  BOOST_TEST(r.refused.size() == 1u);
  // IPv6 is a family of its own.
  auto v6 = f.ask(token, {25}, client6);
  BOOST_TEST((ports_of(v6.plan) == std::vector<std::uint16_t>{25}));
  // A new session starts afresh.
  const auto token2 = f.hello();
  BOOST_TEST((ports_of(f.ask(token2, {25}).plan) == std::vector<std::uint16_t>{25}));
}

BOOST_AUTO_TEST_CASE(the_reflector_wide_concurrency_cap_holds) {
  ConnectBackRules rules;
  rules.max_concurrent = 2;
  Fixture f(rules);
  const auto a = f.hello();
  const auto b = f.hello({"198.51.100.8", 40000, Family::ipv4});
  auto first = f.ask(a, {25, 465, 587});
  BOOST_TEST((ports_of(first.plan) == std::vector<std::uint16_t>{25, 465}));
  BOOST_TEST_REQUIRE(first.plan.refused.size() == 1u);
  BOOST_TEST(first.plan.refused[0].reason.find("at once (2)") != std::string::npos);
  BOOST_TEST(ports_of(f.ask(b, {25}, {"198.51.100.8", 40000, Family::ipv4}).plan).empty());
  f.gate.release(2);
  // A refused port was not claimed: the session may ask for it again.
  BOOST_TEST((ports_of(f.ask(a, {587}).plan) == std::vector<std::uint16_t>{587}));
}

BOOST_AUTO_TEST_CASE(the_reflector_wide_rate_holds_and_refills) {
  ConnectBackRules rules;
  rules.rate_per_minute = 3;
  Fixture f(rules);
  std::vector<std::string> tokens;
  int granted = 0;
  for (int i = 0; i < 3; ++i) {
    const ControlService::Peer p{"198.51.100." + std::to_string(10 + i), 40000, Family::ipv4};
    const auto t = f.hello(p);
    auto s = f.ask(t, {25, 465}, p);
    granted += static_cast<int>(s.plan.connect.size());
    f.gate.release(s.plan.connect.size());
  }
  BOOST_TEST(granted == 3);
  const ControlService::Peer p{"198.51.100.50", 40000, Family::ipv4};
  const auto t = f.hello(p);
  auto now = f.ask(t, {25}, p);
  BOOST_TEST(now.plan.connect.empty());
  BOOST_TEST_REQUIRE(now.plan.refused.size() == 1u);
  BOOST_TEST(now.plan.refused[0].reason.find("a minute (3)") != std::string::npos);
  // 40 s later two of the three tokens are back (3 a minute).
  auto later = f.ask(t, {25, 465, 587}, p, 40123, t0 + 40'000);
  BOOST_TEST(later.plan.connect.size() == 2u);
}

BOOST_AUTO_TEST_CASE(the_request_names_no_address_on_the_wire) {
  // Safe by construction: whatever else a client puts in a connect_back frame (an
  // "address", a "host"), the decoded request has nowhere to keep it.
  const std::string payload = R"({"v":1,"type":"connect_back","token":")" + std::string(32, 'c') +
                              R"(","ports":[25],"address":"192.0.2.99","host":"victim.example"})";
  auto decoded = control::decode_request(payload);
  BOOST_TEST_REQUIRE(std::holds_alternative<control::Request>(decoded));
  const auto& r = std::get<control::ConnectBackRequest>(std::get<control::Request>(decoded));
  BOOST_TEST((r.ports == std::vector<std::uint16_t>{25}));
  const auto round = control::encode(control::Request{r});
  BOOST_TEST(round.find("192.0.2.99") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
