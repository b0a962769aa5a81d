// `egress25-reflector --self-test --target HOST`: from this host, port 25 to a mail
// destination's addresses (banner, EHLO, QUIT), traced beside a reference port where it
// fails, judged (common/self_test_judgement.hpp) and reported as text or JSON.
#pragma once

#include <boost/json/object.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "options.hpp"
#include "self_test_judgement.hpp"

namespace egress25::reflector {

// What one run found: the destination as resolved, and one result per address.
struct SelfTestReport {
  std::string target;                   // as the operator named it
  std::string resolved_by;              // "MX", "address" or "literal"
  std::vector<std::string> hosts;       // the MX hosts or the name, in the order tried
  std::string resolve_error;            // why there is no address at all
  std::vector<std::string> not_tested;  // hosts without an address, with the reason
  std::uint16_t port = 25;
  std::vector<SelfTestResult> results;
  SelfTestSummary summary;
};

// Runs the self-test and prints its report on `out` (text, or JSON with --json).
// Returns the exit status (SelfTestSummary::exit_status). Binds nothing.
int run_self_test(const SelfTestOptions& options, const std::string& ehlo_name, std::ostream& out);

// The report for a person, and as the JSON document egress25.self-test/1
// (docs/report.md). Pure.
std::string render_text(const SelfTestReport& report);
boost::json::object render_json(const SelfTestReport& report);

}  // namespace egress25::reflector
