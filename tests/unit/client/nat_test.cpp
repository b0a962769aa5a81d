// Unit tests for the carrier-grade NAT judgement: one row per rule, in the order it
// applies, and what each row must say.
#include <boost/test/unit_test.hpp>

#include "nat.hpp"

using namespace egress25;
using namespace egress25::client;

namespace {

// Both ports' traces alike, each hop answering from `addresses` ("" silent).
PathTrace trace_of(std::vector<std::string> addresses) {
  PortTrace t;
  t.port = 25;
  int ttl = 0;
  for (auto& a : addresses) {
    TraceHop hop;
    hop.ttl = ++ttl;
    hop.address = a;
    hop.kind = a.empty() ? HopKind::silent : HopKind::time_exceeded;
    t.hops.push_back(hop);
  }
  PathTrace both{t, t};
  both.reference.port = 7025;
  return both;
}

GatewayAnswer answer(std::string protocol, std::optional<std::string> external,
                     std::string error = "") {
  return {std::move(protocol), std::move(external), external ? "192.0.2.1" : "", std::move(error)};
}

// A home behind its own router: private address, the router at 192.0.2.1.
NatEvidence home(std::string seen) {
  NatEvidence e;
  e.public_ipv4 = std::move(seen);
  e.local_ipv4 = {"192.0.2.10"};
  e.host.gateway = "192.0.2.1";
  e.host.local_addresses = {"192.0.2.10"};
  return e;
}

struct Row {
  std::string name;
  NatEvidence evidence;
  std::optional<bool> cgnat;
  std::optional<std::string> external;
  std::string reason_contains;
  bool isp_nat = false;  // the address seen is the ISP's NAT, not the home router's
};

}  // namespace

BOOST_AUTO_TEST_SUITE(nat)

BOOST_AUTO_TEST_CASE(each_rule_in_order) {
  std::vector<Row> rows;
  rows.push_back({"no IPv4 view", NatEvidence{}, std::nullopt, std::nullopt,
                  "no IPv4 connection reached the reflector"});
  rows.push_back({"the reflector saw a shared address", home("100.64.7.9"), true, std::nullopt,
                  "100.64.7.9, an address in the shared space"});
  {
    auto e = home("198.51.100.7");
    e.local_ipv4 = {"198.51.100.7"};
    rows.push_back({"this computer holds the public address", e, false, std::nullopt,
                    "this computer holds 198.51.100.7"});
  }
  {
    auto e = home("198.51.100.7");
    e.local_ipv4 = {"100.80.1.2"};
    rows.push_back({"this computer is in shared space", e, true, std::nullopt,
                    "reaches the reflector from 100.80.1.2", true});
  }
  {
    auto e = home("198.51.100.7");
    e.gateway_answers = {answer("UPnP-IGD", "198.51.100.7")};
    rows.push_back({"the router holds the address seen", e, false, "198.51.100.7",
                    "the router itself faces the internet"});
  }
  {
    auto e = home("198.51.100.7");
    e.gateway_answers = {answer("NAT-PMP", "100.64.0.2")};
    rows.push_back({"the router's WAN is shared", e, true, "100.64.0.2", "NAT-PMP", true});
  }
  {
    auto e = home("198.51.100.7");
    e.gateway_answers = {answer("UPnP-IGD", "203.0.113.99")};
    rows.push_back({"the router's address is another public one", e, true, "203.0.113.99",
                    "translates again", true});
  }
  {
    auto e = home("198.51.100.7");
    e.gateway_answers = {answer("UPnP-IGD", "198.51.100.7"), answer("NAT-PMP", "100.64.0.2")};
    rows.push_back({"the router's answers disagree", e, std::nullopt, "198.51.100.7", "disagree"});
  }
  {
    // A router answer that the address is the one seen beats a shared hop: some ISPs
    // number their own routers from shared space while customers have public addresses.
    auto e = home("198.51.100.7");
    e.gateway_answers = {answer("UPnP-IGD", "198.51.100.7")};
    e.traces = {trace_of({"192.0.2.1", "100.64.0.1", "198.51.100.1"})};
    rows.push_back(
        {"the router's word beats a shared hop", e, false, "198.51.100.7", "faces the internet"});
  }
  {
    auto e = home("198.51.100.7");
    e.gateway_answers = {answer("UPnP-IGD", "0.0.0.0")};
    e.traces = {trace_of({"192.0.2.1", "", "100.64.0.1", "198.51.100.1"})};
    rows.push_back({"first hop past the local network in shared space", e, true, std::nullopt,
                    "hop 3, 100.64.0.1", true});
  }
  {
    // The same hop without the router's word: carrier-grade NAT, but whose the address
    // seen is stays open (an ISP may number its routers from shared space).
    auto e = home("198.51.100.7");
    e.traces = {trace_of({"192.0.2.1", "100.64.0.1", "198.51.100.1"})};
    rows.push_back({"a shared hop alone", e, true, std::nullopt,
                    "cannot be told without your router's own word", false});
  }
  {
    // A shared hop further on, after a public one, is the ISP's own numbering: no evidence.
    auto e = home("198.51.100.7");
    e.traces = {trace_of({"192.0.2.1", "198.51.100.1", "100.64.9.9"})};
    e.gateway_not_asked = "your router was not asked";
    rows.push_back({"a shared hop after a public one", e, std::nullopt, std::nullopt,
                    "without your router's external address that cannot be told"});
  }
  {
    auto e = home("198.51.100.7");
    e.gateway_answers = {answer("NAT-PMP", "10.0.0.2")};
    rows.push_back({"the router's WAN is private", e, std::nullopt, "10.0.0.2",
                    "whose the further NAT is cannot be told"});
  }
  {
    auto e = home("198.51.100.7");
    e.gateway_answers = {
        answer("NAT-PMP", std::nullopt, "no answer from 192.0.2.1 within 2000 ms")};
    rows.push_back({"the router did not answer", e, std::nullopt, std::nullopt,
                    "did not give its external address: no answer"});
  }

  for (const auto& row : rows) {
    BOOST_TEST_CONTEXT(row.name) {
      const auto f = judge_nat(row.evidence);
      BOOST_TEST((f.cgnat == row.cgnat));
      BOOST_TEST((f.gateway_external_address == row.external));
      BOOST_TEST(f.public_address_is_isp_nat == row.isp_nat);
      BOOST_REQUIRE(!row.reason_contains.empty());
      bool found = false;
      for (const auto& r : f.reasons)
        found = found || r.find(row.reason_contains) != std::string::npos;
      std::string all;
      for (const auto& r : f.reasons) all += "\n  " + r;
      BOOST_TEST(found, "no reason contains \"" << row.reason_contains << "\" in:" << all);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_summary_speaks_only_of_a_cgnat_found) {
  NatFinding behind;
  behind.cgnat = true;
  NatFinding free_line;
  free_line.cgnat = false;
  NatFinding unknown;
  BOOST_TEST(nat_sentence(behind, true).find("whatever the inbound tests say") !=
             std::string::npos);
  BOOST_TEST(nat_sentence(behind, false).find("whatever") == std::string::npos);
  BOOST_TEST(nat_sentence(behind, false).find("carrier-grade NAT") != std::string::npos);
  BOOST_TEST(nat_sentence(free_line, true).empty());
  BOOST_TEST(nat_sentence(unknown, true).empty());
}

BOOST_AUTO_TEST_SUITE_END()
