// Why the reflector's control port could not be used, in sentences that name the real
// cause and the next step. Pure: each takes what was observed and returns the words.
#pragma once

#include <boost/system/error_code.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net_types.hpp"

namespace egress25::client {

// The reflector's name gave no address: no such name, no DNS answer, or no answer within
// `timeout` (when `ec` is empty). E.g. "the reflector's name vps.example.net does not
// resolve: DNS has no such name. Check the spelling, or give the reflector's address".
std::string resolve_failure(const std::string& host, const boost::system::error_code& ec,
                            std::chrono::milliseconds timeout);

// The family asked for (--family 4|6, -4, -6) has no address, while `other_addresses` of
// the other family exist. `literal`: the user gave an address, not a name.
std::string family_missing(const std::string& host, Family asked,
                           const std::vector<std::string>& other_addresses, bool literal);

// A TCP connect to the control port at `endpoint` ("ADDR:PORT") that failed with `ec`, or
// that had no answer within `timeout` (when `ec` is empty): what happened and what
// usually causes it.
std::string connect_failure(const std::string& endpoint, const boost::system::error_code& ec,
                            std::chrono::milliseconds timeout);

// What the first bytes a peer sent on the control connection say it speaks, when they are
// not the control protocol: "speaks SMTP (it greeted with '220 ...'), not ...", with the
// next step. nullopt when nothing was received.
std::optional<std::string> foreign_protocol(std::string_view first_bytes);

// The summary of a check that could not start for a reason other than an unreachable
// control port (a name that does not resolve, a port that speaks another protocol): the
// error, then one sentence per family not probed.
std::string nothing_measured(const std::string& error, const std::vector<std::string>& not_probed);

}  // namespace egress25::client
