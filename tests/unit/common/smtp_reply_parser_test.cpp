// Unit tests of the SMTP reply parser, the capped line reader and EHLO keywords.
#include "smtp_reply_parser.hpp"

#include <boost/test/unit_test.hpp>
#include <random>
#include <string>
#include <vector>

using namespace egress25::smtp;
namespace limits = egress25::limits;

namespace {

using Status = ReplyParser::Status;

// Feeds `bytes` one at a time and collects every reply; stops at the first error.
struct Fed {
  std::vector<Reply> replies;
  std::string error;
  std::size_t error_after = 0;  // bytes fed when the error was first reported
};

Fed feed_bytewise(ReplyParser& p, std::string_view bytes) {
  Fed out;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    p.feed(bytes.substr(i, 1));
    for (;;) {
      auto r = p.next();
      if (r.status == Status::need_more) break;
      if (r.status == Status::error) {
        out.error = r.error;
        out.error_after = i + 1;
        return out;
      }
      out.replies.push_back(std::move(r.reply));
    }
  }
  return out;
}

std::vector<std::string> lines_of(LineReader& reader) {
  std::vector<std::string> out;
  for (auto r = reader.next(); r.status != LineReader::Status::need_more; r = reader.next())
    out.push_back(r.status == LineReader::Status::line ? r.line : "<too long>");
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(smtp_reply_parser)

BOOST_AUTO_TEST_CASE(multi_line_ehlo_reply_byte_at_a_time) {
  const std::string ehlo =
      "250-reflector.example greets you\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
      "250-STARTTLS\r\n250 8BITMIME\r\n";
  ReplyParser p;
  const auto fed = feed_bytewise(p, "220 reflector.example ESMTP\r\n" + ehlo);
  BOOST_TEST(fed.error == "");
  BOOST_TEST_REQUIRE(fed.replies.size() == 2u);
  BOOST_TEST(fed.replies[0].code == 220);
  BOOST_TEST(fed.replies[0].lines == std::vector<std::string>{"reflector.example ESMTP"},
             boost::test_tools::per_element());
  const auto& r = fed.replies[1];
  BOOST_TEST(r.code == 250);
  BOOST_TEST(r.lines.size() == 5u);
  BOOST_TEST(r.lines[2] == "SIZE 10240000");
  BOOST_TEST(r.raw == ehlo);
  BOOST_TEST(p.buffered() == 0u);
  BOOST_TEST(
      ehlo_keywords(r) == (std::vector<std::string>{"PIPELINING", "SIZE", "STARTTLS", "8BITMIME"}),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(several_replies_in_one_read) {
  ReplyParser p;
  p.feed("250 OK\r\n221 2.0.0 Bye\r\n354 partial");
  auto r = p.next();
  BOOST_TEST_REQUIRE((r.status == Status::reply));
  BOOST_TEST(r.reply.code == 250);
  r = p.next();
  BOOST_TEST_REQUIRE((r.status == Status::reply));
  BOOST_TEST(r.reply.code == 221);
  BOOST_TEST(r.reply.lines[0] == "2.0.0 Bye");
  BOOST_TEST((p.next().status == Status::need_more));
  BOOST_TEST(p.buffered() == std::string("354 partial").size());
}

BOOST_AUTO_TEST_CASE(bare_lf_and_code_only_lines) {
  ReplyParser p;
  p.feed("250-first\n250\n");
  auto r = p.next();
  BOOST_TEST_REQUIRE((r.status == Status::reply));
  BOOST_TEST(r.reply.code == 250);
  BOOST_TEST(r.reply.lines == (std::vector<std::string>{"first", ""}),
             boost::test_tools::per_element());
  BOOST_TEST(r.reply.raw == "250-first\n250\n");
  p.feed("220\r\n");
  r = p.next();
  BOOST_TEST_REQUIRE((r.status == Status::reply));
  BOOST_TEST(r.reply.code == 220);
  BOOST_TEST(r.reply.lines == std::vector<std::string>{""}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(malformed_lines_are_errors_and_the_parser_stays_failed) {
  for (std::string_view bad : {"25\r\n", "2x0 hi\r\n", "250xhi\r\n", "hello\r\n", "\r\n",
                               "650 nope\r\n", "099 nope\r\n", "250-a\r\n251 b\r\n"}) {
    ReplyParser p;
    const auto fed = feed_bytewise(p, bad);
    BOOST_TEST(!fed.error.empty(), bad);
    BOOST_TEST(fed.replies.empty(), bad);
    p.feed("250 OK\r\n");
    BOOST_TEST((p.next().status == Status::error));
  }
}

BOOST_AUTO_TEST_CASE(codes_changing_mid_reply_are_named) {
  ReplyParser p;
  p.feed("250-a\r\n550 b\r\n");
  const auto r = p.next();
  BOOST_TEST((r.status == Status::error));
  BOOST_TEST(r.error.find("250") != std::string::npos);
  BOOST_TEST(r.error.find("550") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(line_at_the_cap_passes_one_over_fails) {
  ReplyParser ok(20);
  ok.feed("250 " + std::string(16, 'x') + "\r\n");  // 20 bytes before CRLF
  BOOST_TEST((ok.next().status == Status::reply));
  ReplyParser over(20);
  over.feed("250 " + std::string(17, 'x') + "\r\n");
  BOOST_TEST((over.next().status == Status::error));
}

BOOST_AUTO_TEST_CASE(endless_line_fails_as_soon_as_it_passes_the_cap) {
  ReplyParser p(100);
  const std::string endless = "220 " + std::string(10000, 'A');
  const auto fed = feed_bytewise(p, endless);
  BOOST_TEST_REQUIRE(!fed.error.empty());
  // 100 bytes are a line at the cap; a 101st that is not CR cannot be.
  BOOST_TEST(fed.error_after == 101u);
  BOOST_TEST(p.buffered() <= 101u);
}

BOOST_AUTO_TEST_CASE(cr_at_the_cap_waits_for_its_lf) {
  ReplyParser p(10);
  p.feed("250 abcdef\r");  // 10 bytes of line, then a CR
  BOOST_TEST((p.next().status == Status::need_more));
  p.feed("\n");
  BOOST_TEST((p.next().status == Status::reply));
}

BOOST_AUTO_TEST_CASE(endless_continuation_fails_at_the_line_cap) {
  ReplyParser p(limits::max_smtp_line, 8);
  std::string endless;
  for (int i = 0; i < 1000; ++i) endless += "250-again\r\n";
  const auto fed = feed_bytewise(p, endless);
  BOOST_TEST_REQUIRE(!fed.error.empty());
  BOOST_TEST(fed.replies.empty());
  // Detected when the 8th line announces a 9th, not later.
  BOOST_TEST(fed.error_after == 8u * std::string("250-again\r\n").size());
  BOOST_TEST(fed.error.find("8") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(reply_with_exactly_max_lines_passes) {
  ReplyParser p(limits::max_smtp_line, 3);
  const auto fed = feed_bytewise(p, "250-a\r\n250-b\r\n250 c\r\n");
  BOOST_TEST(fed.error == "");
  BOOST_TEST_REQUIRE(fed.replies.size() == 1u);
  BOOST_TEST(fed.replies[0].lines.size() == 3u);
}

BOOST_AUTO_TEST_CASE(default_caps_come_from_limits) {
  ReplyParser p;
  std::string reply;
  for (std::size_t i = 0; i + 1 < limits::max_reply_lines; ++i) reply += "250-x\r\n";
  reply += "250 " + std::string(limits::max_smtp_line - 4, 'y') + "\r\n";
  p.feed(reply);
  BOOST_TEST((p.next().status == Status::reply));
}

BOOST_AUTO_TEST_CASE(ehlo_keywords_skip_the_greeting_and_upper_case) {
  Reply r;
  r.code = 250;
  r.lines = {"mx.example STARTTLS is not a keyword here", "starttls", "Size 100", "", "AUTH PLAIN"};
  BOOST_TEST(ehlo_keywords(r) == (std::vector<std::string>{"STARTTLS", "SIZE", "AUTH"}),
             boost::test_tools::per_element());
  Reply single;
  single.code = 250;
  single.lines = {"mx.example"};
  BOOST_TEST(ehlo_keywords(single).empty());
}

BOOST_AUTO_TEST_CASE(random_input_never_grows_the_buffer_past_the_caps) {
  // Bytes drawn from the reply alphabet, fed one at a time: whatever the parser decides,
  // it never holds more than a whole capped reply plus one capped line.
  std::mt19937 rng(587);
  const std::string alphabet = "2505-- \r\n\nxA";
  const std::size_t max_line = 40;
  const std::size_t max_lines = 5;
  for (int round = 0; round < 200; ++round) {
    ReplyParser p(max_line, max_lines);
    for (int i = 0; i < 2000; ++i) {
      const char c = alphabet[rng() % alphabet.size()];
      p.feed(std::string_view(&c, 1));
      ReplyParser::Result r;
      do {
        r = p.next();
        if (r.status == Status::reply) {
          BOOST_TEST(r.reply.lines.size() <= max_lines);
          for (const auto& l : r.reply.lines) BOOST_TEST(l.size() + 4 <= max_line);
        }
      } while (r.status == Status::reply);
      if (r.status == Status::error) break;
      BOOST_TEST_REQUIRE(p.buffered() <= max_lines * (max_line + 2) + max_line + 1);
    }
  }
}

// ---- LineReader ------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(line_reader_splits_crlf_and_lf_byte_at_a_time) {
  LineReader reader;
  std::vector<std::string> lines;
  const std::string stream = "EHLO a\r\nNOOP\nQUIT\r\n\r\npartial";
  for (char c : stream) {
    reader.feed(std::string_view(&c, 1));
    for (auto l : lines_of(reader)) lines.push_back(l);
  }
  BOOST_TEST(lines == (std::vector<std::string>{"EHLO a", "NOOP", "QUIT", ""}),
             boost::test_tools::per_element());
  BOOST_TEST(reader.buffered() == 7u);
}

BOOST_AUTO_TEST_CASE(line_reader_reports_an_over_long_line_once_and_drops_its_rest) {
  LineReader reader(10);
  reader.feed("0123456789\r\n");  // exactly at the cap
  reader.feed(std::string(25, 'x'));
  auto lines = lines_of(reader);
  BOOST_TEST(lines == (std::vector<std::string>{"0123456789", "<too long>"}),
             boost::test_tools::per_element());
  BOOST_TEST(reader.buffered() == 0u);
  reader.feed(std::string(5000, 'y'));  // more of the same line: dropped, not buffered
  BOOST_TEST(lines_of(reader).empty());
  BOOST_TEST(reader.buffered() == 0u);
  reader.feed("yyy\r\nNOOP\r\n");
  BOOST_TEST(lines_of(reader) == std::vector<std::string>{"NOOP"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(line_reader_over_long_line_with_its_newline_in_one_read) {
  LineReader reader(10);
  reader.feed(std::string(30, 'z') + "\r\nQUIT\r\n");
  BOOST_TEST(lines_of(reader) == (std::vector<std::string>{"<too long>", "QUIT"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(line_reader_discards_plaintext_injected_after_starttls) {
  // RFC 3207 5 / CVE-2011-0411: "STARTTLS\r\nRSET\r\n" in one packet must not run RSET
  // inside the TLS session.
  LineReader reader;
  reader.feed("STARTTLS\r\nMAIL FROM:<evil@example>\r\n");
  const auto r = reader.next();
  BOOST_TEST_REQUIRE((r.status == LineReader::Status::line));
  BOOST_TEST(r.line == "STARTTLS");
  BOOST_TEST(reader.discard_buffered() == std::string("MAIL FROM:<evil@example>\r\n").size());
  BOOST_TEST((reader.next().status == LineReader::Status::need_more));
  reader.feed("EHLO after\r\n");
  BOOST_TEST(lines_of(reader) == std::vector<std::string>{"EHLO after"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
