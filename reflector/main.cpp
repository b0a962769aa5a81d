// egress25-reflector: parse options, set up logging, start and serve.
#include <csignal>
#include <iostream>

#include "logging.hpp"
#include "options.hpp"
#include "reflector.hpp"
#include "self_test.hpp"

int main(int argc, char* argv[]) {
  using namespace egress25::reflector;
  auto parsed = parse_options(argc, argv);
  std::cout << parsed.out;
  std::cerr << parsed.err;
  if (!parsed.run) return parsed.exit_code;

  // A closed stderr (a log pipe that went away) must not kill the daemon: writes fail
  // with EPIPE instead, and the daemon goes on serving.
  std::signal(SIGPIPE, SIG_IGN);
  init_logging(*parse_log_level(parsed.options.log_level),
               *parse_log_format(parsed.options.log_format));
  if (parsed.options.self_test.enabled) {
    // Runs and exits: no daemon, no bound port, no secret or certificate read.
    try {
      return run_self_test(parsed.options.self_test, greeting_hostname(parsed.options.hostname),
                           std::cout);
    } catch (const std::exception& e) {
      std::cerr << "egress25-reflector: self-test: internal error: " << e.what() << "\n";
      return 70;  // EX_SOFTWARE, as the client: a bug, not a verdict
    }
  }
  try {
    Reflector reflector(std::move(parsed.options));
    reflector.start();
    reflector.run();
  } catch (const std::exception& e) {  // StartupError, or a failure of the RNG
    std::cerr << "egress25-reflector: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
