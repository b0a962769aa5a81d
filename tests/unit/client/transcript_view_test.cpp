// Unit tests for --show-transcript: SMTP's two streams interleaved into a dialogue, and two
// dialogues aligned side by side with what changed marked.
#include <boost/test/unit_test.hpp>

#include "transcript_view.hpp"

using namespace egress25;
using namespace egress25::client;
using Kind = DialogueLine::Kind;

namespace {

Transcript starttls_dialogue(const std::string& ehlo_reply) {
  Transcript t;
  t.plain.to_client.append("220 vps ESMTP\r\n" + ehlo_reply + "220 go ahead\r\n");
  t.plain.to_server.append("EHLO p1.egress25.invalid\r\nSTARTTLS\r\n");
  t.tls.to_server.append("EHLO p1.egress25.invalid\r\nQUIT\r\n");
  t.tls.to_client.append("250 vps\r\n221 bye\r\n");
  return t;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transcript_view)

BOOST_AUTO_TEST_CASE(streams_interleave_in_lock_step) {
  auto lines = dialogue_lines(starttls_dialogue("250-vps\r\n250 STARTTLS\r\n"), "-- TLS --");
  std::vector<DialogueLine> expected{
      {Kind::to_client, "220 vps ESMTP"}, {Kind::to_server, "EHLO p1.egress25.invalid"},
      {Kind::to_client, "250-vps"},       {Kind::to_client, "250 STARTTLS"},
      {Kind::to_server, "STARTTLS"},      {Kind::to_client, "220 go ahead"},
      {Kind::note, "-- TLS --"},          {Kind::to_server, "EHLO p1.egress25.invalid"},
      {Kind::to_client, "250 vps"},       {Kind::to_server, "QUIT"},
      {Kind::to_client, "221 bye"}};
  BOOST_TEST((lines == expected));
}

BOOST_AUTO_TEST_CASE(implicit_tls_greets_inside_tls) {
  Transcript t;
  t.tls.to_client.append("220 vps ESMTP\r\n250 vps\r\n");
  t.tls.to_server.append("EHLO x\r\n");
  auto lines = dialogue_lines(t, "-- TLS --");
  BOOST_TEST_REQUIRE(lines.size() == 4u);
  BOOST_TEST(lines[1].text == "220 vps ESMTP");
  BOOST_TEST(lines[2].text == "EHLO x");
}

BOOST_AUTO_TEST_CASE(bytes_are_escaped_and_cuts_said) {
  Transcript t;
  t.plain.to_client.cap = 20;
  t.plain.to_client.append("220 \x1b[2Jhi\r\n250 a very long reply that is cut\r\n");
  auto lines = dialogue_lines(t, "");
  BOOST_TEST(lines.front().text == "220 \\x1b[2Jhi");
  BOOST_TEST((lines.back().kind == Kind::note));
  BOOST_TEST(lines.back().text.find("more bytes to the client, not kept") != std::string::npos);
}

// A middlebox that strips STARTTLS: the reflector offered it, the client never saw it.
BOOST_AUTO_TEST_CASE(side_by_side_marks_what_changed) {
  Transcript client_view;
  client_view.plain.to_client.append("220 vps ESMTP\r\n250-vps\r\n250 XXXXXXXA\r\n");
  client_view.plain.to_server.append("EHLO p1\r\nQUIT\r\n");
  Transcript reflector_view;
  reflector_view.plain.to_client.append("220 vps ESMTP\r\n250-vps\r\n250 STARTTLS\r\n221 bye\r\n");
  reflector_view.plain.to_server.append("EHLO p1\r\nQUIT\r\n");
  auto out = side_by_side(dialogue_lines(client_view, ""), dialogue_lines(reflector_view, ""),
                          "client", "reflector", 61);
  BOOST_TEST(out.find("<- 250-vps                    | <- 250-vps") != std::string::npos, out);
  BOOST_TEST(out.find("<- 250 XXXXXXXA               ! <- 250 STARTTLS") != std::string::npos, out);
  BOOST_TEST(out.find("> <- 221 bye") != std::string::npos, out);
  for (std::size_t at = 0, end; (end = out.find('\n', at)) != std::string::npos; at = end + 1)
    BOOST_TEST(end - at <= 61u);
}

BOOST_AUTO_TEST_CASE(probe_without_a_record) {
  ProbeEvidence evidence;
  evidence.client.connect = ConnectOutcome::timed_out;
  evidence.reflector.report_available = true;
  auto out = probe_transcript(evidence, 100);
  BOOST_TEST(out.find("(no connection: timed out)") != std::string::npos, out);
  BOOST_TEST(out.find("(the reflector has no record of this probe)") != std::string::npos, out);
}

BOOST_AUTO_TEST_SUITE_END()
