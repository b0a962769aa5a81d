// The `--json` report: exactly the CONTRACT.md document ("egress25.check/1").
#pragma once

#include <boost/json/object.hpp>
#include <string>

#include "check.hpp"

namespace egress25::client {

inline constexpr const char* report_schema = "egress25.check/1";

boost::json::object report_to_json(const CheckReport& report);

// The document, serialized, one line, with a trailing newline.
std::string render_json(const CheckReport& report);

}  // namespace egress25::client
