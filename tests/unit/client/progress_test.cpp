// Unit tests for the progress state: what the terminal block says as a check goes, fitted
// to the terminal's width so that redrawing it in place never wraps a line.
#include <boost/test/unit_test.hpp>

#include "progress.hpp"

using namespace egress25;
using namespace egress25::client;
using namespace std::chrono_literals;

BOOST_AUTO_TEST_SUITE(progress)

BOOST_AUTO_TEST_CASE(block_follows_the_check) {
  ProgressState state;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  BOOST_TEST(state.block(t0, 80).empty());
  state.apply({ProgressEvent::Kind::phase, "resolving vps.example.net", {}, {}, 0}, t0);
  auto block = state.block(t0 + 300ms, 80);
  BOOST_TEST_REQUIRE(block.size() == 1u);
  BOOST_TEST(block[0] == "egress25: resolving vps.example.net, 0.3 s");

  state.apply({ProgressEvent::Kind::probes_started,
               {},
               {"25/IPv4 smtp", "587/IPv4 submission", "465/IPv4 smtps"},
               4800ms,
               0},
              t0 + 1s);
  state.apply({ProgressEvent::Kind::probe_connected, {}, {}, {}, 1}, t0 + 1050ms);
  state.apply({ProgressEvent::Kind::probe_done, "answered, TLS up", {}, {}, 2}, t0 + 1100ms);
  block = state.block(t0 + 3s, 200);
  BOOST_TEST_REQUIRE(block.size() == 4u);
  BOOST_TEST(block[0] == "egress25: probing: 1 of 3 done, 2.0 s");
  BOOST_TEST(block[1] == "  25/IPv4 smtp         waiting 2.0 s (silence gives up at 4.8 s)");
  BOOST_TEST(block[2] == "  587/IPv4 submission  connected, talking SMTP 2.0 s");
  BOOST_TEST(block[3] == "  465/IPv4 smtps       answered, TLS up in 0.1 s");

  state.apply({ProgressEvent::Kind::phase, "asking the reflector what it saw", {}, {}, 0}, t0 + 5s);
  block = state.block(t0 + 5s, 200);
  BOOST_TEST(block[0] == "egress25: asking the reflector what it saw, 0.0 s");
  BOOST_TEST(block.size() == 4u);  // the probes stay in view
}

BOOST_AUTO_TEST_CASE(no_line_reaches_the_last_column) {
  ProgressState state;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  state.apply({ProgressEvent::Kind::probes_started,
               {},
               {"25/IPv6 a-very-long-mx-host-name.example.org"},
               4800ms,
               0},
              t0);
  for (std::size_t width : {20u, 40u, 80u})
    for (const auto& line : state.block(t0 + 1s, width)) BOOST_TEST(line.size() < width, line);
}

BOOST_AUTO_TEST_CASE(outcomes_in_words) {
  ClientProbe p;
  p.connect = ConnectOutcome::timed_out;
  BOOST_TEST(probe_outcome_words(p) == "no answer");
  p.connect = ConnectOutcome::refused;
  BOOST_TEST(probe_outcome_words(p) == "refused (a reset)");
  p.connect = ConnectOutcome::connected;
  p.end = DialogueEnd::completed;
  p.tls_completed = true;
  BOOST_TEST(probe_outcome_words(p) == "answered, TLS up");
  p.end = DialogueEnd::timed_out;
  BOOST_TEST(probe_outcome_words(p) == "connected, then silence");
  p.port = 25;
  p.family = Family::ipv6;
  p.service = "smtp\x1b[2J";
  BOOST_TEST(probe_label(p, false) == "25/IPv6 smtp\\x1b[2J");  // a peer's name, escaped
  p.host = "mx1.example.org";
  BOOST_TEST(probe_label(p, true) == "25/IPv6 mx1.example.org");
}

BOOST_AUTO_TEST_CASE(plain_lines_off_a_terminal) {
  ProgressState state;
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  const ProgressEvent phase{ProgressEvent::Kind::phase, "resolving vps.example.net", {}, {}, 0};
  state.apply(phase, t0);
  BOOST_TEST(state.line(phase, t0).value_or("") == "egress25: resolving vps.example.net");
  const ProgressEvent started{
      ProgressEvent::Kind::probes_started, {}, {"25/IPv4 smtp", "465/IPv4 smtps"}, 1500ms, 0};
  state.apply(started, t0 + 1s);
  BOOST_TEST(state.line(started, t0 + 1s).value_or("") ==
             "egress25: 2 probes started; each waits up to 1.5 s for an answer");
  const ProgressEvent connected{ProgressEvent::Kind::probe_connected, {}, {}, {}, 1};
  state.apply(connected, t0 + 1010ms);
  BOOST_TEST(!state.line(connected, t0 + 1010ms).has_value());  // not worth a line
  const ProgressEvent done{ProgressEvent::Kind::probe_done, "no answer", {}, {}, 0};
  state.apply(done, t0 + 2500ms);
  BOOST_TEST(state.line(done, t0 + 2500ms).value_or("") ==
             "egress25: 25/IPv4 smtp: no answer after 1.5 s");
}

BOOST_AUTO_TEST_CASE(mode_only_on_a_terminal) {
  using Mode = ProgressDisplay::Mode;
  BOOST_TEST((progress_mode(false, false, false, true) == Mode::terminal));
  BOOST_TEST((progress_mode(false, false, false, false) == Mode::lines));  // a log
  BOOST_TEST((progress_mode(true, false, false, true) == Mode::off));      // --quiet
  BOOST_TEST((progress_mode(false, true, false, true) == Mode::off));      // --json
  BOOST_TEST((progress_mode(false, false, true, true) == Mode::lines));    // -v
}

BOOST_AUTO_TEST_SUITE_END()
