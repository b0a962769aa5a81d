// Unit tests for the check's pure parts: the default timeout and the exit status.
#include <boost/test/unit_test.hpp>
#include <iterator>
#include <string>
#include <vector>

#include "check.hpp"
#include "control_client.hpp"
#include "destination.hpp"
#include "limits.hpp"

using namespace egress25;
using namespace egress25::client;
using std::chrono::milliseconds;

BOOST_AUTO_TEST_SUITE(client_check)

BOOST_AUTO_TEST_CASE(timeout_follows_the_rtt_within_bounds) {
  // 4 × RTT + 1 s, never below one SYN retransmission, never above the cap.
  BOOST_TEST(timeout_from_rtt(0.2).count() == milliseconds(limits::min_probe_timeout).count());
  BOOST_TEST(timeout_from_rtt(300).count() == 2200);
  BOOST_TEST(timeout_from_rtt(60000).count() == milliseconds(limits::max_probe_timeout).count());
}

BOOST_AUTO_TEST_CASE(control_rtt_is_the_smallest_sample) {
  // A connect that waited 40 ms for neighbour discovery does not set the probe timeout;
  // a sample the kernel could not give (0) is no sample.
  BOOST_TEST(ControlClient::smallest_rtt_sample({41.0, 1.3, 1.1}) == 1.1);
  BOOST_TEST(ControlClient::smallest_rtt_sample({41.0, 1.3, 0.0}) == 1.3);
  BOOST_TEST(ControlClient::smallest_rtt_sample({0.0, 0.0}) == 0.0);
  // Whatever the samples, the timeout never undercuts one SYN retransmission.
  BOOST_TEST(timeout_from_rtt(ControlClient::smallest_rtt_sample({0.0})).count() ==
             milliseconds(limits::min_probe_timeout).count());
}

BOOST_AUTO_TEST_CASE(exit_status_per_contract) {
  CheckReport report;
  report.control_reached = true;
  BOOST_TEST(exit_status(report) == 0);
  ProbeResult open;
  open.classification.verdict = Verdict::open;
  report.probes = {open, open};
  BOOST_TEST(exit_status(report) == 0);
  ProbeResult undecided;
  undecided.classification.verdict = Verdict::inconclusive;
  report.probes.push_back(undecided);
  BOOST_TEST(exit_status(report) == 1);
  report.control_reached = false;
  BOOST_TEST(exit_status(report) == 3);
}

// A DNS answer for example.org MX as a server sends it (names compressed), in an order
// that is not the preference order, with one record more than is probed.
std::vector<unsigned char> mx_answer(bool null_mx) {
  std::vector<unsigned char> m{0x12, 0x34, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0};
  const unsigned char qname[] = {7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'o', 'r', 'g', 0};
  m.insert(m.end(), std::begin(qname), std::end(qname));
  m.insert(m.end(), {0, 15, 0, 1});
  auto add = [&](unsigned preference, std::string label) {
    m.insert(m.end(), {0xc0, 12, 0, 15, 0, 1, 0, 0, 0x0e, 0x10});
    // rdata: preference, then `label` and a pointer to example.org (or the root alone)
    const std::size_t rdlen = label.empty() ? 3 : 2 + 1 + label.size() + 2;
    m.push_back(0);
    m.push_back(static_cast<unsigned char>(rdlen));
    m.push_back(static_cast<unsigned char>(preference >> 8));
    m.push_back(static_cast<unsigned char>(preference & 0xff));
    if (label.empty()) {
      m.push_back(0);
    } else {
      m.push_back(static_cast<unsigned char>(label.size()));
      m.insert(m.end(), label.begin(), label.end());
      m.insert(m.end(), {0xc0, 12});
    }
    ++m[7];  // ANCOUNT
  };
  if (null_mx) {
    add(0, "");
  } else {
    add(20, "mx2");
    add(40, "mx4");
    add(10, "mx1");
    add(30, "mx3");
  }
  return m;
}

BOOST_AUTO_TEST_CASE(mx_answer_lowest_preference_first_at_most_three) {
  auto message = mx_answer(false);
  auto records = parse_mx_answer(message.data(), message.size());
  BOOST_TEST_REQUIRE(records.has_value());
  BOOST_TEST_REQUIRE(records->size() == limits::max_destination_hosts);
  BOOST_TEST((*records)[0].host == "mx1.example.org");
  BOOST_TEST((*records)[0].preference == 10u);
  BOOST_TEST((*records)[1].host == "mx2.example.org");
  BOOST_TEST((*records)[2].host == "mx3.example.org");

  message = mx_answer(true);
  records = parse_mx_answer(message.data(), message.size());
  BOOST_TEST_REQUIRE(records.has_value());
  BOOST_TEST_REQUIRE(records->size() == 1u);
  BOOST_TEST((*records)[0].host.empty());  // a null MX: no mail at all

  message.resize(message.size() - 4);  // cut inside the answer
  BOOST_TEST(!parse_mx_answer(message.data(), message.size()).has_value());
}

BOOST_AUTO_TEST_SUITE_END()
