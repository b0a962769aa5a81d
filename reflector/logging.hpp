// Logging: Boost.Log to stderr, one line per event, filtered by --log-level, as text, as
// JSON or for the journal; and repeated events told at a bounded rate.
#pragma once

#include <boost/log/trivial.hpp>
#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "limits.hpp"

namespace egress25::reflector {

using Severity = boost::log::trivial::severity_level;

std::optional<Severity> parse_log_level(std::string_view name);

enum class LogFormat {
  text,     // "2024-05-01T12:00:00.123 [info] text": for a terminal or a log file
  json,     // {"time":"2024-05-01T12:00:00.123Z","level":"info","priority":6,"message":...}
  journal,  // "<6>text": systemd-journald reads the priority and stamps the time itself
};
// "auto" is journal when stderr is the journal (systemd sets JOURNAL_STREAM), else text.
std::optional<LogFormat> parse_log_format(std::string_view name);
std::string_view to_string(LogFormat f);

// The syslog priority of a severity (RFC 5424 6.2.1), as journald and syslog read it.
int syslog_priority(Severity s);

// Sends every record at or above `level` to stderr in `format`. Call once, before
// anything logs; set_log_level changes the filter later (SIGHUP).
void init_logging(Severity level, LogFormat format = LogFormat::text);
void set_log_level(Severity level);

// Repeated events at a bounded rate: the first lines of a kind within an interval are
// written as they come; the rest are counted, and told in one line when the interval is
// over ("... and 15,012 more smtp connections from 192.0.2.0/24 in the last 10 s, not
// logged one by one"). A kind is a noun phrase naming the event and, where it matters,
// its source prefix. No I/O and no clock: the caller passes the time.
class LogLimiter {
 public:
  // The defaults and their reasons: limits.hpp; tests make them small.
  struct Limits {
    std::size_t lines_per_interval = limits::log_lines_per_kind;
    std::size_t all_lines_per_interval = limits::log_lines_all_kinds;
    std::int64_t interval_ms = std::chrono::milliseconds(limits::log_interval).count();
    std::size_t max_kinds = limits::max_log_kinds;
  };
  LogLimiter() = default;
  explicit LogLimiter(Limits limits) : limits_(limits) {}

  // True when a line of `kind` may be written at `now_ms`; false when it is counted.
  bool allow(const std::string& kind, Severity severity, std::int64_t now_ms);
  struct Summary {
    Severity severity;
    std::string line;
  };
  // The lines for kinds whose interval is over with lines counted but not written.
  std::vector<Summary> flush(std::int64_t now_ms);
  std::size_t size() const { return lru_.size(); }

 private:
  struct Kind {
    std::string name;
    Severity severity = Severity::info;
    std::int64_t interval_start_ms = 0;
    std::size_t written = 0;    // lines written in this interval
    std::uint64_t counted = 0;  // lines not written, since the last summary
    std::int64_t counted_since_ms = 0;
  };
  using Lru = std::list<Kind>;
  std::string summary_line(const Kind& k, std::int64_t now_ms) const;

  Limits limits_;
  std::int64_t all_interval_start_ms_ = 0;
  std::size_t all_written_ = 0;  // lines of every kind written in that interval
  Lru lru_;                      // least recently used first
  std::unordered_map<std::string, Lru::iterator> index_;
  std::vector<Summary> forgotten_;  // summaries of kinds forgotten for room
};

// The process's limiter, for LOG_EVERY; thread-safe. flush_repeated_log() writes its
// summaries; the reflector calls it once a second.
bool log_allowed(const std::string& kind, Severity severity);
void flush_repeated_log();

}  // namespace egress25::reflector

// One line per event: LOG(info) << "...";
#define LOG(severity) BOOST_LOG_TRIVIAL(severity)
// A line for an event that may repeat (one per connection, per request, per failure):
// LOG_EVERY(info, "smtp connections from " + prefix) << "...". Past the kind's budget the
// line is not even formatted, only counted.
#define LOG_EVERY(severity, kind)                                                                  \
  if (::egress25::reflector::log_allowed((kind), ::boost::log::trivial::severity_level::severity)) \
  BOOST_LOG_TRIVIAL(severity)
