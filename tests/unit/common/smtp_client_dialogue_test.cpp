// Unit tests of the probe's sans-io SMTP dialogue, driven by scripted server behaviour.
#include "smtp_client_dialogue.hpp"

#include <boost/test/unit_test.hpp>
#include <deque>
#include <stdexcept>
#include <string>
#include <vector>

using namespace egress25;
using namespace egress25::smtp;

namespace {

const std::string name = "p0-0123abcd.egress25.invalid";

// What a scripted server does: its replies in order, and how a TLS handshake goes.
struct Script {
  std::deque<std::string> replies;  // raw bytes of each reply
  bool tls_ok = true;
};

// What the dialogue did against a script.
struct Run {
  std::vector<std::string> written;
  std::vector<std::string> steps;  // "read", "write", "tls", "close", "eof"
  std::vector<bool> in_tls_at_write;
  ClientDialogue::Facts facts;
  bool closed = false;
};

Reply parse(const std::string& raw) {
  ReplyParser p;
  p.feed(raw);
  auto r = p.next();
  BOOST_TEST_REQUIRE((r.status == ReplyParser::Status::reply), raw);
  return r.reply;
}

// The I/O layer in miniature: performs each action the dialogue asks for.
Run drive(ServiceKind kind, Script script) {
  ClientDialogue d({kind, name});
  Run run;
  auto action = d.start();
  for (int guard = 0; guard < 100; ++guard) {
    switch (action.step) {
      case ClientDialogue::Step::read_reply:
        run.steps.push_back("read");
        if (script.replies.empty()) {
          run.steps.push_back("eof");  // the server went quiet; the I/O layer gives up
          run.facts = d.facts();
          return run;
        }
        action = d.on_reply(parse(script.replies.front()));
        script.replies.pop_front();
        break;
      case ClientDialogue::Step::write:
        run.steps.push_back("write");
        run.written.push_back(action.bytes);
        run.in_tls_at_write.push_back(d.in_tls());
        action = d.on_written();
        break;
      case ClientDialogue::Step::start_tls:
        run.steps.push_back("tls");
        BOOST_TEST(!d.in_tls());
        action = script.tls_ok ? d.on_tls_established()
                               : d.on_tls_failed("alert 40 (handshake failure)");
        break;
      case ClientDialogue::Step::close:
        run.steps.push_back("close");
        run.closed = true;
        run.facts = d.facts();
        return run;
    }
  }
  BOOST_FAIL("the dialogue did not end");
  return run;
}

const std::string banner = "220 reflector.example ESMTP egress25\r\n";
const std::string ehlo_with_starttls =
    "250-reflector.example\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
const std::string ehlo_without_starttls = "250-reflector.example\r\n250 8BITMIME\r\n";
const std::string ehlo_after_tls = "250-reflector.example\r\n250 8BITMIME\r\n";
const std::string ready = "220 2.0.0 Ready to start TLS\r\n";
const std::string bye = "221 2.0.0 Bye\r\n";

using Lines = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_client_dialogue)

BOOST_AUTO_TEST_CASE(smtp_happy_path) {
  const auto run =
      drive(ServiceKind::smtp, {{banner, ehlo_with_starttls, ready, ehlo_after_tls, bye}, true});
  BOOST_TEST(run.written == (Lines{"EHLO " + name + "\r\n", "STARTTLS\r\n", "EHLO " + name + "\r\n",
                                   "QUIT\r\n"}),
             boost::test_tools::per_element());
  // No greeting is read after STARTTLS (RFC 3207 4.2): EHLO goes first.
  BOOST_TEST(run.steps == (Lines{"read", "write", "read", "write", "read", "tls", "write", "read",
                                 "write", "read", "close"}),
             boost::test_tools::per_element());
  BOOST_TEST(run.in_tls_at_write == (std::vector<bool>{false, false, true, true}),
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
  BOOST_TEST(*f.quit_code == 221);
  BOOST_TEST(f.completed);
  BOOST_TEST(f.stopped_because == "");
}

BOOST_AUTO_TEST_CASE(smtps_happy_path_starts_with_tls) {
  const auto run = drive(ServiceKind::smtps, {{banner, ehlo_after_tls, bye}, true});
  BOOST_TEST(run.steps == (Lines{"tls", "read", "write", "read", "write", "read", "close"}),
             boost::test_tools::per_element());
  BOOST_TEST(run.written == (Lines{"EHLO " + name + "\r\n", "QUIT\r\n"}),
             boost::test_tools::per_element());
  BOOST_TEST(run.in_tls_at_write == (std::vector<bool>{true, true}),
             boost::test_tools::per_element());
  const auto& f = run.facts;
  BOOST_TEST(f.tls_attempted);
  BOOST_TEST(f.tls_completed);
  BOOST_TEST(*f.banner_code == 220);
  BOOST_TEST(*f.ehlo_code == 250);
  BOOST_TEST(!f.starttls_reply_code);
  BOOST_TEST(!f.starttls_advertised);
  BOOST_TEST(*f.quit_code == 221);
  BOOST_TEST(f.completed);
  BOOST_TEST(f.stopped_because == "");
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
  BOOST_TEST(f.completed);
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
    BOOST_TEST(*f.quit_code == 221);
    BOOST_TEST(f.stopped_because.find(code) != std::string::npos, f.stopped_because);
    BOOST_TEST(f.stopped_because.find("although it advertised it") != std::string::npos);
  }
  const auto run =
      drive(ServiceKind::smtp,
            {{banner, ehlo_without_starttls, "502 5.5.1 Unknown command\r\n", bye}, true});
  BOOST_TEST(run.facts.stopped_because.find("did not advertise") != std::string::npos,
             run.facts.stopped_because);
}

BOOST_AUTO_TEST_CASE(greeting_554_quits_without_ehlo) {
  const auto run = drive(ServiceKind::smtp, {{"554 5.7.1 No SMTP service here\r\n", bye}, true});
  BOOST_TEST(run.written == Lines{"QUIT\r\n"}, boost::test_tools::per_element());
  const auto& f = run.facts;
  BOOST_TEST(*f.banner_code == 554);
  BOOST_TEST(f.banner == "5.7.1 No SMTP service here");
  BOOST_TEST(!f.ehlo_code);
  BOOST_TEST(!f.starttls_reply_code);
  BOOST_TEST(*f.quit_code == 221);
  BOOST_TEST(f.stopped_because.find("554") != std::string::npos, f.stopped_because);
}

BOOST_AUTO_TEST_CASE(multi_line_greeting_is_kept_whole) {
  const auto run = drive(ServiceKind::smtp, {{"220-first line\r\n220 second line\r\n",
                                              ehlo_with_starttls, ready, ehlo_after_tls, bye},
                                             true});
  BOOST_TEST(run.facts.banner == "first line\nsecond line");
  BOOST_TEST(run.facts.completed);
}

BOOST_AUTO_TEST_CASE(ehlo_refused_quits_without_starttls) {
  const auto run = drive(ServiceKind::smtp, {{banner, "550 5.7.1 Go away\r\n", bye}, true});
  BOOST_TEST(run.written == (Lines{"EHLO " + name + "\r\n", "QUIT\r\n"}),
             boost::test_tools::per_element());
  BOOST_TEST(*run.facts.ehlo_code == 550);
  BOOST_TEST(!run.facts.starttls_reply_code);
  BOOST_TEST(run.facts.stopped_because.find("550") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tls_failure_after_starttls_closes_without_quit) {
  const auto run = drive(ServiceKind::smtp, {{banner, ehlo_with_starttls, ready}, false});
  BOOST_TEST(run.written == (Lines{"EHLO " + name + "\r\n", "STARTTLS\r\n"}),
             boost::test_tools::per_element());
  BOOST_TEST(run.steps.back() == "close");
  const auto& f = run.facts;
  BOOST_TEST(f.tls_attempted);
  BOOST_TEST(!f.tls_completed);
  BOOST_TEST(!f.completed);
  BOOST_TEST(!f.quit_code);
  BOOST_TEST(f.stopped_because.find("alert 40") != std::string::npos, f.stopped_because);
}

BOOST_AUTO_TEST_CASE(tls_failure_on_implicit_tls) {
  const auto run = drive(ServiceKind::smtps, {{}, false});
  BOOST_TEST(run.steps == (Lines{"tls", "close"}), boost::test_tools::per_element());
  BOOST_TEST(run.written.empty());
  BOOST_TEST(run.facts.tls_attempted);
  BOOST_TEST(!run.facts.tls_completed);
  BOOST_TEST(!run.facts.banner_code);
  BOOST_TEST(run.facts.stopped_because.find("TLS") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(ehlo_refused_after_tls_still_quits) {
  const auto run =
      drive(ServiceKind::smtp,
            {{banner, ehlo_with_starttls, ready, "503 5.5.1 Bad sequence\r\n", bye}, true});
  BOOST_TEST(run.written.back() == "QUIT\r\n");
  BOOST_TEST(*run.facts.ehlo_after_tls_code == 503);
  BOOST_TEST(run.facts.tls_completed);
  BOOST_TEST(run.facts.stopped_because.find("503") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(server_silent_after_ehlo_leaves_dialogue_incomplete) {
  const auto run = drive(ServiceKind::smtp, {{banner}, true});
  BOOST_TEST(run.steps.back() == "eof");
  BOOST_TEST(!run.facts.completed);
  BOOST_TEST(*run.facts.banner_code == 220);
  BOOST_TEST(!run.facts.ehlo_code);
}

BOOST_AUTO_TEST_CASE(events_out_of_order_end_the_dialogue) {
  ClientDialogue d({ServiceKind::smtp, name});
  BOOST_TEST((d.start().step == ClientDialogue::Step::read_reply));
  const auto a = d.on_tls_established();  // no handshake was asked for
  BOOST_TEST((a.step == ClientDialogue::Step::close));
  BOOST_TEST(!d.facts().tls_completed);
  BOOST_TEST(!d.facts().stopped_because.empty());
  BOOST_TEST((d.on_reply(parse(banner)).step == ClientDialogue::Step::close));
}

BOOST_AUTO_TEST_CASE(ehlo_name_cannot_inject_commands) {
  BOOST_CHECK_THROW(ClientDialogue({ServiceKind::smtp, "x\r\nRSET"}), std::invalid_argument);
  BOOST_CHECK_THROW(ClientDialogue({ServiceKind::smtp, ""}), std::invalid_argument);
  BOOST_CHECK_THROW(ClientDialogue({ServiceKind::smtp, "a b"}), std::invalid_argument);
}

BOOST_AUTO_TEST_SUITE_END()
