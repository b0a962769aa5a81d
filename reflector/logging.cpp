// Logging: Boost.Log to stderr, one line per event, filtered by --log-level, as text, as
// JSON or for the journal; and repeated events told at a bounded rate.
#include "logging.hpp"

#include <sys/stat.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/support/date_time.hpp>
#include <boost/log/utility/setup/common_attributes.hpp>
#include <boost/log/utility/setup/console.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>

#include "evidence_json.hpp"
#include "fair_share.hpp"
#include "refusal_table.hpp"

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

namespace {

// True when stderr is the stream systemd connected to the journal: JOURNAL_STREAM holds
// its "device:inode" (systemd.exec(5)).
bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream) return false;
  struct stat st {};
  if (::fstat(2, &st) != 0) return false;
  unsigned long long device = 0, inode = 0;
  if (std::sscanf(stream, "%llu:%llu", &device, &inode) != 2) return false;
  return device == static_cast<unsigned long long>(st.st_dev) &&
         inode == static_cast<unsigned long long>(st.st_ino);
}

// "2024-05-01T12:00:00.123Z"
std::string utc_now_text() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t seconds = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count() % 1000));
  return buffer;
}

std::atomic<int> current_level{static_cast<int>(Severity::info)};

Severity severity_of(const logging::record_view& r) {
  const auto s = r[logging::trivial::severity];
  return s ? s.get() : Severity::info;
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view name) {
  if (name == "text") return LogFormat::text;
  if (name == "json") return LogFormat::json;
  if (name == "journal") return LogFormat::journal;
  if (name == "auto") return stderr_is_journal() ? LogFormat::journal : LogFormat::text;
  return std::nullopt;
}

std::string_view to_string(LogFormat f) {
  switch (f) {
    case LogFormat::text:
      return "text";
    case LogFormat::json:
      return "json";
    case LogFormat::journal:
      return "journal";
  }
  return "text";
}

int syslog_priority(Severity s) {
  switch (s) {
    case Severity::trace:
    case Severity::debug:
      return 7;  // debug
    case Severity::info:
      return 6;  // informational
    case Severity::warning:
      return 4;  // warning
    case Severity::error:
      return 3;  // error
    case Severity::fatal:
      return 2;  // critical: the daemon cannot go on
  }
  return 6;
}

void init_logging(Severity level, LogFormat format) {
  logging::add_common_attributes();
  auto sink = logging::add_console_log(std::clog);
  switch (format) {
    case LogFormat::text:
      sink->set_formatter(expr::stream << expr::format_date_time<boost::posix_time::ptime>(
                                              "TimeStamp", "%Y-%m-%dT%H:%M:%S.%f")
                                       << " [" << logging::trivial::severity << "] "
                                       << expr::smessage);
      break;
    case LogFormat::journal:
      sink->set_formatter([](const logging::record_view& r, logging::formatting_ostream& out) {
        const auto severity = severity_of(r);
        out << '<' << syslog_priority(severity) << '>';
        if (auto m = r[expr::smessage]) out << *m;
      });
      break;
    case LogFormat::json:
      sink->set_formatter([](const logging::record_view& r, logging::formatting_ostream& out) {
        const auto severity = severity_of(r);
        const auto message = r[expr::smessage];
        boost::json::object o;
        o["time"] = utc_now_text();
        o["level"] = logging::trivial::to_string(severity);
        o["priority"] = syslog_priority(severity);
        // Peer bytes are escaped where they are quoted; json_safe keeps the line valid
        // JSON (UTF-8) whatever a message holds.
        o["message"] = json_safe(message ? *message : std::string());
        out << boost::json::serialize(o);
      });
      break;
  }
  // Each line is flushed as it is written: an operator tails stderr, tests wait on it.
  sink->locked_backend()->auto_flush(true);
  set_log_level(level);
}

void set_log_level(Severity level) {
  current_level = static_cast<int>(level);
  logging::core::get()->set_filter(logging::trivial::severity >= level);
}

// ---- LogLimiter -------------------------------------------------------------------------

std::string LogLimiter::summary_line(const Kind& k, std::int64_t now_ms) const {
  const auto seconds = std::max<std::int64_t>(1, (now_ms - k.counted_since_ms + 999) / 1000);
  return "... and " + grouped(k.counted) + " more " + k.name + " in the last " +
         std::to_string(seconds) + " s, not logged one by one";
}

bool LogLimiter::allow(const std::string& kind, Severity severity, std::int64_t now_ms) {
  auto it = index_.find(kind);
  if (it == index_.end()) {
    if (lru_.size() >= std::max<std::size_t>(1, limits_.max_kinds)) {
      const Kind& old = lru_.front();
      if (old.counted > 0) forgotten_.push_back({old.severity, summary_line(old, now_ms)});
      index_.erase(old.name);
      lru_.pop_front();
    }
    lru_.push_back(Kind{kind, severity, now_ms, 0, 0, 0});
    it = index_.emplace(kind, std::prev(lru_.end())).first;
  } else {
    lru_.splice(lru_.end(), lru_, it->second);
  }
  Kind& k = *it->second;
  k.severity = std::max(k.severity, severity);
  if (now_ms - k.interval_start_ms >= limits_.interval_ms && k.counted == 0) {
    k.interval_start_ms = now_ms;
    k.written = 0;
  }
  if (now_ms - all_interval_start_ms_ >= limits_.interval_ms) {
    all_interval_start_ms_ = now_ms;
    all_written_ = 0;
  }
  if (k.written < limits_.lines_per_interval && all_written_ < limits_.all_lines_per_interval) {
    ++k.written;
    ++all_written_;
    return true;
  }
  if (k.counted++ == 0) k.counted_since_ms = now_ms;
  return false;
}

std::vector<LogLimiter::Summary> LogLimiter::flush(std::int64_t now_ms) {
  std::vector<Summary> out = std::move(forgotten_);
  forgotten_.clear();
  for (auto it = lru_.begin(); it != lru_.end();) {
    Kind& k = *it;
    const bool over = now_ms - k.interval_start_ms >= limits_.interval_ms;
    if (over && k.counted > 0) {
      out.push_back({k.severity, summary_line(k, now_ms)});
      k.counted = 0;
      // The summary is this interval's first line: a flood goes on at one line each.
      k.interval_start_ms = now_ms;
      k.written = limits_.lines_per_interval;
    }
    // A kind quiet for a whole interval has nothing to tell: forgotten.
    if (k.counted == 0 && now_ms - k.interval_start_ms >= limits_.interval_ms) {
      index_.erase(k.name);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

namespace {

std::mutex limiter_mutex;
LogLimiter& process_limiter() {
  static LogLimiter limiter;
  return limiter;
}

}  // namespace

bool log_allowed(const std::string& kind, Severity severity) {
  if (static_cast<int>(severity) < current_level) return false;  // filtered out anyway
  std::lock_guard lock(limiter_mutex);
  return process_limiter().allow(kind, severity, steady_ms_now());
}

void flush_repeated_log() {
  std::vector<LogLimiter::Summary> lines;
  {
    std::lock_guard lock(limiter_mutex);
    lines = process_limiter().flush(steady_ms_now());
  }
  for (const auto& s : lines)
    BOOST_LOG_STREAM_WITH_PARAMS(logging::trivial::logger::get(),
                                 (logging::keywords::severity = s.severity))
        << s.line;
}

}  // namespace egress25::reflector
