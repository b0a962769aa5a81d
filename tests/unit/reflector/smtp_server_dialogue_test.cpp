// Unit tests of the reflector's sans-io SMTP server dialogue: what it answers, and that
// no command sequence ever gets mail accepted.
#include "smtp_server_dialogue.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../dialogue_faults.hpp"
#include "limits.hpp"
#include "smtp_reply_parser.hpp"

using namespace egress25;
using namespace egress25::reflector;
using egress25::dialogue_test::Fault;
using egress25::dialogue_test::fault_name;
using namespace std::chrono_literals;

namespace {

const std::string hostname = "reflector.example.net";
const std::string peer = "192.0.2.10";

// What the dialogue does after answering one command.
enum class Next { read, start_tls, close };

struct Step {
  std::string reply;  // whole lines, CRLF-terminated
  Next next = Next::read;
  std::optional<std::string> helo_name;
  std::string end_reason;  // when next == close
};

struct Exchange {
  std::vector<Step> steps;
  std::size_t discarded = 0;
};

// A reflector port with the session in miniature around its dialogue: bytes from the
// client in, the replies and what follows them out, every write completing.
class Port {
 public:
  explicit Port(ServiceKind kind) : dialogue_({hostname, peer, kind}, transcript_) {
    action_ = dialogue_.resume(smtp::Event::start());
    if (kind == ServiceKind::smtps) {
      // An implicit-TLS port (465): the handshake comes before the greeting.
      BOOST_TEST_REQUIRE((action_.kind == smtp::Action::Kind::start_tls));
      action_ = dialogue_.resume(smtp::Event::tls_up());
    }
    BOOST_TEST_REQUIRE((action_.kind == smtp::Action::Kind::write));
    greeting_ = action_.bytes;
    action_ = dialogue_.resume(smtp::Event::written());
    BOOST_TEST_REQUIRE((action_.kind == smtp::Action::Kind::read));
  }
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  const std::string& greeting() const { return greeting_; }
  bool tls_active() const { return dialogue_.tls_active(); }
  SmtpServerDialogue& dialogue() { return dialogue_; }
  const Transcript& transcript() const { return transcript_; }

  // The client's bytes: each reply they get, up to the next read, handshake or close.
  Exchange converse(const std::string& bytes) {
    BOOST_TEST_REQUIRE((action_.kind == smtp::Action::Kind::read));
    Exchange x;
    action_ = dialogue_.resume(smtp::Event::received(bytes));
    while (action_.kind == smtp::Action::Kind::write) {
      Step step;
      step.reply = action_.bytes;
      if (const auto& name = dialogue_.name_seen()) step.helo_name = name->name;
      action_ = dialogue_.resume(smtp::Event::written());
      step.next = action_.kind == smtp::Action::Kind::start_tls ? Next::start_tls
                  : action_.done()                              ? Next::close
                                                                : Next::read;
      if (step.next == Next::close) step.end_reason = dialogue_.end_reason();
      x.steps.push_back(std::move(step));
    }
    if (action_.kind == smtp::Action::Kind::start_tls)
      x.discarded = dialogue_.discarded_at_starttls();
    return x;
  }

  Step on_line(const std::string& line) {
    auto x = converse(line + "\r\n");
    BOOST_TEST_REQUIRE(x.steps.size() == 1u, line);
    return x.steps.front();
  }
  Step on_line_too_long() {
    return on_line("EHLO " + std::string(limits::max_smtp_line + 10, 'a'));
  }
  void on_tls_started() {
    BOOST_TEST_REQUIRE((action_.kind == smtp::Action::Kind::start_tls));
    action_ = dialogue_.resume(smtp::Event::tls_up());
    BOOST_TEST_REQUIRE((action_.kind == smtp::Action::Kind::read));
  }

 private:
  Transcript transcript_;
  SmtpServerDialogue dialogue_;
  smtp::Action action_;
  std::string greeting_;
};

Port plain_port() {
  return Port(ServiceKind::smtp);
}

Port implicit_tls_port() {
  return Port(ServiceKind::smtps);
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

int code_of(const Step& step) {
  return parse(step.reply).code;
}

std::vector<std::string> ehlo_keywords(Port& d) {
  auto step = d.on_line("EHLO client.example.org");
  BOOST_TEST(code_of(step) == 250);
  return smtp::ehlo_keywords(parse(step.reply));
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// A refusal of a mail transaction: permanent (5xx), and the session goes on.
void check_refused(const Step& step, const std::string& command) {
  const int code = code_of(step);
  BOOST_TEST((code >= 500 && code <= 599), command << " answered " << step.reply);
  // Refused as mail, not as an unknown command: a sender's log says why.
  BOOST_TEST(code != 500, command << " answered " << step.reply);
  BOOST_TEST(step.reply.find("never accepted") != std::string::npos, step.reply);
  BOOST_TEST((step.next == Next::read), command);
  BOOST_TEST(!step.helo_name.has_value(), command);
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

// Printed by Boost.Test when a comparison of action kinds fails (found by ADL).
namespace egress25::smtp {
std::ostream& operator<<(std::ostream& os, Action::Kind kind) {
  switch (kind) {
    case Action::Kind::read:
      return os << "read";
    case Action::Kind::write:
      return os << "write";
    case Action::Kind::start_tls:
      return os << "start_tls";
    case Action::Kind::close:
      return os << "close";
  }
  return os << "?";
}
}  // namespace egress25::smtp

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
  auto d = implicit_tls_port();
  BOOST_TEST(d.tls_active());
  BOOST_TEST(!has(ehlo_keywords(d), "STARTTLS"));
  auto refused = d.on_line("STARTTLS");
  BOOST_TEST(code_of(refused) / 100 == 5);
  BOOST_TEST((refused.next == Next::read));
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
  d.converse("EHLO client.example.org\r\n");
  const auto x = d.converse(
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
    BOOST_TEST(code / 100 == 5, "command " << i << " answered " << x.steps[i].reply);
    BOOST_TEST((x.steps[i].next == Next::read), "command " << i);
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
  const std::string long_line = "EHLO " + std::string(limits::max_smtp_line + 10, 'a') + "\r\n";

  auto first = d.converse(long_line + "NOOP\r\n");
  BOOST_TEST_REQUIRE(first.steps.size() == 2u);
  BOOST_TEST(code_of(first.steps[0]) == 500);
  BOOST_TEST((first.steps[0].next == Next::read));
  BOOST_TEST(!first.steps[0].helo_name.has_value());
  BOOST_TEST(code_of(first.steps[1]) == 250);  // the session carries on

  // A client that keeps sending them is not speaking SMTP: closed with a 421.
  std::vector<Step> steps;
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
  d.converse("EHLO client.example.org\r\n");
  const std::string injected = "MAIL FROM:<evil@example.org>\r\nEHLO p0-0123abcd.x\r\n";
  const auto x = d.converse("STARTTLS\r\n" + injected);
  BOOST_TEST_REQUIRE(x.steps.size() == 1u);
  BOOST_TEST((x.steps[0].next == Next::start_tls));
  BOOST_TEST(x.discarded == injected.size());
  // Kept in the plain transcript (they arrived), never answered.
  BOOST_TEST(d.transcript().plain.to_server.kept.ends_with(injected));

  // After the handshake, the client starts over and is heard.
  d.on_tls_started();
  const auto after = d.converse("EHLO client.example.org\r\n");
  BOOST_TEST_REQUIRE(after.steps.size() == 1u);
  BOOST_TEST(after.steps[0].helo_name.value_or("") == "client.example.org");
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

// ---- The dialogue as the session drives it: every event through resume() -----------

namespace {

const std::string tagged_name = "p0-0123abcd.egress25.invalid";

// One action the dialogue asked for, as the session carried it out.
struct Done {
  smtp::Action::Kind kind;
  std::string bytes;
  bool tls = false;
  bool farewell = false;
};

// The client in a full exchange, as the session sees it: each read gets the next
// command; each write and handshake goes through, unless the fault replaces its result.
const std::vector<Fault> all_faults = {Fault::reset,       Fault::io_error,  Fault::timeout,
                                       Fault::peer_closed, Fault::truncated, Fault::tls_failure,
                                       Fault::malformed,   Fault::shutdown};

const std::string shutdown_421 = "421 4.3.2 reflector.example.net shutting down, closing\r\n";

struct Session {
  std::vector<Done> done;
  std::string end_reason;
  Transcript transcript;
  smtp::Action::Kind faulted = smtp::Action::Kind::close;  // what the fault answered
  std::vector<std::string> names;                          // "name@where"
};

Session run_session(ServiceKind kind, std::vector<std::string> commands, int fault_at = 0,
                    Fault fault = Fault::reset) {
  namespace errc = boost::system::errc;
  Session s;
  SmtpServerDialogue d({hostname, peer, kind}, s.transcript);
  auto action = d.resume(smtp::Event::start());
  std::size_t next_command = 0;
  int results = 0;
  for (int guard = 0; guard < 100 && !action.done(); ++guard) {
    s.done.push_back({action.kind, action.bytes, action.tls, action.farewell});
    if (const auto& name = d.name_seen())
      s.names.push_back(name->name + "@" + std::string(name->where));
    if (++results == fault_at) {
      s.faulted = action.kind;
      switch (fault) {
        case Fault::reset:
          action = d.resume(smtp::Event::io_error(errc::make_error_code(errc::connection_reset),
                                                  "Connection reset by peer"));
          break;
        case Fault::io_error:
          action = d.resume(smtp::Event::io_error(errc::make_error_code(errc::host_unreachable),
                                                  "No route to host"));
          break;
        case Fault::timeout:
          action = d.resume(smtp::Event::timed_out(30000ms));
          break;
        case Fault::peer_closed:
          action = d.resume(smtp::Event::peer_closed());
          break;
        case Fault::truncated:
          action = d.resume(smtp::Event::peer_closed(true));
          break;
        case Fault::tls_failure:
          action = d.resume(smtp::Event::tls_failed(errc::make_error_code(errc::protocol_error),
                                                    "wrong version number"));
          break;
        case Fault::malformed:
          action = d.resume(
              smtp::Event::received(std::string(limits::max_smtp_line + 10, 'x') + "\r\n"));
          break;
        case Fault::shutdown:
          action = d.stop(shutdown_421, "reflector shutting down");
          break;
      }
      continue;
    }
    switch (action.kind) {
      case smtp::Action::Kind::read:
        if (next_command < commands.size()) {
          const std::string line = commands[next_command++] + "\r\n";
          action = d.resume(smtp::Event::received(line));
        } else {
          action = d.resume(smtp::Event::peer_closed());
        }
        break;
      case smtp::Action::Kind::write:
        action = d.resume(smtp::Event::written());
        break;
      case smtp::Action::Kind::start_tls:
        action = d.resume(smtp::Event::tls_up());
        break;
      case smtp::Action::Kind::close:
        break;
    }
  }
  BOOST_TEST_REQUIRE(action.done(), "the dialogue did not end");
  BOOST_TEST(d.done());
  s.end_reason = d.end_reason();
  // Once over, it asks for nothing more and keeps its reason, whatever comes.
  for (const auto& late :
       {smtp::Event::start(), smtp::Event::received("QUIT\r\n"), smtp::Event::written(),
        smtp::Event::tls_up(), smtp::Event::timed_out(1ms), smtp::Event::peer_closed()}) {
    BOOST_TEST(d.resume(late).done());
    BOOST_TEST(d.end_reason() == s.end_reason);
  }
  BOOST_TEST(d.stop(shutdown_421, "reflector shutting down").done());
  BOOST_TEST(d.end_reason() == s.end_reason);
  return s;
}

const std::vector<std::string> starttls_commands = {"EHLO " + tagged_name, "STARTTLS",
                                                    "EHLO " + tagged_name, "QUIT"};
const std::vector<std::string> implicit_commands = {"EHLO " + tagged_name, "QUIT"};

using Kinds = std::vector<smtp::Action::Kind>;
constexpr auto R = smtp::Action::Kind::read;
constexpr auto W = smtp::Action::Kind::write;
constexpr auto T = smtp::Action::Kind::start_tls;

}  // namespace

BOOST_AUTO_TEST_CASE(a_starttls_session_from_greeting_to_quit) {
  const auto s = run_session(ServiceKind::smtp, starttls_commands);
  Kinds kinds;
  for (const auto& a : s.done) kinds.push_back(a.kind);
  BOOST_TEST(kinds == (Kinds{W, R, W, R, W, T, R, W, R, W}), boost::test_tools::per_element());
  BOOST_TEST(s.end_reason == "quit");
  // Reads and writes go through TLS once it is up, and only then.
  std::vector<bool> tls;
  for (const auto& a : s.done)
    if (a.kind != T) tls.push_back(a.tls);
  BOOST_TEST(tls == (std::vector<bool>{false, false, false, false, false, true, true, true, true}),
             boost::test_tools::per_element());
  BOOST_TEST(s.names == (std::vector<std::string>{tagged_name + "@ehlo",
                                                  tagged_name + "@ehlo_after_starttls"}),
             boost::test_tools::per_element());
  // The transcript, phase by phase, as a REPORT carries it.
  BOOST_TEST(s.transcript.plain.to_server.kept == "EHLO " + tagged_name + "\r\nSTARTTLS\r\n");
  BOOST_TEST(s.transcript.plain.to_client.kept.starts_with(s.done[0].bytes));
  BOOST_TEST(s.transcript.plain.to_client.kept.ends_with("220 2.0.0 Ready to start TLS\r\n"));
  BOOST_TEST(s.transcript.tls.to_server.kept == "EHLO " + tagged_name + "\r\nQUIT\r\n");
  BOOST_TEST(s.transcript.tls.to_client.kept.ends_with(
      "221 2.0.0 reflector.example.net closing connection\r\n"));
}

BOOST_AUTO_TEST_CASE(an_implicit_tls_session_handshakes_before_the_greeting) {
  const auto s = run_session(ServiceKind::smtps, implicit_commands);
  Kinds kinds;
  for (const auto& a : s.done) kinds.push_back(a.kind);
  BOOST_TEST(kinds == (Kinds{T, W, R, W, R, W}), boost::test_tools::per_element());
  BOOST_TEST(s.done[1].tls);
  BOOST_TEST(s.done[1].bytes.starts_with("220 " + hostname));
  BOOST_TEST(s.end_reason == "quit");
  BOOST_TEST(s.names == std::vector<std::string>{tagged_name + "@ehlo"},
             boost::test_tools::per_element());
  BOOST_TEST(s.transcript.plain.to_client.kept == "");
  BOOST_TEST(s.transcript.plain.to_server.kept == "");
}

BOOST_AUTO_TEST_CASE(quit_ends_the_session_even_when_the_client_does_not_wait_for_221) {
  // The probe sends QUIT and closes at once: the 221 may meet a reset. The session still
  // ended with QUIT, which is what the record says.
  for (const Fault fault : {Fault::reset, Fault::peer_closed, Fault::timeout, Fault::shutdown}) {
    const auto s = run_session(ServiceKind::smtp, starttls_commands, 10, fault);
    BOOST_TEST((s.faulted == W), fault_name(fault));
    BOOST_TEST(s.done.back().bytes.starts_with("221 "), fault_name(fault));
    BOOST_TEST(s.end_reason == "quit", fault_name(fault));
  }
}

BOOST_AUTO_TEST_CASE(a_timeout_between_commands_says_421_with_the_reason) {
  Transcript t;
  SmtpServerDialogue d({hostname, peer, ServiceKind::smtp}, t);
  d.resume(smtp::Event::start());
  BOOST_TEST((d.resume(smtp::Event::written()).kind == R));
  const auto farewell = d.resume(smtp::Event::timed_out(20000ms, "no session tag in time"));
  BOOST_TEST((farewell.kind == W));
  BOOST_TEST(farewell.farewell);
  BOOST_TEST(farewell.bytes == "421 4.4.2 " + hostname + " no session tag in time, closing\r\n");
  BOOST_TEST(t.plain.to_client.kept.ends_with(farewell.bytes));
  // The reason holds whether the 421 gets out or not.
  BOOST_TEST(d.resume(smtp::Event::timed_out(2000ms)).done());
  BOOST_TEST(d.end_reason() == "no session tag in time");
}

BOOST_AUTO_TEST_CASE(stop_says_its_421_only_between_commands) {
  {
    // Waiting for a command: the farewell, then close.
    Transcript t;
    SmtpServerDialogue d({hostname, peer, ServiceKind::smtp}, t);
    d.resume(smtp::Event::start());
    d.resume(smtp::Event::written());
    BOOST_TEST(d.waiting_for_command());
    const auto a = d.stop(shutdown_421, "reflector shutting down");
    BOOST_TEST((a.kind == W));
    BOOST_TEST(a.bytes == shutdown_421);
    BOOST_TEST(a.farewell);
    BOOST_TEST(d.resume(smtp::Event::written()).done());
    BOOST_TEST(d.end_reason() == "reflector shutting down");
  }
  {
    // Closed by the table (no farewell to say): close at once.
    Transcript t;
    SmtpServerDialogue d({hostname, peer, ServiceKind::smtp}, t);
    d.resume(smtp::Event::start());
    d.resume(smtp::Event::written());
    BOOST_TEST(d.stop("", "closed to make room (reflector busy)").done());
    BOOST_TEST(d.end_reason() == "closed to make room (reflector busy)");
  }
  {
    // Implicit TLS, before the handshake: nothing in plaintext.
    Transcript t;
    SmtpServerDialogue d({hostname, peer, ServiceKind::smtps}, t);
    BOOST_TEST((d.resume(smtp::Event::start()).kind == T));
    BOOST_TEST(!d.waiting_for_command());
    BOOST_TEST(d.stop(shutdown_421, "reflector shutting down").done());
    BOOST_TEST(t.plain.to_client.kept == "");
  }
}

// The table: every step of both full exchanges, every failure. What a failure means
// depends on what the session was doing; after it, the dialogue asks for nothing more
// (but the 421 it says when a wait for a command times out or the reflector stops).
BOOST_AUTO_TEST_CASE(every_failure_at_every_step_ends_the_session_as_it_should) {
  struct Exchange {
    std::string name;
    ServiceKind kind;
    std::vector<std::string> commands;
  };
  const std::vector<Exchange> exchanges = {{"starttls", ServiceKind::smtp, starttls_commands},
                                           {"implicit tls", ServiceKind::smtps, implicit_commands}};
  int cases = 0;
  for (const auto& x : exchanges) {
    const auto whole = run_session(x.kind, x.commands);
    const int steps = static_cast<int>(whole.done.size());
    BOOST_TEST_REQUIRE(steps >= 6);
    for (int at = 1; at <= steps; ++at) {
      for (const Fault fault : all_faults) {
        BOOST_TEST_CONTEXT(x.name << ", " << fault_name(fault) << " at step " << at) {
          ++cases;
          const auto s = run_session(x.kind, x.commands, at, fault);
          const std::string& why = s.end_reason;
          const bool quit_said = whole.done[at - 1].bytes.starts_with("221 ");
          // Nothing after the fault but a farewell (or, for a malformed line, the session
          // carrying on).
          if (fault != Fault::malformed) BOOST_TEST(static_cast<int>(s.done.size()) <= at + 1);
          if (static_cast<int>(s.done.size()) == at + 1 && fault != Fault::malformed) {
            BOOST_TEST(s.done.back().farewell);
            BOOST_TEST(s.done.back().bytes.starts_with("421 "));
          }
          switch (s.faulted) {
            case smtp::Action::Kind::read:
              switch (fault) {
                case Fault::reset:
                  BOOST_TEST(why == "reset by peer");
                  break;
                case Fault::io_error:
                  BOOST_TEST(why == "No route to host");
                  break;
                case Fault::timeout:
                  BOOST_TEST(why == "idle timeout");
                  BOOST_TEST(s.done.back().bytes ==
                             "421 4.4.2 " + hostname + " idle timeout, closing\r\n");
                  break;
                case Fault::peer_closed:
                  BOOST_TEST(why == "peer closed");
                  break;
                case Fault::truncated:
                  BOOST_TEST(why == "peer closed (no TLS close_notify)");
                  break;
                case Fault::tls_failure:
                  BOOST_TEST(why.starts_with("dialogue error"), why);
                  break;
                case Fault::malformed:
                  // An over-long line is answered with a 500, and the session goes on to
                  // its ordinary end.
                  BOOST_TEST(s.done[at].bytes == "500 5.5.2 line too long\r\n");
                  BOOST_TEST(why == "quit");
                  break;
                case Fault::shutdown:
                  BOOST_TEST(why == "reflector shutting down");
                  BOOST_TEST(s.done.back().bytes == shutdown_421);
                  break;
              }
              break;
            case smtp::Action::Kind::write:
              BOOST_TEST(s.done.back().bytes == whole.done[at - 1].bytes);  // no farewell
              switch (fault) {
                case Fault::reset:
                  BOOST_TEST(why == (quit_said ? "quit" : "reset by peer"));
                  break;
                case Fault::io_error:
                  BOOST_TEST(why == (quit_said ? "quit" : "No route to host"));
                  break;
                case Fault::timeout:
                  BOOST_TEST(why == (quit_said ? "quit" : "write timeout"));
                  break;
                case Fault::peer_closed:
                  BOOST_TEST(why == (quit_said ? "quit" : "peer closed"));
                  break;
                case Fault::truncated:
                  BOOST_TEST(why == (quit_said ? "quit" : "peer closed (no TLS close_notify)"));
                  break;
                case Fault::shutdown:
                  BOOST_TEST(why == (quit_said ? "quit" : "reflector shutting down"));
                  break;
                case Fault::tls_failure:
                case Fault::malformed:
                  if (quit_said)
                    BOOST_TEST(why == "quit");
                  else
                    BOOST_TEST(why.starts_with("dialogue error"), why);
                  break;
              }
              break;
            case smtp::Action::Kind::start_tls:
              switch (fault) {
                case Fault::reset:
                  BOOST_TEST(why == "tls failed: reset by peer");
                  break;
                case Fault::io_error:
                  BOOST_TEST(why == "tls failed: No route to host");
                  break;
                case Fault::timeout:
                  BOOST_TEST(why == "tls failed: timeout");
                  break;
                case Fault::peer_closed:
                  BOOST_TEST(why == "tls failed: peer closed");
                  break;
                case Fault::truncated:
                  BOOST_TEST(why == "tls failed: peer closed (no TLS close_notify)");
                  break;
                case Fault::tls_failure:
                  BOOST_TEST(why == "tls failed: wrong version number");
                  break;
                case Fault::malformed:
                  BOOST_TEST(why.starts_with("dialogue error"), why);
                  break;
                case Fault::shutdown:
                  BOOST_TEST(why == "reflector shutting down");
                  break;
              }
              // Nothing is said into a handshake.
              BOOST_TEST((s.done.back().kind == T));
              break;
            case smtp::Action::Kind::close:
              BOOST_FAIL("the fault was never injected");
          }
        }
      }
    }
  }
  BOOST_TEST(cases > 100);
}

BOOST_AUTO_TEST_SUITE_END()
