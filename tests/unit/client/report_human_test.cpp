// Unit tests for the human report's layout: the terminal's width, reasons wrapped and never
// cut, every reason with --verbose, the summary alone with --quiet, transcripts.
#include <boost/test/unit_test.hpp>
#include <sstream>

#include "report_human.hpp"
#include "terminal.hpp"

using namespace egress25;
using namespace egress25::client;

namespace {

const std::string long_reason =
    "no answer at all: the SYN was not answered within 4.8 s and the reflector's packet "
    "witness saw nothing of it, so a device on the path before the reflector's network "
    "discarded it silently";

ProbeResult probe(std::uint16_t port, Verdict verdict, Location location,
                  std::vector<std::string> reasons) {
  ProbeResult result;
  result.evidence.client.port = port;
  result.evidence.client.service = port == 25 ? "smtp" : "submission";
  result.evidence.client.address = "192.0.2.1";
  result.classification.verdict = verdict;
  result.classification.location = location;
  result.classification.reasons = std::move(reasons);
  return result;
}

CheckReport sample() {
  CheckReport report;
  report.reflector_host = "vps.example.net";
  report.reflector_version = "0.1.0";
  report.control_endpoint = "192.0.2.1:7025";
  report.control_reached = true;
  report.local_address = "10.0.0.2";
  report.public_ipv4 = "198.51.100.7";
  report.witness_active = true;
  report.probe_timeout_ms = 4800;
  auto dropped = probe(25, Verdict::dropped, Location::path,
                       {long_reason, "the trace stopped after hop 3", "a third reason"});
  dropped.classification.segment = Segment::upstream;
  report.probes.push_back(dropped);
  report.probes.push_back(probe(587, Verdict::open, Location::none, {"both ends agree"}));
  report.summary =
      "Your ISP (or a network beyond it) blocks outbound port 25 (smtp) over "
      "IPv4. Send mail through your provider's relay on 587 (submission), which "
      "is open.";
  return report;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Every word of `text`, in order, somewhere in `out`: wrapped, not cut.
bool all_words_in(const std::string& out, const std::string& text) {
  std::istringstream words(text);
  std::size_t at = 0;
  for (std::string word; words >> word;) {
    at = out.find(word, at);
    if (at == std::string::npos) return false;
  }
  return true;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(report_human)

BOOST_AUTO_TEST_CASE(fits_80_and_200_columns_without_cutting_words) {
  for (std::size_t width : {80u, 200u}) {
    HumanOptions layout;
    layout.width = width;
    auto out = render_human(sample(), layout);
    for (const auto& line : lines_of(out)) BOOST_TEST(line.size() <= width, width << ": " << line);
    BOOST_TEST(all_words_in(out, long_reason), out);
    BOOST_TEST(out.find("...") == std::string::npos, out);  // nothing clipped
    BOOST_TEST(out.find("(+2 more reasons with -v)") != std::string::npos, out);
    BOOST_TEST(out.find("the trace stopped after hop 3") == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(wide_terminals_keep_reasons_beside_their_row) {
  HumanOptions layout;
  layout.width = 200;
  auto out = render_human(sample(), layout);
  BOOST_TEST(out.find("dropped  ISP/upstream  no answer at all") != std::string::npos, out);
  layout.width = 80;  // too narrow for a WHY column: reasons under the row
  out = render_human(sample(), layout);
  BOOST_TEST(out.find("\n    no answer at all") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(verbose_shows_every_reason) {
  HumanOptions layout;
  layout.width = 120;
  layout.every_reason = true;
  auto out = render_human(sample(), layout);
  BOOST_TEST(out.find("- the trace stopped after hop 3") != std::string::npos, out);
  BOOST_TEST(out.find("- a third reason") != std::string::npos, out);
  BOOST_TEST(out.find("more reason") == std::string::npos, out);
  BOOST_TEST(out.find("- both ends agree") == std::string::npos, out);  // one: no mark
}

BOOST_AUTO_TEST_CASE(quiet_is_the_summary_alone) {
  HumanOptions layout;
  layout.width = 60;
  layout.summary_only = true;
  auto out = render_human(sample(), layout);
  BOOST_TEST(out.rfind("Your ISP", 0) == 0, out);
  BOOST_TEST(out.find("PORT") == std::string::npos);
  for (const auto& line : lines_of(out)) BOOST_TEST(line.size() <= 60u, line);
}

BOOST_AUTO_TEST_CASE(wrap_never_cuts_a_word) {
  BOOST_TEST(wrap("aaa bbb ccc", 7, "") == "aaa bbb\nccc\n");
  BOOST_TEST(wrap("a-very-long-word x", 5, "") == "a-very-long-word\nx\n");
  BOOST_TEST(wrap("one two three", 12, "> ", "  ") == "> one two\n  three\n");
}

BOOST_AUTO_TEST_CASE(transcripts_on_request) {
  auto report = sample();
  auto& client = report.probes[1].evidence.client;
  client.connect = ConnectOutcome::connected;
  client.transcript.plain.to_client.append("220 vps ESMTP\r\n250 OK\r\n");
  client.transcript.plain.to_server.append("EHLO x\r\n");
  HumanOptions layout;
  layout.width = 100;
  BOOST_TEST(render_human(report, layout).find("Transcripts") == std::string::npos);
  layout.transcripts = true;
  auto out = render_human(report, layout);
  BOOST_TEST(out.find("Transcripts, escaped") != std::string::npos, out);
  BOOST_TEST(out.find("<- 220 vps ESMTP") != std::string::npos, out);
  BOOST_TEST(out.find("(no report from the reflector") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(report_width_from_the_terminal_or_columns) {
  BOOST_TEST(report_width(std::size_t{132}, "200") == 132u);  // the terminal wins
  BOOST_TEST(report_width(std::nullopt, "200") == 200u);
  BOOST_TEST(report_width(std::nullopt, nullptr) == 80u);
  BOOST_TEST(report_width(std::nullopt, "wide") == 80u);
  BOOST_TEST(report_width(std::nullopt, "10") == min_report_width);
  BOOST_TEST(report_width(std::size_t{20}, nullptr) == min_report_width);
}

BOOST_AUTO_TEST_SUITE_END()
