// Unit tests for the client's closing summary: verdict tables in, plain advice out.
#include <boost/test/unit_test.hpp>

#include "attribution.hpp"
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

SummaryRow on_path(std::uint16_t port, std::string service, Verdict verdict, Segment segment,
                   std::optional<BlockingHop> hop = std::nullopt, Family family = Family::ipv4) {
  SummaryRow r = row(port, std::move(service), verdict, Location::path, family);
  r.segment = segment;
  r.blocking_hop = std::move(hop);
  return r;
}

SummaryInput input(std::string host, std::vector<SummaryRow> rows, bool reached = true) {
  SummaryInput in;
  in.reflector_host = std::move(host);
  in.control_reached = reached;
  in.rows = std::move(rows);
  return in;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const BlockingHop home_router{1, "192.0.2.1", "home router", Segment::local_network};
const BlockingHop isp_router{3, "198.51.100.2", "ISP or transit network", Segment::upstream};
const BlockingHop provider_router{4, "198.51.100.6", "in front of the reflector",
                                  Segment::reflector_network};

}  // namespace

BOOST_AUTO_TEST_SUITE(summary)

BOOST_AUTO_TEST_CASE(all_open_says_nothing_blocks) {
  auto text = summarize(
      input("reflector.example", {row(25, "smtp", Verdict::open), row(465, "smtps", Verdict::open),
                                  row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text, "Nothing blocks outbound mail"), text);
  BOOST_TEST(contains(text, "25 (smtp), 465 (smtps) and 587 (submission) are open"), text);
  BOOST_TEST(contains(text, "deliver mail directly on port 25"), text);
}

BOOST_AUTO_TEST_CASE(isp_block_names_the_isp_and_the_relay_ports) {
  auto text = summarize(
      input("r", {on_path(25, "smtp", Verdict::dropped, Segment::upstream, isp_router),
                  row(465, "smtps", Verdict::open), row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text,
                      "Your ISP (or a network beyond it) blocks outbound port 25 (smtp) over IPv4 "
                      "(dropped on the path, at hop 3, 198.51.100.2)."),
             text);
  BOOST_TEST(contains(text,
                      "Send mail through your provider's relay on 465 (smtps) or 587 "
                      "(submission), which are open, or ask your ISP to open the others."),
             text);
  BOOST_TEST(!contains(text, "directly"), text);
}

BOOST_AUTO_TEST_CASE(home_router_block_points_at_the_home_router) {
  auto text = summarize(
      input("r", {on_path(25, "smtp", Verdict::dropped, Segment::local_network, home_router),
                  row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text, "Your home network blocks outbound port 25 (smtp)"), text);
  BOOST_TEST(contains(text, "at hop 1, 192.0.2.1"), text);
  BOOST_TEST(contains(text, "Check your home router's firewall"), text);
  BOOST_TEST(!contains(text, "ISP"), text);
}

BOOST_AUTO_TEST_CASE(block_in_front_of_the_reflector_is_its_hosting_provider) {
  auto text = summarize(input("vps.example", {on_path(25, "smtp", Verdict::dropped,
                                                      Segment::reflector_network, provider_router),
                                              row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text, "The reflector's hosting provider blocks port 25 (smtp)"), text);
  BOOST_TEST(contains(text, "your own network lets it through"), text);
  BOOST_TEST(contains(text, "Whoever runs vps.example should ask its hosting provider"), text);
  BOOST_TEST(!contains(text, "Your network"), text);
  BOOST_TEST(!contains(text, "Your ISP"), text);
  BOOST_TEST(!contains(text, "relay on"), text);
}

BOOST_AUTO_TEST_CASE(this_computers_firewall) {
  auto text = summarize(input("r", {row(25, "smtp", Verdict::dropped, Location::client_host),
                                    row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text, "This computer stops outbound port 25 (smtp)"), text);
  BOOST_TEST(contains(text, "this computer's firewall or security software"), text);
  BOOST_TEST(!contains(text, "ISP"), text);
}

BOOST_AUTO_TEST_CASE(silent_router_is_never_the_culprit_alone) {
  auto r = on_path(25, "smtp", Verdict::dropped, Segment::unknown);
  r.candidates = {home_router,
                  BlockingHop{2, "", "a router that does not answer traceroute", Segment::unknown}};
  auto text = summarize(input("r", {r, row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text,
                      "at your home router (hop 1, 192.0.2.1) or just after it, at a router that "
                      "does not answer traceroute (hop 2)"),
             text);
  BOOST_TEST(contains(text, "Something on the path blocks"), text);
  BOOST_TEST(!contains(text, "Your home network"), text);
}

// A forwarding filter at the home router and the ISP's inbound filter look the same:
// both are named, each with its advice, and the ISP's router by its address.
BOOST_AUTO_TEST_CASE(home_router_or_isp_names_both) {
  auto r = on_path(25, "smtp", Verdict::dropped, Segment::unknown);
  r.candidates = {home_router,
                  BlockingHop{2, "100.64.0.1", "ISP (shared address space)", Segment::upstream}};
  auto text = summarize(input("r", {r, row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text,
                      "Your home network or your ISP (or a network beyond it) blocks "
                      "outbound port 25 (smtp)"),
             text);
  BOOST_TEST(contains(text,
                      "at your home router (hop 1, 192.0.2.1) or just after it, at hop 2 "
                      "(100.64.0.1)"),
             text);
  BOOST_TEST(contains(text, "Check your home router's firewall"), text);
  BOOST_TEST(contains(text, "ask your ISP"), text);
  BOOST_TEST(!contains(text, "Something on the path"), text);
}

// Not even TTL 1 answered and the kernel did not say whether the SYN left: this computer
// or the first router, both named, with the advice for each.
BOOST_AUTO_TEST_CASE(this_computer_or_the_home_router) {
  auto r = row(25, "smtp", Verdict::dropped, Location::unknown);
  r.candidates = {BlockingHop{0, "", "this computer", Segment::unknown}, home_router};
  auto text = summarize(input("r", {r, row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text, "This computer or your home network blocks outbound port 25"), text);
  BOOST_TEST(contains(text, "at this computer or just after it, at your home router (hop 1"), text);
  BOOST_TEST(contains(text, "this computer's firewall or security software"), text);
  BOOST_TEST(contains(text, "Check your home router's firewall"), text);
}

// On a server or a VPS the first router is its provider's, not a home router.
BOOST_AUTO_TEST_CASE(a_servers_gateway_is_not_called_a_home_router) {
  const BlockingHop gateway{1, "203.0.113.1", std::string(gateway_not_home_router),
                            Segment::local_network};
  auto text =
      summarize(input("r", {on_path(25, "smtp", Verdict::dropped, Segment::local_network, gateway),
                            row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text, "Your network's gateway (on a server, your provider's) blocks"), text);
  BOOST_TEST(contains(text, "Ask whoever runs this network to open these ports"), text);
  BOOST_TEST(!contains(text, "home"), text);
}

BOOST_AUTO_TEST_CASE(relay_says_mail_leaves_from_another_address) {
  auto r = on_path(25, "smtp", Verdict::proxied, Segment::upstream, isp_router);
  r.arrived_from = "198.51.100.2";
  auto r6 = r;
  r6.family = Family::ipv6;
  r6.arrived_from = "2001:db8::2";
  auto text = summarize(input("r", {r, r6, row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text,
                      "Your ISP (or a network beyond it) relays port 25 (smtp) over IPv4 "
                      "and IPv6 from another address (198.51.100.2 and 2001:db8::2)"),
             text);
  BOOST_TEST(contains(text, "leaves from those addresses, not yours"), text);
  BOOST_TEST(contains(text, "SPF"), text);
}

BOOST_AUTO_TEST_CASE(the_reflectors_own_refusal_is_not_a_block) {
  auto r = row(25, "smtp", Verdict::inconclusive, Location::unknown);
  r.refused_by_reflector = true;
  auto r587 = r;
  r587.port = 587;
  r587.service = "submission";
  auto text = summarize(
      input("r", {r, r587, row(25, "smtp", Verdict::open, Location::none, Family::ipv6)}));
  // One sentence for every port refused, not one per port.
  BOOST_TEST(contains(text,
                      "Ports 25 (smtp) and 587 (submission) could not be judged over IPv4: the "
                      "reflector refused your address for its own limits"),
             text);
  BOOST_TEST(text.find("own limits") == text.rfind("own limits"), text);
  BOOST_TEST(!contains(text, "interferes"), text);
  BOOST_TEST(!contains(text, "blocks"), text);
}

BOOST_AUTO_TEST_CASE(unplaced_drop_does_not_blame_your_network) {
  auto text = summarize(input("r", {row(25, "smtp", Verdict::dropped, Location::unknown),
                                    row(587, "submission", Verdict::open)}));
  BOOST_TEST(contains(text, "where it is stopped is unknown"), text);
  BOOST_TEST(!contains(text, "Your network"), text);
  BOOST_TEST(contains(text, "--trace"), text);
}

BOOST_AUTO_TEST_CASE(a_family_this_host_cannot_use_is_one_sentence) {
  auto in = input("r", {row(25, "smtp", Verdict::open)});
  in.not_probed = {"this host has no IPv6 route to 2001:db8::5"};
  auto text = summarize(in);
  BOOST_TEST(contains(text, "Nothing blocks outbound mail"), text);
  BOOST_TEST(contains(text,
                      "This host has no IPv6 route to 2001:db8::5, so that family was not "
                      "checked."),
             text);
}

BOOST_AUTO_TEST_CASE(nothing_gets_through) {
  auto text =
      summarize(input("r", {on_path(25, "smtp", Verdict::reset, Segment::upstream),
                            on_path(587, "submission", Verdict::dropped, Segment::upstream)}));
  BOOST_TEST(contains(text, "No probed mail port gets through"), text);
  BOOST_TEST(!contains(text, "relay on"), text);
}

BOOST_AUTO_TEST_CASE(one_family_blocked_names_the_other) {
  auto text = summarize(input(
      "r", {on_path(25, "smtp", Verdict::dropped, Segment::upstream, std::nullopt, Family::ipv4),
            row(25, "smtp", Verdict::open, Location::none, Family::ipv6)}));
  BOOST_TEST(contains(text, "port 25 (smtp) over IPv4 (dropped on the path; it is open over IPv6)"),
             text);
  BOOST_TEST(contains(text, "Use the address family on which 25 (smtp) is open"), text);
}

BOOST_AUTO_TEST_CASE(interference_warns_about_cleartext) {
  auto text = summarize(input("r", {on_path(25, "smtp", Verdict::tampered, Segment::unknown),
                                    row(465, "smtps", Verdict::open)}));
  BOOST_TEST(contains(text, "Something on the path interferes with port 25 (smtp)"), text);
  BOOST_TEST(contains(text, "Do not trust this network with cleartext SMTP"), text);
}

BOOST_AUTO_TEST_CASE(reflector_side_refusal_is_not_the_network) {
  auto text =
      summarize(input("reflector.example",
                      {row(25, "smtp", Verdict::open),
                       row(587, "submission", Verdict::not_listening, Location::reflector_host)}));
  BOOST_TEST(contains(text, "Port 587 (submission) was refused by the reflector host itself"),
             text);
  BOOST_TEST(contains(text, "not by your network"), text);
  BOOST_TEST(contains(text, "whoever runs reflector.example"), text);
  BOOST_TEST(!contains(text, "blocks"), text);
}

BOOST_AUTO_TEST_CASE(inconclusive_asks_for_more_evidence) {
  auto text = summarize(input("r", {row(25, "smtp", Verdict::inconclusive, Location::unknown)}));
  BOOST_TEST(contains(text, "Port 25 (smtp) could not be judged"), text);
  BOOST_TEST(contains(text, "Run the check again"), text);
}

BOOST_AUTO_TEST_CASE(unreachable_control_port) {
  auto text = summarize(input("reflector.example", {}, false));
  BOOST_TEST(contains(text, "Nothing was measured"), text);
  BOOST_TEST(contains(text, "egress25-reflector is running on reflector.example"), text);
}

BOOST_AUTO_TEST_CASE(text_is_trimmed) {
  auto text = summarize(input("r", {on_path(25, "smtp", Verdict::dropped, Segment::upstream)}));
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
