// Logging: Boost.Log to stderr, one line per event, filtered by --log-level.
#include "logging.hpp"

#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/support/date_time.hpp>
#include <boost/log/utility/setup/common_attributes.hpp>
#include <boost/log/utility/setup/console.hpp>
#include <iostream>

namespace egress25::reflector {

namespace logging = boost::log;
namespace expr = boost::log::expressions;

std::optional<Severity> parse_log_level(std::string_view name) {
  using logging::trivial::severity_level;
  if (name == "trace") return severity_level::trace;
  if (name == "debug") return severity_level::debug;
  if (name == "info") return severity_level::info;
  if (name == "warning") return severity_level::warning;
  if (name == "error") return severity_level::error;
  if (name == "fatal") return severity_level::fatal;
  return std::nullopt;
}

void init_logging(Severity level) {
  logging::add_common_attributes();
  auto sink = logging::add_console_log(
      std::clog,
      logging::keywords::format =
          (expr::stream << expr::format_date_time<boost::posix_time::ptime>("TimeStamp",
                                                                            "%Y-%m-%dT%H:%M:%S.%f")
                        << " [" << logging::trivial::severity << "] " << expr::smessage));
  // Each line is flushed as it is written: an operator tails stderr, tests wait on it.
  sink->locked_backend()->auto_flush(true);
  logging::core::get()->set_filter(logging::trivial::severity >= level);
}

}  // namespace egress25::reflector
