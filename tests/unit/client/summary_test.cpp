// Unit tests for the client's closing summary: verdict tables in, plain advice out.
#include <boost/test/unit_test.hpp>

#include "summary.hpp"

using namespace egress25;
using namespace egress25::client;

namespace {

SummaryRow row(std::uint16_t port, std::string service, Verdict verdict,
               Location location = Location::none, Family family = Family::ipv4) {
  SummaryRow r;
  r.port = port;
  r.service = std::move(service);
  r.family = family;
  r.verdict = verdict;
  r.location = location;
  return r;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(summary)

BOOST_AUTO_TEST_CASE(all_open_says_nothing_blocks) {
  SummaryInput input{"reflector.example",
                     true,
                     {row(25, "smtp", Verdict::open), row(465, "smtps", Verdict::open),
                      row(587, "submission", Verdict::open)}};
  auto text = summarize(input);
  BOOST_TEST(contains(text, "Nothing blocks outbound mail"), text);
  BOOST_TEST(contains(text, "25 (smtp), 465 (smtps) and 587 (submission) are open"), text);
  BOOST_TEST(contains(text, "deliver mail directly on port 25"), text);
}

BOOST_AUTO_TEST_CASE(port_25_dropped_points_to_the_relay_ports) {
  SummaryInput input{"r",
                     true,
                     {row(25, "smtp", Verdict::dropped, Location::path),
                      row(465, "smtps", Verdict::open), row(587, "submission", Verdict::open)}};
  auto text = summarize(input);
  BOOST_TEST(contains(text,
                      "Your network blocks outbound port 25 (smtp) over IPv4 (dropped on "
                      "the path)."),
             text);
  BOOST_TEST(contains(text,
                      "Send mail through your provider's relay on 465 (smtps) or 587 "
                      "(submission), which are open."),
             text);
  BOOST_TEST(!contains(text, "directly"), text);
}

BOOST_AUTO_TEST_CASE(blocking_hop_is_named) {
  auto dropped = row(25, "smtp", Verdict::icmp_unreachable, Location::path);
  dropped.blocking_hop = BlockingHop{3, "198.51.100.1"};
  SummaryInput input{"r", true, {dropped, row(587, "submission", Verdict::open)}};
  auto text = summarize(input);
  BOOST_TEST(contains(text, "refused with an ICMP error on the path, at hop 3 (198.51.100.1)"),
             text);
  BOOST_TEST(contains(text, "on 587 (submission), which is open."), text);
}

BOOST_AUTO_TEST_CASE(nothing_gets_through) {
  SummaryInput input{"r",
                     true,
                     {row(25, "smtp", Verdict::reset, Location::path),
                      row(587, "submission", Verdict::dropped, Location::path)}};
  auto text = summarize(input);
  BOOST_TEST(contains(text, "No probed mail port gets through"), text);
  BOOST_TEST(!contains(text, "relay on"), text);
}

BOOST_AUTO_TEST_CASE(one_family_blocked_names_the_other) {
  SummaryInput input{"r",
                     true,
                     {row(25, "smtp", Verdict::dropped, Location::path, Family::ipv4),
                      row(25, "smtp", Verdict::open, Location::none, Family::ipv6)}};
  auto text = summarize(input);
  BOOST_TEST(contains(text, "port 25 (smtp) over IPv4 (dropped on the path; it is open over IPv6)"),
             text);
  BOOST_TEST(contains(text, "Use the address family on which 25 (smtp) is open"), text);
}

BOOST_AUTO_TEST_CASE(interference_warns_about_cleartext) {
  SummaryInput input{
      "r",
      true,
      {row(25, "smtp", Verdict::tampered, Location::path), row(465, "smtps", Verdict::open)}};
  auto text = summarize(input);
  BOOST_TEST(contains(text, "Something on your network interferes with port 25 (smtp)"), text);
  BOOST_TEST(contains(text, "Do not trust this network with cleartext SMTP"), text);
}

BOOST_AUTO_TEST_CASE(reflector_side_refusal_is_not_the_network) {
  SummaryInput input{"reflector.example",
                     true,
                     {row(25, "smtp", Verdict::open),
                      row(587, "submission", Verdict::not_listening, Location::reflector_host)}};
  auto text = summarize(input);
  BOOST_TEST(contains(text, "Port 587 (submission) was refused by the reflector host itself"),
             text);
  BOOST_TEST(contains(text, "not by your network"), text);
  BOOST_TEST(contains(text, "whoever runs reflector.example"), text);
  BOOST_TEST(!contains(text, "Your network blocks"), text);
}

BOOST_AUTO_TEST_CASE(inconclusive_asks_for_more_evidence) {
  SummaryInput input{"r", true, {row(25, "smtp", Verdict::inconclusive, Location::unknown)}};
  auto text = summarize(input);
  BOOST_TEST(contains(text, "Port 25 (smtp) could not be judged"), text);
  BOOST_TEST(contains(text, "Run the check again"), text);
}

BOOST_AUTO_TEST_CASE(unreachable_control_port) {
  SummaryInput input{"reflector.example", false, {}};
  auto text = summarize(input);
  BOOST_TEST(contains(text, "Nothing was measured"), text);
  BOOST_TEST(contains(text, "egress25-reflector is running on reflector.example"), text);
}

BOOST_AUTO_TEST_CASE(text_is_trimmed) {
  SummaryInput input{"r", true, {row(25, "smtp", Verdict::dropped, Location::path)}};
  auto text = summarize(input);
  BOOST_TEST(!text.empty());
  BOOST_TEST(text.back() == '.');
}

BOOST_AUTO_TEST_SUITE_END()
