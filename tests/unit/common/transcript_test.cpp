// Unit tests of capped transcripts, their cross-end comparison, and printable().
#include "transcript.hpp"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace egress25;

namespace {

const std::string banner = "220 reflector.example ESMTP egress25-reflector\r\n";
const std::string ehlo_cmd = "EHLO p0-0123abcd.egress25.invalid\r\n";
const std::string ehlo_reply =
    "250-reflector.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-STARTTLS\r\n"
    "250 8BITMIME\r\n";
const std::string ready = "220 2.0.0 Ready to start TLS\r\n";

// A dialogue as one end recorded it, up to STARTTLS, then inside TLS.
Transcript dialogue(const std::string& to_client, const std::string& to_server,
                    const std::string& tls_to_client =
                        "250-reflector.example\r\n250 8BITMIME\r\n"
                        "221 2.0.0 Bye\r\n",
                    const std::string& tls_to_server = ehlo_cmd + "QUIT\r\n") {
  Transcript t;
  t.plain.to_client.append(to_client);
  t.plain.to_server.append(to_server);
  t.tls.to_client.append(tls_to_client);
  t.tls.to_server.append(tls_to_server);
  return t;
}

Transcript reflector_side() {
  return dialogue(banner + ehlo_reply + ready, ehlo_cmd + "STARTTLS\r\n");
}

// Findings by name, so that a failing check prints something readable.
std::string name(TranscriptFinding f) {
  switch (f) {
    case TranscriptFinding::banner_rewritten:
      return "banner_rewritten";
    case TranscriptFinding::starttls_removed:
      return "starttls_removed";
    case TranscriptFinding::starttls_masked:
      return "starttls_masked";
    case TranscriptFinding::ehlo_reply_altered:
      return "ehlo_reply_altered";
    case TranscriptFinding::command_altered:
      return "command_altered";
    case TranscriptFinding::reply_altered:
      return "reply_altered";
    case TranscriptFinding::starttls_command_altered:
      return "starttls_command_altered";
    case TranscriptFinding::tls_phase_altered:
      return "tls_phase_altered";
  }
  return "?";
}

using Names = std::vector<std::string>;

Names findings(const std::vector<TranscriptDifference>& diffs) {
  Names out;
  for (const auto& d : diffs) out.push_back(name(d.finding));
  return out;
}

std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  BOOST_TEST_REQUIRE(at != std::string::npos, from);
  return s.replace(at, from.size(), to);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(transcript)

BOOST_AUTO_TEST_CASE(capped_bytes_keep_the_prefix_and_count_everything) {
  CappedBytes b;
  b.cap = 5;
  b.append("abc");
  BOOST_TEST(!b.truncated());
  b.append("defgh");
  b.append("ijk");
  BOOST_TEST(b.kept == "abcde");
  BOOST_TEST(b.total == 11u);
  BOOST_TEST(b.truncated());
  CappedBytes d;
  BOOST_TEST(d.cap == limits::transcript_cap);
  d.append(std::string(limits::transcript_cap + 10, 'x'));
  BOOST_TEST(d.kept.size() == limits::transcript_cap);
}

BOOST_AUTO_TEST_CASE(identical_views_differ_in_nothing) {
  BOOST_TEST(compare_transcripts(reflector_side(), reflector_side()).empty());
}

BOOST_AUTO_TEST_CASE(truncation_and_early_end_are_not_changes) {
  auto reflector = reflector_side();
  // The reflector kept less (smaller cap) than the client saw.
  Transcript capped;
  capped.plain.to_client.cap = 30;
  capped.plain.to_client.append(banner + ehlo_reply + ready);
  capped.plain.to_server.cap = 10;
  capped.plain.to_server.append(ehlo_cmd + "STARTTLS\r\n");
  capped.tls = reflector.tls;
  BOOST_TEST(capped.plain.to_client.truncated());
  BOOST_TEST(compare_transcripts(reflector, capped).empty());
  BOOST_TEST(compare_transcripts(capped, reflector).empty());
  // The client's view ended early (connection cut after the banner); no TLS phase at all.
  const auto cut = dialogue(banner, "", "", "");
  BOOST_TEST(compare_transcripts(cut, reflector).empty());
}

BOOST_AUTO_TEST_CASE(a_client_that_closes_after_quit_saw_no_change) {
  // The probe sends QUIT and closes without reading the 221 (smtp_client_dialogue.cpp):
  // its view ends with QUIT sent and no reply; the reflector's holds the 221. That is
  // the dialogue ending on the client's side, not a reply removed on the way.
  const auto client = dialogue(banner + ehlo_reply + ready, ehlo_cmd + "STARTTLS\r\n",
                               "250-reflector.example\r\n250 8BITMIME\r\n");
  BOOST_TEST(compare_transcripts(client, reflector_side()).empty());
  // Same on implicit TLS, where the whole dialogue is in the TLS phase.
  const auto implicit_client =
      dialogue("", "", banner + "250-reflector.example\r\n250 8BITMIME\r\n");
  const auto implicit_reflector =
      dialogue("", "", banner + "250-reflector.example\r\n250 8BITMIME\r\n221 2.0.0 Bye\r\n");
  BOOST_TEST(compare_transcripts(implicit_client, implicit_reflector).empty());
  // A 221 that arrived changed still counts: the comparison covers what both kept.
  const auto changed = dialogue("", "", banner + "250-reflector.example\r\n250 8BITMIME\r\n221 X");
  BOOST_TEST(!compare_transcripts(changed, implicit_reflector).empty());
}

BOOST_AUTO_TEST_CASE(rewritten_banner) {
  const auto client = dialogue("220 relay.isp.example ESMTP Postfix\r\n" + ehlo_reply + ready,
                               ehlo_cmd + "STARTTLS\r\n");
  const auto diffs = compare_transcripts(client, reflector_side());
  BOOST_TEST_REQUIRE(diffs.size() == 1u);
  BOOST_TEST(name(diffs[0].finding) == "banner_rewritten");
  BOOST_TEST(diffs[0].detail.find("\"220 reflector.example ESMTP egress25-reflector\"") !=
                 std::string::npos,
             diffs[0].detail);
  BOOST_TEST(diffs[0].detail.find("\"220 relay.isp.example ESMTP Postfix\"") != std::string::npos,
             diffs[0].detail);
}

BOOST_AUTO_TEST_CASE(banner_second_line_of_a_multi_line_greeting) {
  const auto reflector =
      dialogue("220-reflector.example\r\n220 egress25\r\n" + ehlo_reply, ehlo_cmd);
  const auto client = dialogue("220-reflector.example\r\n220 rewritten\r\n" + ehlo_reply, ehlo_cmd);
  BOOST_TEST(findings(compare_transcripts(client, reflector)) == Names{"banner_rewritten"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(starttls_removed_from_the_middle) {
  const auto client = dialogue(banner + replaced(ehlo_reply, "250-STARTTLS\r\n", "") + ready,
                               ehlo_cmd + "STARTTLS\r\n");
  const auto diffs = compare_transcripts(client, reflector_side());
  BOOST_TEST_REQUIRE(diffs.size() == 1u);
  BOOST_TEST(name(diffs[0].finding) == "starttls_removed");
  BOOST_TEST(diffs[0].detail.find("\"250-STARTTLS\"") != std::string::npos, diffs[0].detail);
}

BOOST_AUTO_TEST_CASE(starttls_removed_as_the_last_line) {
  // Removing the last line forces the middlebox to turn "250-8BITMIME" into "250 8BITMIME":
  // the first differing byte is on the line before STARTTLS.
  const auto reflector = dialogue(banner +
                                      "250-reflector.example\r\n250-8BITMIME\r\n"
                                      "250 STARTTLS\r\n",
                                  ehlo_cmd);
  const auto client = dialogue(banner + "250-reflector.example\r\n250 8BITMIME\r\n", ehlo_cmd);
  BOOST_TEST(findings(compare_transcripts(client, reflector)) == Names{"starttls_removed"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(starttls_masked_in_place) {
  const auto client =
      dialogue(banner + replaced(ehlo_reply, "250-STARTTLS", "250-XXXXXXXA") + ready,
               ehlo_cmd + "STARTTLS\r\n");
  const auto diffs = compare_transcripts(client, reflector_side());
  BOOST_TEST_REQUIRE(diffs.size() == 1u);
  BOOST_TEST(name(diffs[0].finding) == "starttls_masked");
  BOOST_TEST(diffs[0].detail.find("\"250-XXXXXXXA\"") != std::string::npos, diffs[0].detail);
}

BOOST_AUTO_TEST_CASE(other_ehlo_changes) {
  const auto client = dialogue(banner + replaced(ehlo_reply, "250-PIPELINING\r\n", "") + ready,
                               ehlo_cmd + "STARTTLS\r\n");
  BOOST_TEST(findings(compare_transcripts(client, reflector_side())) == Names{"ehlo_reply_altered"},
             boost::test_tools::per_element());
  const auto client2 = dialogue(banner + replaced(ehlo_reply, "SIZE 10240000", "SIZE 1") + ready,
                                ehlo_cmd + "STARTTLS\r\n");
  BOOST_TEST(
      findings(compare_transcripts(client2, reflector_side())) == Names{"ehlo_reply_altered"},
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(starttls_cut_off_by_the_cap_is_not_called_removed) {
  // The client kept only part of the EHLO reply: STARTTLS may be past its cap.
  Transcript client;
  client.plain.to_client.cap = banner.size() + 30;
  client.plain.to_client.append(banner + replaced(ehlo_reply, "example\r\n", "exampl3\r\n"));
  const auto diffs = compare_transcripts(client, reflector_side());
  BOOST_TEST_REQUIRE(diffs.size() == 1u);
  BOOST_TEST(name(diffs[0].finding) == "ehlo_reply_altered");
}

BOOST_AUTO_TEST_CASE(changed_commands) {
  const auto reflector_saw_other_ehlo =
      dialogue(banner + ehlo_reply + ready, "EHLO mail.isp.example\r\nSTARTTLS\r\n");
  const auto client = reflector_side();
  auto diffs = compare_transcripts(client, reflector_saw_other_ehlo);
  BOOST_TEST_REQUIRE(diffs.size() == 1u);
  BOOST_TEST(name(diffs[0].finding) == "command_altered");
  BOOST_TEST(diffs[0].detail.find("\"EHLO mail.isp.example\"") != std::string::npos);

  const auto reflector_saw_xxxx = dialogue(banner + ehlo_reply + ready, ehlo_cmd + "XXXXXXXX\r\n");
  diffs = compare_transcripts(client, reflector_saw_xxxx);
  BOOST_TEST_REQUIRE(diffs.size() == 1u);
  BOOST_TEST(name(diffs[0].finding) == "starttls_command_altered");
  BOOST_TEST(diffs[0].detail.find("\"XXXXXXXX\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(other_reply_changes) {
  const auto client =
      dialogue(banner + ehlo_reply + "454 4.7.0 TLS not available\r\n", ehlo_cmd + "STARTTLS\r\n");
  const auto diffs = compare_transcripts(client, reflector_side());
  BOOST_TEST_REQUIRE(diffs.size() == 1u);
  BOOST_TEST(name(diffs[0].finding) == "reply_altered");
  BOOST_TEST(diffs[0].detail.find("454 4.7.0") != std::string::npos);
  // After HELO the second reply is not an EHLO reply.
  const auto helo_reflector = dialogue(banner + "250 reflector.example\r\n", "HELO x\r\n");
  const auto helo_client = dialogue(banner + "250 elsewhere\r\n", "HELO x\r\n");
  BOOST_TEST(findings(compare_transcripts(helo_client, helo_reflector)) == Names{"reply_altered"},
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(tls_phase_changes) {
  auto client = reflector_side();
  client.tls.to_client = {};
  client.tls.to_client.append("250-mitm.example\r\n250 8BITMIME\r\n221 Bye\r\n");
  const auto diffs = compare_transcripts(client, reflector_side());
  BOOST_TEST_REQUIRE(diffs.size() == 1u);
  BOOST_TEST(name(diffs[0].finding) == "tls_phase_altered");
  BOOST_TEST(diffs[0].detail.find("mitm.example") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(one_finding_per_changed_stream) {
  const auto client = dialogue("220 relay.isp.example\r\n" + ehlo_reply + ready,
                               ehlo_cmd + "STARTTLS\r\n", "250 other\r\n", ehlo_cmd + "QUIT\r\n");
  const auto reflector = dialogue(banner + ehlo_reply + ready, "EHLO rewritten\r\nSTARTTLS\r\n");
  BOOST_TEST(findings(compare_transcripts(client, reflector)) ==
                 (Names{"banner_rewritten", "command_altered", "tls_phase_altered"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(details_never_carry_raw_peer_bytes) {
  const auto client = dialogue("220 \x1b[31mevil\x07\xff\r\n", "");
  const auto reflector = dialogue(banner, "");
  const auto diffs = compare_transcripts(client, reflector);
  BOOST_TEST_REQUIRE(diffs.size() == 1u);
  const auto& d = diffs[0].detail;
  BOOST_TEST(d.find("\\x1b[31mevil\\x07\\xff") != std::string::npos, d);
  BOOST_TEST(std::all_of(d.begin(), d.end(), [](char c) { return c >= 0x20 && c < 0x7f; }));
}

BOOST_AUTO_TEST_CASE(printable_escapes_and_caps) {
  BOOST_TEST(printable("EHLO x\r\n") == "EHLO x\\x0d\\x0a");
  BOOST_TEST(printable(std::string("a\0b", 3)) == "a\\x00b");
  BOOST_TEST(printable("\xff\x7f") == "\\xff\\x7f");
  BOOST_TEST(printable("abcdef", 6) == "abcdef");
  BOOST_TEST(printable("abcdefg", 6) == "abcdef...");
  // An escape is never cut in half.
  BOOST_TEST(printable("abc\x01", 5) == "abc...");
  BOOST_TEST(printable(std::string(1000, 'x')).size() == 123u);
}

BOOST_AUTO_TEST_SUITE_END()
