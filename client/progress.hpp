// Progress of a check while it waits: what `run_check` reports as it goes, the state it
// adds up to (pure, tested as text), and the display on stderr, redrawn in place while
// stderr is a terminal. Off a terminal, plain lines (one per phase and per finished
// probe) that a log or a script's stderr can keep.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "evidence.hpp"

namespace egress25::client {

// One step of a check, as run_check reports it.
struct ProgressEvent {
  enum class Kind {
    phase,            // `text` is what happens now: "resolving vps.example.net", ...
    probes_started,   // `labels` are the probes, all started now; `timeout` their budget
    probe_connected,  // probe `index` completed its TCP handshake
    probe_done,       // probe `index` finished; `text` its outcome ("answered", ...)
  };
  Kind kind = Kind::phase;
  std::string text;
  std::vector<std::string> labels;
  std::chrono::milliseconds timeout{0};
  std::size_t index = 0;
};

// Called by run_check as it goes; empty: nobody listens.
using ProgressHook = std::function<void(const ProgressEvent&)>;

// A probe's name on the display: "25/IPv4 smtp", or "25/IPv4 mx1.example.org" for a
// destination.
std::string probe_label(const ClientProbe& probe, bool destination);

// How a probe ended, in a few words: "answered, TLS up", "refused", "no answer", ...
std::string probe_outcome_words(const ClientProbe& probe);

// The state the events add up to, and how it reads. No I/O: times are passed in.
class ProgressState {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  void apply(const ProgressEvent& event, time_point now);

  // The status block for a terminal `width` columns wide: the phase with its elapsed
  // time, then one line per probe (waiting, for how long, or how it ended). No line is
  // wider than width - 1, so that none wraps and the block can be redrawn in place.
  std::vector<std::string> block(time_point now, std::size_t width) const;

  // The plain line an event earns when stderr is not a terminal (apply it first), e.g.
  // "egress25: 25/IPv4 smtp: no answer after 1.5 s"; nullopt for events not worth one.
  std::optional<std::string> line(const ProgressEvent& event, time_point now) const;

 private:
  struct Probe {
    std::string label;
    bool connected = false;
    std::optional<std::string> outcome;  // set when done
    time_point done_at{};
  };
  std::string phase_;
  time_point phase_started_{};
  std::vector<Probe> probes_;
  time_point probes_started_{};
  std::chrono::milliseconds timeout_{0};
};

// The display on stderr. `terminal`: a status block redrawn every 200 ms and erased when
// done; `lines`: a plain line per phase and per finished probe; `off`: nothing.
class ProgressDisplay {
 public:
  enum class Mode { off, terminal, lines };

  // `width` is stderr's terminal width.
  ProgressDisplay(boost::asio::any_io_executor executor, Mode mode, std::ostream& out,
                  std::size_t width);

  // The hook to pass to run_check.
  ProgressHook hook();
  // Erases the block (terminal) and stops redrawing; call before printing the report.
  void finish();

 private:
  void on_event(const ProgressEvent& event);
  void redraw();
  void erase();
  void schedule();

  Mode mode_;
  std::ostream& out_;
  std::size_t width_;
  boost::asio::steady_timer timer_;
  ProgressState state_;
  std::size_t drawn_lines_ = 0;
  bool finished_ = false;
  bool scheduled_ = false;
};

// The mode for this run: in place when stderr is a terminal, except with --quiet, --json
// (one document, nothing around it) or --verbose (its debug lines are the progress then).
ProgressDisplay::Mode progress_mode(bool quiet, bool json, bool verbose, bool stderr_is_terminal);

}  // namespace egress25::client
