// Progress of a check while it waits: what `run_check` reports as it goes, the state it
// adds up to (pure, tested as text), and the display on stderr, redrawn in place while
// stderr is a terminal.
#include "progress.hpp"

#include <algorithm>
#include <cstdio>

#include "transcript.hpp"

namespace egress25::client {
namespace {

// How often the terminal block is redrawn: often enough for a seconds counter to move
// smoothly, rarely enough to cost nothing.
constexpr std::chrono::milliseconds redraw_interval{200};

std::string seconds(std::chrono::steady_clock::duration d) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f s",
                std::chrono::duration<double>(std::max(d, d.zero())).count());
  return buffer;
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string fit(std::string s, std::size_t width) {
  const std::size_t room = width > 1 ? width - 1 : 1;
  if (s.size() > room) s.resize(room);
  return s;
}

}  // namespace

std::string probe_label(const ClientProbe& probe, bool destination) {
  return std::to_string(probe.port) + "/" + family_label(probe.family) + " " +
         terminal_text(destination ? probe.host : probe.service, 80);
}

std::string probe_outcome_words(const ClientProbe& probe) {
  switch (probe.connect) {
    case ConnectOutcome::connected:
      switch (probe.end) {
        case DialogueEnd::completed:
          return probe.tls_completed ? "answered, TLS up" : "answered";
        case DialogueEnd::tls_failed:
          return "connected, TLS failed";
        case DialogueEnd::reset:
          return "connected, then reset";
        case DialogueEnd::timed_out:
          return "connected, then silence";
        case DialogueEnd::closed_early:
          return "connected, then closed";
        case DialogueEnd::protocol_error:
          return "connected, not SMTP";
        case DialogueEnd::none:
          break;
      }
      return "connected";
    case ConnectOutcome::refused:
      return "refused (a reset)";
    case ConnectOutcome::timed_out:
      return "no answer";
    case ConnectOutcome::icmp_error:
      return "an ICMP error came back";
    case ConnectOutcome::local_error:
      return "could not be sent";
    case ConnectOutcome::not_attempted:
      break;
  }
  return "not sent";
}

void ProgressState::apply(const ProgressEvent& event, time_point now) {
  switch (event.kind) {
    case ProgressEvent::Kind::phase:
      phase_ = event.text;
      phase_started_ = now;
      break;
    case ProgressEvent::Kind::probes_started:
      phase_ = "probing";
      phase_started_ = probes_started_ = now;
      timeout_ = event.timeout;
      probes_.clear();
      for (const auto& label : event.labels)
        probes_.push_back(Probe{label, false, std::nullopt, {}});
      break;
    case ProgressEvent::Kind::probe_connected:
      if (event.index < probes_.size()) probes_[event.index].connected = true;
      break;
    case ProgressEvent::Kind::probe_done:
      if (event.index < probes_.size()) {
        probes_[event.index].outcome = event.text;
        probes_[event.index].done_at = now;
      }
      break;
  }
}

std::optional<std::string> ProgressState::line(const ProgressEvent& event, time_point now) const {
  switch (event.kind) {
    case ProgressEvent::Kind::phase:
      return "egress25: " + event.text;
    case ProgressEvent::Kind::probes_started:
      return "egress25: " + std::to_string(event.labels.size()) +
             (event.labels.size() == 1 ? " probe" : " probes") + " started; each waits up to " +
             seconds(event.timeout) + " for an answer";
    case ProgressEvent::Kind::probe_done:
      if (event.index >= probes_.size()) return std::nullopt;
      return "egress25: " + probes_[event.index].label + ": " + event.text + " after " +
             seconds(now - probes_started_);
    case ProgressEvent::Kind::probe_connected:
      break;
  }
  return std::nullopt;
}

std::vector<std::string> ProgressState::block(time_point now, std::size_t width) const {
  std::vector<std::string> lines;
  if (phase_.empty()) return lines;
  std::string head = "egress25: " + phase_;
  if (phase_ == "probing") {
    auto done = std::count_if(probes_.begin(), probes_.end(),
                              [](const Probe& p) { return p.outcome.has_value(); });
    head += ": " + std::to_string(done) + " of " + std::to_string(probes_.size()) + " done";
  }
  lines.push_back(fit(head + ", " + seconds(now - phase_started_), width));
  std::size_t label_width = 0;
  for (const auto& p : probes_) label_width = std::max(label_width, p.label.size());
  for (const auto& p : probes_) {
    std::string state = p.outcome     ? *p.outcome + " in " + seconds(p.done_at - probes_started_)
                        : p.connected ? "connected, talking SMTP " + seconds(now - probes_started_)
                                      : "waiting " + seconds(now - probes_started_) +
                                            " (silence gives up at " + seconds(timeout_) + ")";
    lines.push_back(fit("  " + pad(p.label, label_width + 2) + state, width));
  }
  return lines;
}

ProgressDisplay::ProgressDisplay(boost::asio::any_io_executor executor, Mode mode,
                                 std::ostream& out, std::size_t width)
    : mode_(mode), out_(out), width_(std::max<std::size_t>(width, 20)), timer_(executor) {}

ProgressHook ProgressDisplay::hook() {
  if (mode_ == Mode::off) return {};
  return [this](const ProgressEvent& event) { on_event(event); };
}

void ProgressDisplay::on_event(const ProgressEvent& event) {
  if (finished_) return;
  const auto now = std::chrono::steady_clock::now();
  state_.apply(event, now);
  if (mode_ == Mode::lines) {
    if (auto line = state_.line(event, now)) out_ << *line << '\n' << std::flush;
    return;
  }
  redraw();
  if (drawn_lines_ > 0 && !scheduled_) schedule();
}

void ProgressDisplay::schedule() {
  scheduled_ = true;
  timer_.expires_after(redraw_interval);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    scheduled_ = false;
    if (ec || finished_) return;
    redraw();
    schedule();
  });
}

void ProgressDisplay::erase() {
  // Up to the block's first line, then clear to the end of the screen (ECMA-48 CUU, ED).
  if (drawn_lines_ > 0) out_ << "\x1b[" << drawn_lines_ << "A\r\x1b[J";
  drawn_lines_ = 0;
}

void ProgressDisplay::redraw() {
  auto lines = state_.block(std::chrono::steady_clock::now(), width_);
  std::string frame;
  if (drawn_lines_ > 0) frame = "\x1b[" + std::to_string(drawn_lines_) + "A\r\x1b[J";
  for (const auto& line : lines) frame += line + "\n";
  out_ << frame << std::flush;
  drawn_lines_ = lines.size();
}

void ProgressDisplay::finish() {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  if (mode_ == Mode::terminal) {
    erase();
    out_ << std::flush;
  }
}

ProgressDisplay::Mode progress_mode(bool quiet, bool json, bool verbose, bool stderr_is_terminal) {
  if (quiet || json) return ProgressDisplay::Mode::off;
  // -v writes its own lines on stderr; a block redrawn over them would garble both.
  if (verbose || !stderr_is_terminal) return ProgressDisplay::Mode::lines;
  return ProgressDisplay::Mode::terminal;
}

}  // namespace egress25::client
