// Unit tests of the probe's sans-io SMTP dialogue, driven by scripted server behaviour,
// with every kind of I/O failure injected at every step of a full exchange.
#include "smtp_client_dialogue.hpp"

#include <boost/test/unit_test.hpp>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "../dialogue_faults.hpp"

using namespace egress25;
using namespace egress25::smtp;
using egress25::dialogue_test::Fault;
using egress25::dialogue_test::fault_name;
using namespace std::chrono_literals;

namespace {

const std::string name = "p0-0123abcd.egress25.invalid";

// What a scripted server does: its replies in order, and how a TLS handshake goes. When
// the dialogue reads and no reply is left, the server is silent: the read times out.
struct Script {
  std::deque<std::string> replies;  // raw bytes of each reply
  bool tls_ok = true;
};

// An I/O failure put in place of the result of the `at`-th action (1 = the first): every
// one a probe's stream can meet (a shutdown is the reflector's own).
const std::vector<Fault> all_faults = {Fault::reset,       Fault::io_error,  Fault::timeout,
                                       Fault::peer_closed, Fault::truncated, Fault::tls_failure,
                                       Fault::malformed};

Event fault_event(Fault f) {
  namespace errc = boost::system::errc;
  switch (f) {
    case Fault::reset:
      return Event::io_error(errc::make_error_code(errc::connection_reset),
                             "connection reset by peer");
    case Fault::io_error:
      return Event::io_error(errc::make_error_code(errc::network_unreachable),
                             "network is unreachable");
    case Fault::timeout:
      return Event::timed_out(5000ms);
    case Fault::peer_closed:
      return Event::peer_closed();
    case Fault::truncated:
      return Event::peer_closed(true);
    case Fault::tls_failure:
      return Event::tls_failed(errc::make_error_code(errc::protocol_error),
                               "alert 40 (handshake failure)");
    case Fault::malformed:
      break;
    case Fault::shutdown:
      throw std::logic_error("a shutdown is the reflector's fault, not a probe's");
  }
  return Event::received("2x0 not a reply\r\n");
}

struct InjectedFault {
  int at = 0;
  Fault fault = Fault::reset;
};

// What the dialogue did against a script.
struct Run {
  std::vector<std::string> written;
  std::vector<std::string> steps;  // "read", "write", "tls", "close"
  std::vector<bool> tls_at_write;
  std::vector<bool> tls_at_read;
  Action::Kind failed_during = Action::Kind::close;  // the action the fault answered
  ClientDialogue::Facts facts;
  Transcript transcript;
};

// The I/O layer in miniature: performs each action the dialogue asks for, each reply
// delivered in pieces of `chunk` bytes (0: whole).
Run drive(ServiceKind kind, Script script, bool await_quit_reply = false,
          std::optional<InjectedFault> inject = std::nullopt, std::size_t chunk = 0) {
  Run run;
  ClientDialogue d({kind, name, await_quit_reply}, run.transcript);
  auto action = d.resume(Event::start());
  int results = 0;
  for (int guard = 0; guard < 200 && !action.done(); ++guard) {
    const bool fault_now = inject && ++results == inject->at;
    if (fault_now) run.failed_during = action.kind;
    switch (action.kind) {
      case Action::Kind::read:
        run.steps.push_back("read");
        run.tls_at_read.push_back(action.tls);
        BOOST_TEST(action.tls == d.in_tls());
        if (fault_now) {
          action = d.resume(fault_event(inject->fault));
        } else if (script.replies.empty()) {
          action = d.resume(Event::timed_out(5000ms));
        } else {
          std::string reply = script.replies.front();
          script.replies.pop_front();
          if (chunk == 0) {
            action = d.resume(Event::received(reply));
          } else {
            for (std::size_t at = 0; at < reply.size(); at += chunk) {
              BOOST_TEST_REQUIRE((action.kind == Action::Kind::read));
              action = d.resume(Event::received(std::string_view(reply).substr(at, chunk)));
            }
          }
        }
        break;
      case Action::Kind::write:
        run.steps.push_back("write");
        run.written.push_back(action.bytes);
        run.tls_at_write.push_back(action.tls);
        action = d.resume(fault_now ? fault_event(inject->fault) : Event::written());
        break;
      case Action::Kind::start_tls:
        run.steps.push_back("tls");
        BOOST_TEST(!d.in_tls());
        action = d.resume(fault_now       ? fault_event(inject->fault)
                          : script.tls_ok ? Event::tls_up()
                                          : Event::tls_failed({}, "alert 40 (handshake failure)"));
        break;
      case Action::Kind::close:
        break;
    }
  }
  BOOST_TEST_REQUIRE(action.done(), "the dialogue did not end");
  run.steps.push_back("close");
  BOOST_TEST(d.done());
  run.facts = d.facts();
  // Once over, the dialogue asks for nothing more and changes nothing, whatever comes.
  for (const auto& late : {Event::start(), Event::received("221 Bye\r\n"), Event::written(),
                           Event::tls_up(), Event::timed_out(1ms), Event::peer_closed()}) {
    BOOST_TEST(d.resume(late).done());
    BOOST_TEST((d.facts().end == run.facts.end));
    BOOST_TEST(d.facts().end_detail == run.facts.end_detail);
  }
  return run;
}

// How many I/O results a script's exchange takes when nothing fails.
int results_of(ServiceKind kind, const Script& script, bool await_quit_reply) {
  const auto run = drive(kind, script, await_quit_reply);
  return static_cast<int>(run.steps.size()) - 1;  // every step but the close
}

const std::string banner = "220 reflector.example ESMTP egress25\r\n";
const std::string ehlo_with_starttls =
    "250-reflector.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
const std::string ehlo_without_starttls = "250-reflector.example\r\n250 8BITMIME\r\n";
const std::string ehlo_after_tls = "250-reflector.example\r\n250 8BITMIME\r\n";
const std::string ready = "220 2.0.0 Ready to start TLS\r\n";
const std::string bye = "221 2.0.0 Bye\r\n";

using Lines = std::vector<std::string>;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_client_dialogue)

BOOST_AUTO_TEST_CASE(smtp_happy_path_does_not_wait_for_the_reply_to_quit) {
  const auto run =
      drive(ServiceKind::smtp, {{banner, ehlo_with_starttls, ready, ehlo_after_tls, bye}, true});
  BOOST_TEST(run.written == (Lines{"EHLO " + name + "\r\n", "STARTTLS\r\n", "EHLO " + name + "\r\n",
                                   "QUIT\r\n"}),
             boost::test_tools::per_element());
  // No greeting is read after STARTTLS (RFC 3207 4.2): EHLO goes first. Once QUIT is
  // written the probe is done: no read for the 221.
  BOOST_TEST(run.steps == (Lines{"read", "write", "read", "write", "read", "tls", "write", "read",
                                 "write", "close"}),
             boost::test_tools::per_element());
  BOOST_TEST(run.tls_at_write == (std::vector<bool>{false, false, true, true}),
             boost::test_tools::per_element());
  BOOST_TEST(run.tls_at_read == (std::vector<bool>{false, false, false, true}),
             boost::test_tools::per_element());
  const auto& f = run.facts;
  BOOST_TEST(*f.banner_code == 220);
  BOOST_TEST(f.banner == "reflector.example ESMTP egress25");
  BOOST_TEST(*f.ehlo_code == 250);
  BOOST_TEST(f.starttls_advertised);
  BOOST_TEST(*f.starttls_reply_code == 220);
  BOOST_TEST(f.tls_attempted);
  BOOST_TEST(f.tls_completed);
  BOOST_TEST(*f.ehlo_after_tls_code == 250);
  BOOST_TEST(!f.quit_code);
  BOOST_TEST((f.end == DialogueEnd::completed));
  BOOST_TEST(f.end_detail == "");
  BOOST_TEST(f.stopped_because == "");
  // The transcript: each phase as it went, QUIT the last byte sent, no 221 received.
  const auto& t = run.transcript;
  BOOST_TEST(t.plain.to_client.kept == banner + ehlo_with_starttls + ready);
  BOOST_TEST(t.plain.to_server.kept == "EHLO " + name + "\r\nSTARTTLS\r\n");
  BOOST_TEST(t.tls.to_client.kept == ehlo_after_tls);
  BOOST_TEST(t.tls.to_server.kept == "EHLO " + name + "\r\nQUIT\r\n");
}

BOOST_AUTO_TEST_CASE(a_destination_gets_its_quit_answered) {
  const auto run = drive(ServiceKind::smtp,
                         {{banner, ehlo_with_starttls, ready, ehlo_after_tls, bye}, true}, true);
  BOOST_TEST(run.steps == (Lines{"read", "write", "read", "write", "read", "tls", "write", "read",
                                 "write", "read", "close"}),
             boost::test_tools::per_element());
  BOOST_TEST(*run.facts.quit_code == 221);
  BOOST_TEST((run.facts.end == DialogueEnd::completed));
  BOOST_TEST(run.transcript.tls.to_client.kept == ehlo_after_tls + bye);
}

BOOST_AUTO_TEST_CASE(replies_arriving_byte_by_byte) {
  for (const bool await_quit : {false, true}) {
    const auto run =
        drive(ServiceKind::smtp, {{banner, ehlo_with_starttls, ready, ehlo_after_tls, bye}, true},
              await_quit, std::nullopt, 1);
    BOOST_TEST((run.facts.end == DialogueEnd::completed));
    BOOST_TEST(run.written.size() == 4u);
    BOOST_TEST(run.transcript.plain.to_client.kept == banner + ehlo_with_starttls + ready);
  }
}

BOOST_AUTO_TEST_CASE(smtps_happy_path_starts_with_tls) {
  const auto run = drive(ServiceKind::smtps, {{banner, ehlo_after_tls, bye}, true});
  BOOST_TEST(run.steps == (Lines{"tls", "read", "write", "read", "write", "close"}),
             boost::test_tools::per_element());
  BOOST_TEST(run.written == (Lines{"EHLO " + name + "\r\n", "QUIT\r\n"}),
             boost::test_tools::per_element());
  BOOST_TEST(run.tls_at_write == (std::vector<bool>{true, true}), boost::test_tools::per_element());
  const auto& f = run.facts;
  BOOST_TEST(f.tls_attempted);
  BOOST_TEST(f.tls_completed);
  BOOST_TEST(*f.banner_code == 220);
  BOOST_TEST(*f.ehlo_code == 250);
  BOOST_TEST(!f.starttls_reply_code);
  BOOST_TEST(!f.starttls_advertised);
  BOOST_TEST((f.end == DialogueEnd::completed));
  BOOST_TEST(f.stopped_because == "");
  BOOST_TEST(run.transcript.plain.to_client.kept == "");
  BOOST_TEST(run.transcript.plain.to_server.kept == "");
  BOOST_TEST(run.transcript.tls.to_client.kept == banner + ehlo_after_tls);
}

BOOST_AUTO_TEST_CASE(starttls_is_sent_even_when_not_advertised) {
  const auto run =
      drive(ServiceKind::smtp, {{banner, ehlo_without_starttls, ready, ehlo_after_tls, bye}, true});
  BOOST_TEST_REQUIRE(run.written.size() == 4u);
  BOOST_TEST(run.written[1] == "STARTTLS\r\n");
  const auto& f = run.facts;
  BOOST_TEST(!f.starttls_advertised);         // what the client saw in EHLO...
  BOOST_TEST(*f.starttls_reply_code == 220);  // ...and what the server did anyway
  BOOST_TEST(f.tls_completed);
  BOOST_TEST((f.end == DialogueEnd::completed));
}

BOOST_AUTO_TEST_CASE(starttls_refused_quits_and_says_why) {
  for (const std::string code : {"454", "502", "500"}) {
    const auto run =
        drive(ServiceKind::smtp,
              {{banner, ehlo_with_starttls, code + " 4.7.0 TLS not available\r\n", bye}, true});
    BOOST_TEST(run.written == (Lines{"EHLO " + name + "\r\n", "STARTTLS\r\n", "QUIT\r\n"}),
               boost::test_tools::per_element());
    const auto& f = run.facts;
    BOOST_TEST(*f.starttls_reply_code == std::stoi(code));
    BOOST_TEST(!f.tls_attempted);
    BOOST_TEST(!f.tls_completed);
    BOOST_TEST((f.end == DialogueEnd::completed));  // QUIT was said: the dialogue is whole
    BOOST_TEST(contains(f.stopped_because, code), f.stopped_because);
    BOOST_TEST(contains(f.stopped_because, "although it advertised it"));
  }
  const auto run =
      drive(ServiceKind::smtp,
            {{banner, ehlo_without_starttls, "502 5.5.1 Unknown command\r\n", bye}, true});
  BOOST_TEST(contains(run.facts.stopped_because, "did not advertise"), run.facts.stopped_because);
}

BOOST_AUTO_TEST_CASE(greeting_554_quits_without_ehlo) {
  const auto run =
      drive(ServiceKind::smtp, {{"554 5.7.1 No SMTP service here\r\n", bye}, true}, true);
  BOOST_TEST(run.written == Lines{"QUIT\r\n"}, boost::test_tools::per_element());
  const auto& f = run.facts;
  BOOST_TEST(*f.banner_code == 554);
  BOOST_TEST(f.banner == "5.7.1 No SMTP service here");
  BOOST_TEST(!f.ehlo_code);
  BOOST_TEST(!f.starttls_reply_code);
  BOOST_TEST(*f.quit_code == 221);
  BOOST_TEST(contains(f.stopped_because, "554"), f.stopped_because);
}

BOOST_AUTO_TEST_CASE(multi_line_greeting_is_kept_whole) {
  const auto run = drive(ServiceKind::smtp, {{"220-first line\r\n220 second line\r\n",
                                              ehlo_with_starttls, ready, ehlo_after_tls, bye},
                                             true});
  BOOST_TEST(run.facts.banner == "first line\nsecond line");
  BOOST_TEST((run.facts.end == DialogueEnd::completed));
}

BOOST_AUTO_TEST_CASE(ehlo_refused_quits_without_starttls) {
  const auto run = drive(ServiceKind::smtp, {{banner, "550 5.7.1 Go away\r\n", bye}, true});
  BOOST_TEST(run.written == (Lines{"EHLO " + name + "\r\n", "QUIT\r\n"}),
             boost::test_tools::per_element());
  BOOST_TEST(*run.facts.ehlo_code == 550);
  BOOST_TEST(!run.facts.starttls_reply_code);
  BOOST_TEST(contains(run.facts.stopped_because, "550"));
}

BOOST_AUTO_TEST_CASE(tls_failure_after_starttls_closes_without_quit) {
  const auto run = drive(ServiceKind::smtp, {{banner, ehlo_with_starttls, ready}, false});
  BOOST_TEST(run.written == (Lines{"EHLO " + name + "\r\n", "STARTTLS\r\n"}),
             boost::test_tools::per_element());
  const auto& f = run.facts;
  BOOST_TEST(f.tls_attempted);
  BOOST_TEST(!f.tls_completed);
  BOOST_TEST((f.end == DialogueEnd::tls_failed));
  BOOST_TEST(f.tls_error == "alert 40 (handshake failure)");
  BOOST_TEST(f.end_detail == "alert 40 (handshake failure)");
}

BOOST_AUTO_TEST_CASE(tls_failure_on_implicit_tls) {
  const auto run = drive(ServiceKind::smtps, {{}, false});
  BOOST_TEST(run.steps == (Lines{"tls", "close"}), boost::test_tools::per_element());
  BOOST_TEST(run.written.empty());
  BOOST_TEST(run.facts.tls_attempted);
  BOOST_TEST(!run.facts.tls_completed);
  BOOST_TEST(!run.facts.banner_code);
  BOOST_TEST((run.facts.end == DialogueEnd::tls_failed));
}

BOOST_AUTO_TEST_CASE(ehlo_refused_after_tls_still_quits) {
  const auto run =
      drive(ServiceKind::smtp,
            {{banner, ehlo_with_starttls, ready, "503 5.5.1 Bad sequence\r\n", bye}, true});
  BOOST_TEST(run.written.back() == "QUIT\r\n");
  BOOST_TEST(*run.facts.ehlo_after_tls_code == 503);
  BOOST_TEST(run.facts.tls_completed);
  BOOST_TEST(contains(run.facts.stopped_because, "503"));
}

BOOST_AUTO_TEST_CASE(server_silent_after_ehlo_times_out) {
  const auto run = drive(ServiceKind::smtp, {{banner}, true});
  BOOST_TEST(run.steps == (Lines{"read", "write", "read", "close"}),
             boost::test_tools::per_element());
  BOOST_TEST((run.facts.end == DialogueEnd::timed_out));
  BOOST_TEST(run.facts.end_detail == "no reply within 5000 ms");
  BOOST_TEST(*run.facts.banner_code == 220);
  BOOST_TEST(!run.facts.ehlo_code);
}

BOOST_AUTO_TEST_CASE(plaintext_after_the_starttls_reply_is_discarded_and_noted) {
  // RFC 3207 5: bytes that follow the 220 in the same read must not be taken as replies
  // inside TLS (a response injection). They stay in the plain transcript.
  const std::string injected = "250 injected\r\n";
  const auto run = drive(ServiceKind::smtp,
                         {{banner, ehlo_with_starttls, ready + injected, ehlo_after_tls}, true});
  BOOST_TEST((run.facts.end == DialogueEnd::completed));
  BOOST_TEST(*run.facts.ehlo_after_tls_code == 250);
  BOOST_TEST(run.facts.end_detail ==
             "14 bytes arrived after the reply to STARTTLS and were discarded");
  BOOST_TEST(run.transcript.plain.to_client.kept == banner + ehlo_with_starttls + ready + injected);
  // A failure later says both.
  const auto failed =
      drive(ServiceKind::smtp, {{banner, ehlo_with_starttls, ready + injected}, true});
  BOOST_TEST(failed.facts.end_detail ==
             "no reply within 5000 ms; 14 bytes arrived after the reply to STARTTLS and were "
             "discarded");
}

BOOST_AUTO_TEST_CASE(a_reply_already_received_is_taken_without_another_read) {
  // A server that answers ahead (both replies in one segment): the second is read from
  // what arrived, not waited for.
  const auto run =
      drive(ServiceKind::smtp, {{banner + ehlo_with_starttls, ready, ehlo_after_tls}, true});
  BOOST_TEST(run.steps == (Lines{"read", "write", "write", "read", "tls", "write", "read", "write",
                                 "close"}),
             boost::test_tools::per_element());
  BOOST_TEST((run.facts.end == DialogueEnd::completed));
}

BOOST_AUTO_TEST_CASE(events_out_of_order_end_the_dialogue) {
  Transcript t;
  ClientDialogue d({ServiceKind::smtp, name}, t);
  BOOST_TEST((d.resume(Event::start()).kind == Action::Kind::read));
  const auto a = d.resume(Event::tls_up());  // no handshake was asked for
  BOOST_TEST(a.done());
  BOOST_TEST(!d.facts().tls_completed);
  BOOST_TEST((d.facts().end == DialogueEnd::protocol_error));
  BOOST_TEST(contains(d.facts().end_detail, "no handshake was pending"), d.facts().end_detail);
  BOOST_TEST(d.resume(Event::received(banner)).done());
  BOOST_TEST(!d.facts().banner_code);

  Transcript t2;
  ClientDialogue twice({ServiceKind::smtp, name}, t2);
  twice.resume(Event::start());
  BOOST_TEST(twice.resume(Event::start()).done());
  BOOST_TEST(contains(twice.facts().end_detail, "started twice"));

  Transcript t3;
  ClientDialogue unasked({ServiceKind::smtp, name}, t3);
  unasked.resume(Event::start());
  BOOST_TEST(unasked.resume(Event::written()).done());
  BOOST_TEST(contains(unasked.facts().end_detail, "a write completed when none was pending"));
}

BOOST_AUTO_TEST_CASE(ehlo_name_cannot_inject_commands) {
  Transcript t;
  BOOST_CHECK_THROW(ClientDialogue({ServiceKind::smtp, "x\r\nRSET"}, t), std::invalid_argument);
  BOOST_CHECK_THROW(ClientDialogue({ServiceKind::smtp, ""}, t), std::invalid_argument);
  BOOST_CHECK_THROW(ClientDialogue({ServiceKind::smtp, "a b"}, t), std::invalid_argument);
}

// The table: every full exchange, every step, every failure. What a failure means
// depends only on what the dialogue was waiting for; after it, nothing more is asked.
BOOST_AUTO_TEST_CASE(every_failure_at_every_step_ends_the_dialogue_as_it_should) {
  struct Exchange {
    std::string name;
    ServiceKind kind;
    bool await_quit;
    Script script;
  };
  const std::vector<Exchange> exchanges = {
      {"starttls",
       ServiceKind::smtp,
       false,
       {{banner, ehlo_with_starttls, ready, ehlo_after_tls, bye}, true}},
      {"starttls, 221 awaited",
       ServiceKind::smtp,
       true,
       {{banner, ehlo_with_starttls, ready, ehlo_after_tls, bye}, true}},
      {"implicit tls", ServiceKind::smtps, false, {{banner, ehlo_after_tls, bye}, true}},
      {"implicit tls, 221 awaited",
       ServiceKind::smtps,
       true,
       {{banner, ehlo_after_tls, bye}, true}},
      {"starttls refused",
       ServiceKind::smtp,
       true,
       {{banner, ehlo_with_starttls, "454 4.7.0 No\r\n", bye}, true}},
  };
  int cases = 0;
  for (const auto& x : exchanges) {
    const int steps = results_of(x.kind, x.script, x.await_quit);
    BOOST_TEST_REQUIRE(steps >= 3);
    for (int at = 1; at <= steps; ++at) {
      for (const Fault fault : all_faults) {
        BOOST_TEST_CONTEXT(x.name << ", " << fault_name(fault) << " at step " << at) {
          ++cases;
          const auto run = drive(x.kind, x.script, x.await_quit, InjectedFault{at, fault});
          const auto& f = run.facts;
          // The fault ended it: the close came right after it, as the step it replaced.
          BOOST_TEST(static_cast<int>(run.steps.size()) == at + 1);
          BOOST_TEST((f.end != DialogueEnd::completed));
          BOOST_TEST((f.end != DialogueEnd::none));
          BOOST_TEST(!f.end_detail.empty());
          switch (run.failed_during) {
            case Action::Kind::read:
              switch (fault) {
                case Fault::reset:
                  BOOST_TEST((f.end == DialogueEnd::reset));
                  BOOST_TEST(f.end_detail == "receiving failed: connection reset by peer");
                  break;
                case Fault::io_error:
                  BOOST_TEST((f.end == DialogueEnd::closed_early));
                  BOOST_TEST(f.end_detail == "receiving failed: network is unreachable");
                  break;
                case Fault::timeout:
                  BOOST_TEST((f.end == DialogueEnd::timed_out));
                  BOOST_TEST(f.end_detail == "no reply within 5000 ms");
                  break;
                case Fault::peer_closed:
                case Fault::truncated:
                  BOOST_TEST((f.end == DialogueEnd::closed_early));
                  BOOST_TEST(contains(f.end_detail, "closed the connection before"));
                  break;
                case Fault::tls_failure:
                  BOOST_TEST((f.end == DialogueEnd::protocol_error));
                  BOOST_TEST(contains(f.end_detail, "no handshake was pending"));
                  break;
                case Fault::malformed:
                  BOOST_TEST((f.end == DialogueEnd::protocol_error));
                  BOOST_TEST(f.end_detail ==
                             "a reply line does not start with a three-digit reply code");
                  break;
                case Fault::shutdown:
                  BOOST_FAIL("not a probe's fault");
              }
              break;
            case Action::Kind::write:
              switch (fault) {
                case Fault::reset:
                  BOOST_TEST((f.end == DialogueEnd::reset));
                  BOOST_TEST(f.end_detail == "sending failed: connection reset by peer");
                  break;
                case Fault::io_error:
                  BOOST_TEST((f.end == DialogueEnd::closed_early));
                  BOOST_TEST(f.end_detail == "sending failed: network is unreachable");
                  break;
                case Fault::timeout:
                  BOOST_TEST((f.end == DialogueEnd::timed_out));
                  BOOST_TEST(f.end_detail == "sending timed out");
                  break;
                case Fault::peer_closed:
                case Fault::truncated:
                  BOOST_TEST((f.end == DialogueEnd::closed_early));
                  break;
                case Fault::tls_failure:
                  BOOST_TEST((f.end == DialogueEnd::protocol_error));
                  break;
                case Fault::malformed:  // bytes when no read was asked for
                  BOOST_TEST((f.end == DialogueEnd::protocol_error));
                  BOOST_TEST(contains(f.end_detail, "no read was pending"));
                  break;
                case Fault::shutdown:
                  BOOST_FAIL("not a probe's fault");
              }
              break;
            case Action::Kind::start_tls:
              BOOST_TEST(f.tls_attempted);
              BOOST_TEST(!f.tls_completed);
              switch (fault) {
                case Fault::timeout:
                  BOOST_TEST((f.end == DialogueEnd::timed_out));
                  BOOST_TEST(f.tls_error == "no TLS handshake within 5000 ms");
                  break;
                case Fault::tls_failure:
                  BOOST_TEST((f.end == DialogueEnd::tls_failed));
                  BOOST_TEST(f.tls_error == "alert 40 (handshake failure)");
                  break;
                case Fault::reset:
                case Fault::io_error:
                case Fault::peer_closed:
                case Fault::truncated:
                  BOOST_TEST((f.end == DialogueEnd::tls_failed));
                  BOOST_TEST(!f.tls_error.empty());
                  break;
                case Fault::malformed:
                  BOOST_TEST((f.end == DialogueEnd::protocol_error));
                  break;
                case Fault::shutdown:
                  BOOST_FAIL("not a probe's fault");
              }
              if (fault != Fault::malformed) BOOST_TEST(f.end_detail == f.tls_error);
              break;
            case Action::Kind::close:
              BOOST_FAIL("the fault was never injected");
          }
        }
      }
    }
  }
  BOOST_TEST(cases > 200);
}

BOOST_AUTO_TEST_SUITE_END()
