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
  BOOST_TEST(contains(text, "refused with an ICMP error on the path, at hop 3, 198.51.100.1"),
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

DestinationRow destination(std::string host, Verdict verdict, Location location,
                           std::string reason = "", Family family = Family::ipv4) {
  return DestinationRow{std::move(host), family, verdict, location, std::move(reason)};
}

BOOST_AUTO_TEST_CASE(destination_open_names_its_hosts) {
  auto text = destination_sentence(
      "example.org", 25,
      {destination("mx1.example.org", Verdict::open, Location::none),
       destination("mx1.example.org", Verdict::open, Location::none, "", Family::ipv6),
       destination("mx2.example.org", Verdict::open, Location::none)});
  BOOST_TEST(text ==
                 "The destination example.org accepts connections on port 25 (mx1.example.org, "
                 "mx2.example.org).",
             text);
}

BOOST_AUTO_TEST_CASE(destination_blocked_at_destination_is_not_your_network) {
  auto text =
      destination_sentence("example.org", 25,
                           {destination("mx1.example.org", Verdict::dropped, Location::destination),
                            destination("mx2.example.org", Verdict::open, Location::none)});
  BOOST_TEST(contains(text, "does not accept connections on port 25"), text);
  BOOST_TEST(contains(text, "mx1.example.org over IPv4: dropped at the destination"), text);
  BOOST_TEST(contains(text, "though mx2.example.org does"), text);
  BOOST_TEST(contains(text, "on the destination's side, not yours"), text);

  text = destination_sentence(
      "192.0.2.25", 2525,
      {destination("192.0.2.25", Verdict::not_listening, Location::destination)});
  BOOST_TEST(contains(text, "port 2525 (192.0.2.25 over IPv4: refused: nothing listens there)"),
             text);
  BOOST_TEST(!contains(text, "reflector host"), text);
}

BOOST_AUTO_TEST_CASE(destination_unjudged_says_why) {
  auto text = destination_sentence(
      "nonexistent.example", 25,
      {destination("nonexistent.example", Verdict::inconclusive, Location::unknown,
                   "the probe could not be sent: cannot resolve nonexistent.example.")});
  BOOST_TEST(text ==
                 "The destination nonexistent.example could not be judged on port 25: the probe "
                 "could not be sent: cannot resolve nonexistent.example.",
             text);

  text = destination_sentence("example.org", 25,
                              {destination("mx1.example.org", Verdict::open, Location::none),
                               destination("mx1.example.org", Verdict::inconclusive,
                                           Location::unknown, "no IPv6", Family::ipv6)});
  BOOST_TEST(contains(text, "accepts connections on port 25 (mx1.example.org)"), text);
  BOOST_TEST(contains(text, "mx1.example.org over IPv6 could not be judged"), text);
}

BOOST_AUTO_TEST_CASE(destination_blocked_on_the_path) {
  auto text = destination_sentence(
      "example.org", 25,
      {destination("mx1.example.org", Verdict::icmp_unreachable, Location::path)});
  BOOST_TEST(contains(text, "cannot be reached on port 25"), text);
  BOOST_TEST(contains(text, "points at the path rather than at the destination"), text);
  BOOST_TEST(destination_sentence("example.org", 25, {}).empty());
}

BOOST_AUTO_TEST_SUITE_END()
