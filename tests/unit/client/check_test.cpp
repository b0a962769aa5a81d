// Unit tests for the check's pure parts: the default timeout and the exit status.
#include <boost/test/unit_test.hpp>

#include "check.hpp"
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

BOOST_AUTO_TEST_SUITE_END()
