// The self-test's judgement (`egress25-reflector --self-test`): can this host open port 25
// to a mail destination's address, and if not, who stops it. Pure.
//
// Seen from this host (the VPS), the path has four stretches:
//   - this host: its own firewall (connect fails with EPERM) is location `reflector_host`;
//   - its own network, its hosting provider's (reflector_path.hpp's rule: TTL 1 and the
//     private hops after it): location `path`, segment `reflector_network`;
//   - the networks between: location `path`, segment `upstream`;
//   - the destination: its host, or the router right in front of it on the reference
//     port's trace (its network): location `destination`.
// The traces are port 25 beside a reference port (443, else 587) to the same address;
// firewalk's convention places a filter (a router expires a packet's TTL before its
// forwarding filter sees it). When the evidence does not decide, the verdict or the
// location says so: never a confident wrong answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "evidence.hpp"

namespace egress25 {

// A plain connect to a reference port of the destination (connect, then close; no byte
// sent): does the address answer at all on a port providers leave alone?
struct ReferenceConnect {
  std::uint16_t port = 0;
  ConnectOutcome connect = ConnectOutcome::not_attempted;
  std::string error;  // the system's words, when it did not connect
};

struct SelfTestEvidence {
  std::string host;  // the MX host, the name, or the literal that gave `attempt.address`
  // Port 25 from this host: connect, greeting, EHLO, QUIT (the connect-back's record),
  // and when it failed, `attempt.trace`: port 25 beside `reference_port`.
  InboundAttempt attempt;
  std::vector<ReferenceConnect> references;  // tried when port 25 failed, in order
  std::optional<std::uint16_t> reference_port;
};

Classification judge_self_test(const SelfTestEvidence& evidence);

// Whether an address was tested at all: false when nothing left this host for want of a
// route or an address of the family (its own firewall refusing is a result, not that).
bool self_test_tested(const SelfTestEvidence& evidence);

struct SelfTestResult {
  SelfTestEvidence evidence;
  Classification judgement;
};

// Who the results blame, for the summary and the JSON: "none" (open everywhere),
// "this_host", "hosting_provider", "network", "destination" or "unknown".
struct SelfTestSummary {
  std::string blocked_by;
  std::string text;
  // 0 port 25 open to every address tested, 1 at least one not open (blocked, or not
  // decided), 3 nothing could be tested (the target did not resolve, no route).
  int exit_status = 3;
};

// `target` as the operator named it, `port` the one tried (25 but in tests); `resolve_error` why it
// gave no address at all ("" when it gave some).
SelfTestSummary summarize_self_test(const std::string& target, std::uint16_t port,
                                    const std::vector<SelfTestResult>& results,
                                    const std::string& resolve_error);

}  // namespace egress25
