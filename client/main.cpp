// egress25: parse the command line, set up logging and signals, run the check, report.
#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/trivial.hpp>
#include <boost/log/utility/setup/common_attributes.hpp>
#include <boost/log/utility/setup/console.hpp>
#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>

#include "check.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "report_human.hpp"
#include "report_json.hpp"
#include "terminal.hpp"
#include "transcript.hpp"

namespace {

namespace net = boost::asio;
namespace logging = boost::log;
using namespace egress25::client;

constexpr int exit_usage = 2;

int usage_error(const std::string& message) {
  std::cerr << "egress25: " << message << "\n"
            << "Try 'egress25 check --help'.\n";
  return exit_usage;
}

// Quiet unless asked: the report is the output; -v adds debug lines on stderr.
void setup_logging(bool verbose) {
  if (!verbose) {
    logging::core::get()->set_logging_enabled(false);
    return;
  }
  logging::add_common_attributes();
  // Debug lines quote what the reflector said (its version, its errors): escaped, like
  // everything else a peer chose that reaches the terminal.
  logging::add_console_log(std::clog)->set_formatter(
      [](const logging::record_view& record, logging::formatting_ostream& out) {
        out << "egress25 [" << record[logging::trivial::severity] << "] ";
        if (auto message = record[logging::expressions::smessage])
          out << egress25::terminal_text(*message);
      });
  logging::core::get()->set_filter(logging::trivial::severity >= logging::trivial::debug);
}

}  // namespace

int main(int argc, char* argv[]) {
  auto command = parse_command_line(argc, argv);
  if (auto* help = std::get_if<ShowHelp>(&command)) {
    std::cout << help->text;
    return 0;
  }
  if (auto* version = std::get_if<ShowVersion>(&command)) {
    std::cout << version->text;
    return 0;
  }
  if (auto* error = std::get_if<UsageError>(&command)) return usage_error(error->message);
  const auto& options = std::get<CheckOptions>(command);

  std::optional<std::string> secret;
  if (options.secret_file) {
    std::string error;
    secret = read_secret_file(*options.secret_file, error);
    if (!secret) return usage_error(error);
  }
  setup_logging(options.verbose);

  net::io_context io;
  // Progress on stderr while it waits: a block redrawn in place on a terminal, plain
  // lines in a log or with -v, nothing with --json or --quiet.
  ProgressDisplay progress(
      io.get_executor(),
      progress_mode(options.quiet, options.json, options.verbose, is_terminal(STDERR_FILENO)),
      std::cerr, terminal_width(STDERR_FILENO).value_or(80));
  net::signal_set signals(io, SIGINT, SIGTERM);
  int interrupted = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    interrupted = signal;
    io.stop();
  });
  std::optional<CheckReport> report;
  std::exception_ptr failure;
  net::co_spawn(io, run_check(options, secret, progress.hook()),
                [&](std::exception_ptr e, CheckReport r) {
                  signals.cancel();
                  progress.finish();
                  if (e)
                    failure = e;
                  else
                    report = std::move(r);
                });
  io.run();
  progress.finish();  // erased before anything else is printed
  if (interrupted) {
    std::cerr << "egress25: interrupted\n";
    return 128 + interrupted;
  }
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      std::cerr << "egress25: internal error: " << e.what() << "\n";
    }
    return 70;  // EX_SOFTWARE: a bug, not a network finding
  }
  if (!report->control_reached)
    std::cerr << "egress25: " << egress25::terminal_text(report->control_error) << "\n";
  if (options.json) {
    std::cout << render_json(*report) << std::flush;
  } else {
    HumanOptions layout;
    layout.width = report_width(terminal_width(STDOUT_FILENO), std::getenv("COLUMNS"));
    layout.every_reason = options.verbose;
    layout.summary_only = options.quiet;
    layout.transcripts = options.show_transcript;
    std::cout << render_human(*report, layout) << std::flush;
  }
  return exit_status(*report);
}
