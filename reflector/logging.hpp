// Logging: Boost.Log to stderr, one line per event, filtered by --log-level.
#pragma once

#include <boost/log/trivial.hpp>
#include <optional>
#include <string_view>

namespace egress25::reflector {

using Severity = boost::log::trivial::severity_level;

std::optional<Severity> parse_log_level(std::string_view name);

// Sends every record at or above `level` to stderr as
// "2024-05-01T12:00:00.123 [info] text". Call once, before anything logs.
void init_logging(Severity level);

}  // namespace egress25::reflector

// One line per event: LOG(info) << "...";
#define LOG(severity) BOOST_LOG_TRIVIAL(severity)
