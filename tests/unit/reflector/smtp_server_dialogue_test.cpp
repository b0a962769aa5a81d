// Unit tests of the reflector's sans-io SMTP server dialogue: what it answers, and that
// no command sequence ever gets mail accepted.
#include "smtp_server_dialogue.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "limits.hpp"
#include "smtp_reply_parser.hpp"

using namespace egress25;
using namespace egress25::reflector;
using Next = SmtpServerDialogue::Next;

namespace {

const std::string hostname = "reflector.example.net";
const std::string peer = "192.0.2.10";

SmtpServerDialogue plain_port() {
  return SmtpServerDialogue({hostname, peer, true});
}

// An implicit-TLS port (465): the session does the handshake before the greeting.
SmtpServerDialogue implicit_tls_port() {
  SmtpServerDialogue d({hostname, peer, false});
  d.on_tls_started();
  return d;
}

// A reply as a client parses it: exactly one well-formed reply, nothing left over.
smtp::Reply parse(const std::string& raw) {
  smtp::ReplyParser p;
  p.feed(raw);
  auto r = p.next();
  BOOST_TEST_REQUIRE((r.status == smtp::ReplyParser::Status::reply), raw);
  BOOST_TEST(p.buffered() == 0u, "bytes after the reply: " << raw);
  return r.reply;
}

int code_of(const SmtpServerDialogue::Step& step) {
  return parse(step.reply).code;
}

std::vector<std::string> ehlo_keywords(SmtpServerDialogue& d) {
  auto step = d.on_line("EHLO client.example.org");
  BOOST_TEST(code_of(step) == 250);
  return smtp::ehlo_keywords(parse(step.reply));
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// A refusal of a mail transaction: permanent (5xx), and the session goes on.
void check_refused(const SmtpServerDialogue::Step& step, const std::string& command) {
  const int code = code_of(step);
  BOOST_TEST((code >= 500 && code <= 599), command << " answered " << step.reply);
  // Refused as mail, not as an unknown command: a sender's log says why.
  BOOST_TEST(code != 500, command << " answered " << step.reply);
  BOOST_TEST(step.reply.find("never accepted") != std::string::npos, step.reply);
  BOOST_TEST((step.next == Next::read), command);
  BOOST_TEST(!step.helo_name.has_value(), command);
}

// The session's read loop in miniature (as in smtp_session.cpp): answer each whole line
// already received; on STARTTLS, drop what is buffered and stop until the handshake.
struct Exchange {
  std::vector<std::string> commands;  // "<too long>" for an over-long line
  std::vector<SmtpServerDialogue::Step> steps;
  std::size_t discarded = 0;
};

Exchange converse(SmtpServerDialogue& d, smtp::LineReader& reader, const std::string& bytes) {
  Exchange x;
  reader.feed(bytes);
  for (;;) {
    auto line = reader.next();
    if (line.status == smtp::LineReader::Status::need_more) break;
    const bool too_long = line.status == smtp::LineReader::Status::too_long;
    x.commands.push_back(too_long ? "<too long>" : line.line);
    x.steps.push_back(too_long ? d.on_line_too_long() : d.on_line(line.line));
    if (x.steps.back().next == Next::close) break;
    if (x.steps.back().next == Next::start_tls) {
      x.discarded = reader.discard_buffered();
      break;
    }
  }
  return x;
}

// The mail-transaction commands, with and without arguments, in varied case.
const std::vector<std::string> mail_commands = {
    "MAIL FROM:<alice@example.org>",
    "mail from:<alice@example.org> SIZE=100",
    "MAIL FROM:<>",
    "MAIL",
    "RCPT TO:<bob@example.net>",
    "Rcpt To:<postmaster>",
    "RCPT",
    "DATA",
    "data",
    "BDAT 10 LAST",
    "BDAT 0",
    "VRFY postmaster",
    "vrfy",
    "EXPN staff",
    "AUTH PLAIN AGFsaWNlAHNlY3JldA==",
    "AUTH LOGIN",
    "ETRN example.org",
    "TURN",
    "ATRN example.org",
};

}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_server_dialogue)

BOOST_AUTO_TEST_CASE(greeting_identifies_the_reflector_and_refuses_mail) {
  auto d = plain_port();
  const auto g = d.greeting();
  const auto reply = parse(g);
  BOOST_TEST(reply.code == 220);
  BOOST_TEST(reply.lines.size() == 1u);
  // A client checks banner_identity against the greeting to tell the reflector from an
  // interceptor; an operator reading a transcript learns it takes no mail.
  BOOST_TEST(g.find(SmtpServerDialogue::identity) != std::string::npos, g);
  BOOST_TEST(g.find(hostname) != std::string::npos, g);
  BOOST_TEST(g.find(EGRESS25_VERSION) != std::string::npos, g);
  BOOST_TEST(g.find("never accepted") != std::string::npos, g);
  BOOST_TEST(g.starts_with("220 " + hostname + " ESMTP"), g);
}

BOOST_AUTO_TEST_CASE(ehlo_offers_starttls_before_tls_and_not_after) {
  auto d = plain_port();
  auto before = ehlo_keywords(d);
  BOOST_TEST(has(before, "STARTTLS"));
  BOOST_TEST(has(before, "ENHANCEDSTATUSCODES"));
  // No PIPELINING: commands are answered one at a time. No AUTH: nothing to log in to.
  BOOST_TEST(!has(before, "PIPELINING"));
  BOOST_TEST(!has(before, "AUTH"));
  BOOST_TEST(!has(before, "CHUNKING"));

  auto starttls = d.on_line("STARTTLS");
  BOOST_TEST(code_of(starttls) == 220);
  BOOST_TEST((starttls.next == Next::start_tls));
  d.on_tls_started();
  BOOST_TEST(d.tls_active());

  // RFC 3207 4.2: after the handshake the server must not offer STARTTLS again.
  auto after = ehlo_keywords(d);
  BOOST_TEST(!has(after, "STARTTLS"));
  BOOST_TEST(has(after, "ENHANCEDSTATUSCODES"));
}

BOOST_AUTO_TEST_CASE(ehlo_reply_greets_the_client_as_seen) {
  auto d = plain_port();
  auto step = d.on_line("EHLO client.example.org");
  const auto reply = parse(step.reply);
  BOOST_TEST(reply.code == 250);
  BOOST_TEST(reply.lines.at(0) == hostname + " Hello client.example.org [" + peer + "]");
  BOOST_TEST((step.next == Next::read));
  BOOST_TEST(step.helo_name.value_or("") == "client.example.org");
}

BOOST_AUTO_TEST_CASE(implicit_tls_port_never_offers_starttls) {
  SmtpServerDialogue before_handshake({hostname, peer, false});
  BOOST_TEST(!has(ehlo_keywords(before_handshake), "STARTTLS"));
  auto refused = before_handshake.on_line("STARTTLS");
  BOOST_TEST(code_of(refused) / 100 == 5);
  BOOST_TEST((refused.next == Next::read));

  auto d = implicit_tls_port();
  BOOST_TEST(!has(ehlo_keywords(d), "STARTTLS"));
}

BOOST_AUTO_TEST_CASE(helo_works) {
  auto d = plain_port();
  auto step = d.on_line("HELO client.example.org");
  const auto reply = parse(step.reply);
  BOOST_TEST(reply.code == 250);
  BOOST_TEST(reply.lines.size() == 1u);  // HELO: no extensions
  BOOST_TEST(step.reply.find(peer) != std::string::npos, step.reply);
  BOOST_TEST((step.next == Next::read));
  BOOST_TEST(step.helo_name.value_or("") == "client.example.org");

  auto lower = d.on_line("helo other.example.org");
  BOOST_TEST(code_of(lower) == 250);
  BOOST_TEST(lower.helo_name.value_or("") == "other.example.org");
}

BOOST_AUTO_TEST_CASE(helo_and_ehlo_need_a_name) {
  for (const std::string line : {"EHLO", "HELO", "EHLO   ", "helo "}) {
    auto d = plain_port();
    auto step = d.on_line(line);
    BOOST_TEST(code_of(step) == 501, line);
    BOOST_TEST(!step.helo_name.has_value(), line);
    BOOST_TEST((step.next == Next::read), line);
  }
}

BOOST_AUTO_TEST_CASE(helo_name_is_the_first_word_and_echoed_safely) {
  auto d = plain_port();
  auto step = d.on_line("EHLO  p0-0123abcd.egress25.invalid  extra words ");
  BOOST_TEST(step.helo_name.value_or("") == "p0-0123abcd.egress25.invalid");

  // A name with control bytes must not forge reply lines when echoed back.
  auto hostile = d.on_line("EHLO evil\r250 OK\x01");
  BOOST_TEST(code_of(hostile) == 250);
  const auto lines = parse(hostile.reply).lines;
  BOOST_TEST(lines.at(0).find('\r') == std::string::npos);
  BOOST_TEST(lines.at(0).find('\x01') == std::string::npos);
  for (std::size_t i = 0; i + 1 < hostile.reply.size(); ++i)
    if (hostile.reply[i] == '\r') BOOST_TEST(hostile.reply[i + 1] == '\n');

  // Echoed, a name is capped; the reply line stays within RFC 5321's 512 octets.
  auto longname = d.on_line("EHLO " + std::string(900, 'a'));
  BOOST_TEST(code_of(longname) == 250);
  BOOST_TEST(longname.reply.find("\r\n") < 512u);
}

BOOST_AUTO_TEST_CASE(mail_commands_are_refused_permanently_in_any_state) {
  // Every state a client can put the dialogue in: before EHLO, after EHLO/HELO, after a
  // refused MAIL or RCPT, after RSET, over TLS (STARTTLS or implicit).
  const std::vector<std::vector<std::string>> preludes = {
      {},
      {"EHLO client.example.org"},
      {"HELO client.example.org"},
      {"EHLO client.example.org", "MAIL FROM:<alice@example.org>"},
      {"EHLO client.example.org", "MAIL FROM:<a@example.org>", "RCPT TO:<b@example.net>"},
      {"EHLO client.example.org", "RSET"},
      {"EHLO client.example.org", "NOOP", "MAIL FROM:<a@example.org>", "RSET"},
  };
  for (const auto& command : mail_commands) {
    for (const auto& prelude : preludes) {
      auto d = plain_port();
      for (const auto& line : prelude) d.on_line(line);
      check_refused(d.on_line(command), command);
    }
    for (bool implicit : {false, true}) {
      auto d = implicit ? implicit_tls_port() : plain_port();
      if (!implicit) {
        d.on_line("EHLO client.example.org");
        d.on_line("STARTTLS");
        d.on_tls_started();
      }
      d.on_line("EHLO client.example.org");
      check_refused(d.on_line(command), command + " over TLS");
    }
  }
}

BOOST_AUTO_TEST_CASE(a_whole_transaction_never_gets_a_positive_reply) {
  // What a spammer or a misconfigured MTA sends in one go (pipelined, although the
  // reflector does not offer PIPELINING): the envelope is refused, DATA never gets a
  // 354, so the body lines are read as (unknown) commands, and nothing ends in a 250.
  auto d = plain_port();
  smtp::LineReader reader;
  converse(d, reader, "EHLO client.example.org\r\n");
  const auto x = converse(d, reader,
                          "MAIL FROM:<alice@example.org>\r\n"
                          "RCPT TO:<bob@example.net>\r\n"
                          "DATA\r\n"
                          "Subject: hello\r\n"
                          "\r\n"
                          "body\r\n"
                          ".\r\n"
                          "BDAT 5 LAST\r\n"
                          "QUIT\r\n");
  BOOST_TEST_REQUIRE(x.steps.size() == 9u);
  for (std::size_t i = 0; i + 1 < x.steps.size(); ++i) {
    const int code = code_of(x.steps[i]);
    BOOST_TEST(code / 100 == 5, x.commands[i] << " answered " << x.steps[i].reply);
    BOOST_TEST((x.steps[i].next == Next::read), x.commands[i]);
  }
  BOOST_TEST(code_of(x.steps.back()) == 221);
  BOOST_TEST((x.steps.back().next == Next::close));
}

BOOST_AUTO_TEST_CASE(noop_rset_quit) {
  auto d = plain_port();
  for (const std::string line : {"NOOP", "noop", "NOOP anything", "RSET", "rset"}) {
    auto step = d.on_line(line);
    BOOST_TEST(code_of(step) == 250, line);
    BOOST_TEST((step.next == Next::read), line);
  }
  auto quit = d.on_line("quit");
  BOOST_TEST(code_of(quit) == 221);
  BOOST_TEST((quit.next == Next::close));
  BOOST_TEST(quit.end_reason == "quit");
}

BOOST_AUTO_TEST_CASE(unknown_and_empty_commands_get_500) {
  for (const std::string line : {"XYZZY", "HELLO world", "", " EHLO x", "EHLO\tx", "STARTTLSX",
                                 "MAILFROM:<a@example.org>", "\x16\x03\x01\x02"}) {
    auto d = plain_port();
    auto step = d.on_line(line);
    BOOST_TEST(code_of(step) == 500, line << " answered " << step.reply);
    BOOST_TEST((step.next == Next::read), line);
    BOOST_TEST(!step.helo_name.has_value(), line);
  }
}

BOOST_AUTO_TEST_CASE(over_long_lines_get_500_then_close) {
  auto d = plain_port();
  smtp::LineReader reader;
  const std::string long_line = "EHLO " + std::string(limits::max_smtp_line + 10, 'a') + "\r\n";

  auto first = converse(d, reader, long_line + "NOOP\r\n");
  BOOST_TEST_REQUIRE(first.steps.size() == 2u);
  BOOST_TEST(code_of(first.steps[0]) == 500);
  BOOST_TEST((first.steps[0].next == Next::read));
  BOOST_TEST(!first.steps[0].helo_name.has_value());
  BOOST_TEST(code_of(first.steps[1]) == 250);  // the session carries on

  // A client that keeps sending them is not speaking SMTP: closed with a 421.
  std::vector<SmtpServerDialogue::Step> steps;
  for (int i = 0; i < 10; ++i) {
    steps.push_back(d.on_line_too_long());
    if (steps.back().next == Next::close) break;
  }
  BOOST_TEST(steps.size() < 10u);
  BOOST_TEST(code_of(steps.back()) == 421);
  BOOST_TEST(steps.back().end_reason == "too many over-long lines");
  for (std::size_t i = 0; i + 1 < steps.size(); ++i) BOOST_TEST(code_of(steps[i]) == 500);
}

BOOST_AUTO_TEST_CASE(command_budget_closes_with_421) {
  auto d = plain_port();
  for (int i = 0; i < limits::max_smtp_commands; ++i) {
    auto step = d.on_line(i % 2 ? "NOOP" : "MAIL FROM:<a@example.org>");
    BOOST_TEST_REQUIRE((step.next == Next::read), "command " << i + 1 << " " << step.reply);
  }
  auto last = d.on_line("NOOP");
  BOOST_TEST(code_of(last) == 421);
  BOOST_TEST((last.next == Next::close));
  BOOST_TEST(last.end_reason == "too many commands");

  // QUIT past the budget is not answered as if the session were still open.
  auto d2 = plain_port();
  for (int i = 0; i < limits::max_smtp_commands; ++i) d2.on_line("NOOP");
  BOOST_TEST(code_of(d2.on_line("QUIT")) == 421);
}

BOOST_AUTO_TEST_CASE(starttls_twice_and_after_tls_is_an_error) {
  auto d = plain_port();
  d.on_line("EHLO client.example.org");
  auto first = d.on_line("STARTTLS");
  BOOST_TEST(code_of(first) == 220);
  BOOST_TEST((first.next == Next::start_tls));
  d.on_tls_started();

  auto second = d.on_line("STARTTLS");
  BOOST_TEST(code_of(second) == 503);
  BOOST_TEST((second.next == Next::read));
  d.on_line("EHLO client.example.org");
  auto third = d.on_line("starttls");
  BOOST_TEST(code_of(third) == 503);
  BOOST_TEST((third.next == Next::read));

  auto implicit = implicit_tls_port();
  auto on_465 = implicit.on_line("STARTTLS");
  BOOST_TEST(code_of(on_465) / 100 == 5);
  BOOST_TEST((on_465.next == Next::read));
}

BOOST_AUTO_TEST_CASE(starttls_takes_no_argument) {
  auto d = plain_port();
  auto step = d.on_line("STARTTLS now");
  BOOST_TEST(code_of(step) == 501);
  BOOST_TEST((step.next == Next::read));
  BOOST_TEST(!d.tls_active());
}

BOOST_AUTO_TEST_CASE(plaintext_after_starttls_is_discarded) {
  // RFC 3207 5 (the CVE-2011-0411 class of injection): commands sent in the clear
  // behind STARTTLS must not be executed as if they came over TLS.
  auto d = plain_port();
  smtp::LineReader reader;
  converse(d, reader, "EHLO client.example.org\r\n");
  const std::string injected = "MAIL FROM:<evil@example.org>\r\nEHLO p0-0123abcd.x\r\n";
  const auto x = converse(d, reader, "STARTTLS\r\n" + injected);
  BOOST_TEST_REQUIRE(x.steps.size() == 1u);
  BOOST_TEST((x.steps[0].next == Next::start_tls));
  BOOST_TEST(x.discarded == injected.size());
  BOOST_TEST((reader.next().status == smtp::LineReader::Status::need_more));

  // After the handshake, the client starts over and is heard.
  d.on_tls_started();
  const auto after = converse(d, reader, "EHLO client.example.org\r\n");
  BOOST_TEST_REQUIRE(after.steps.size() == 1u);
  BOOST_TEST(after.commands[0] == "EHLO client.example.org");
  BOOST_TEST(code_of(after.steps[0]) == 250);
}

BOOST_AUTO_TEST_CASE(helo_name_is_given_only_for_ehlo_and_helo) {
  // The session looks for a probe tag only in what the dialogue calls a HELO name (and
  // in SNI): a tag inside MAIL, RCPT or an unknown command must not count.
  const std::string tagged = "p0-0123abcd.egress25.invalid";
  for (const std::string& line :
       {"MAIL FROM:<" + tagged + ">", "RCPT TO:<x@" + tagged + ">", "VRFY " + tagged,
        "NOOP " + tagged, "XEHLO " + tagged, tagged, "STARTTLS " + tagged}) {
    auto d = plain_port();
    BOOST_TEST(!d.on_line(line).helo_name.has_value(), line);
  }
  for (const std::string verb : {"EHLO ", "HELO ", "ehlo "}) {
    auto d = plain_port();
    BOOST_TEST(d.on_line(verb + tagged).helo_name.value_or("") == tagged, verb);
  }
  // After STARTTLS the EHLO name is reported again (the session records it as
  // "ehlo_after_starttls").
  auto d = plain_port();
  d.on_line("EHLO " + tagged);
  d.on_line("STARTTLS");
  d.on_tls_started();
  BOOST_TEST(d.on_line("EHLO " + tagged).helo_name.value_or("") == tagged);
}

BOOST_AUTO_TEST_SUITE_END()
