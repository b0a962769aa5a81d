// The client's command line: `egress25 check ...`, parsed and validated into CheckOptions.
#include "options.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/program_options.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <sstream>

#include "control_protocol.hpp"
#include "limits.hpp"
#include "secret_file.hpp"

namespace egress25::client {
namespace po = boost::program_options;
namespace {

constexpr const char* synopsis =
    "usage: egress25 check --reflector HOST[:PORT] [options]\n"
    "       egress25 --help | --version\n";

constexpr const char* description =
    "Is outbound port 25 blocked, and by whom? Probes the SMTP ports of an\n"
    "egress25-reflector from this network and compares what both ends saw.\n";

constexpr const char* examples =
    "Examples:\n"
    "  egress25 check --reflector vps.example.net\n"
    "  egress25 check --reflector vps.example.net -j | jq .probes[].verdict\n"
    "  egress25 check --reflector [2001:db8::5]:7025 -6 -p 25\n"
    "  egress25 check --reflector vps.example.net --target example.org\n"
    "  egress25 check --reflector vps.example.net -p 25 --show-transcript\n";

po::options_description check_options() {
  po::options_description desc("Options for check");
  // clang-format off
  desc.add_options()
    ("reflector", po::value<std::string>()->value_name("HOST[:PORT]"),
     "the reflector; the control port defaults to 7025 ([IPv6]:PORT for an IPv6 literal)")
    ("ports,p", po::value<std::string>()->value_name("LIST"),
     "ports to probe, e.g. 25,587 (default: the services the reflector advertises)")
    ("family", po::value<std::string>()->value_name("auto|4|6|both"),
     "address families to probe (default auto); both reports each port once per family")
    ("ipv4,4", po::bool_switch(), "IPv4 only (--family 4); with -6, both")
    ("ipv6,6", po::bool_switch(), "IPv6 only (--family 6); with -4, both")
    ("timeout", po::value<double>()->value_name("SECONDS"),
     "per-probe budget for a silent path (default: from the measured control RTT)")
    ("trace", po::bool_switch(), "trace the path of a port that is not open (the default)")
    ("no-trace", po::bool_switch(), "do not trace")
    ("json,j", po::bool_switch(), "print the report as one JSON document on stdout")
    ("secret-file", po::value<std::string>()->value_name("FILE"),
     "shared secret for a private reflector")
    ("target", po::value<std::string>()->value_name("DOMAIN|HOST|[IP]"),
     "also probe a real destination on port 25 (a domain's MX hosts, else its address) "
     "and judge it against the reflector")
    ("target-port", po::value<unsigned>()->value_name("PORT"),
     "advanced: the destination's port instead of 25 (for testing, or a destination "
     "listening elsewhere)")
    ("inbound", po::value<std::string>()->value_name("PORTS")->implicit_value(""),
     "also ask the reflector to connect back to this line's public address on PORTS "
     "(default: its smtp port, 25 on a standard install): can mail reach you?")
    ("inbound-listen", po::bool_switch(),
     "with --inbound: listen on those ports here during the check, to tell whether the "
     "connect-back reached this machine")
    ("show-transcript", po::bool_switch(),
     "print each probe's SMTP dialogue, escaped, beside what the reflector recorded")
    ("quiet,q", po::bool_switch(), "no progress; print only the summary")
    ("verbose,v", po::bool_switch(), "every reason in the table, and debug lines on stderr")
    ("help,h", po::bool_switch(), "this help");
  // clang-format on
  return desc;
}

std::string help_text() {
  std::ostringstream out;
  out << synopsis << "\n"
      << description << "\n"
      << check_options() << "\n"
      << examples << "\n"
      << "Exit status: 0 every probe open; 1 a probe is not open; 2 bad usage;\n"
      << "3 the reflector's control port could not be reached.\n";
  return out.str();
}

std::optional<std::uint16_t> parse_port(std::string_view s) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size() || value == 0 || value > 65535)
    return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::optional<FamilyChoice> parse_family(const std::string& s) {
  if (s == "auto") return FamilyChoice::automatic;
  if (s == "4" || s == "ipv4") return FamilyChoice::ipv4;
  if (s == "6" || s == "ipv6") return FamilyChoice::ipv6;
  if (s == "both") return FamilyChoice::both;
  return std::nullopt;
}

// A host and the text after it that should be a port ("" when none was given).
struct HostAndPortText {
  std::string host;
  std::string port_text;
};

// "http://vps.example.net/" names a web server; the reflector is a host and a port.
std::string url_error(const std::string& text, std::size_t scheme) {
  std::string host = text.substr(scheme + 3);
  host = host.substr(0, host.find_first_of("/?#"));
  if (auto at = host.rfind('@'); at != std::string::npos) host.erase(0, at + 1);
  return "'" + text + "' is a URL; give the reflector's host alone" +
         (host.empty() ? std::string()
                       : ", as in --reflector " + host +
                             " (HOST:PORT when its control port is not the default)");
}

// "[V6]" or "[V6]:PORT".
std::optional<HostAndPortText> split_bracketed(const std::string& text, std::string& error) {
  auto close = text.find(']');
  if (close == std::string::npos) {
    error = "'" + text + "': missing ']' after the IPv6 address";
    return std::nullopt;
  }
  HostAndPortText out{text.substr(1, close - 1), {}};
  std::string rest = text.substr(close + 1);
  if (!rest.empty()) {
    if (rest.front() != ':') {
      error = "'" + text + "': expected ':PORT' after ']'";
      return std::nullopt;
    }
    out.port_text = rest.substr(1);
    if (out.port_text.empty()) {
      error = "'" + text + "': empty port";
      return std::nullopt;
    }
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address_v6(out.host, ec);
  if (ec) {
    error = "'" + out.host + "' in brackets is not an IPv6 address";
    return std::nullopt;
  }
  return out;
}

// A bare IPv6 literal: no port can follow it without brackets.
std::optional<HostAndPortText> split_bare_ipv6(const std::string& text, std::string& error) {
  boost::system::error_code ec;
  boost::asio::ip::make_address_v6(text, ec);
  if (ec) {
    error = "'" + text + "' is not an IPv6 address (write [IPv6]:PORT to give a port)";
    return std::nullopt;
  }
  // "2001:db8::5:7025" is an address, and also "2001:db8::5" with port 7025: say so
  // rather than guess which was meant.
  auto colon = text.rfind(':');
  std::string head = text.substr(0, colon);
  if (parse_port(text.substr(colon + 1))) {
    boost::asio::ip::make_address_v6(head, ec);
    if (!ec) {
      error = "'" + text + "' is ambiguous: an IPv6 address takes a port only in brackets. " +
              "Write [" + head + "]:" + text.substr(colon + 1) + " for port " +
              text.substr(colon + 1) + " at " + head + ", or [" + text +
              "] for that address on the default control port";
      return std::nullopt;
    }
  }
  return HostAndPortText{text, {}};
}

// "HOST" or "HOST:PORT".
std::optional<HostAndPortText> split_plain(const std::string& text, std::string& error) {
  auto colon = text.find(':');
  HostAndPortText out{text.substr(0, colon), {}};
  if (colon != std::string::npos) {
    out.port_text = text.substr(colon + 1);
    if (out.port_text.empty()) {
      error = "'" + text + "': empty port";
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace

std::optional<HostPort> parse_host_port(const std::string& text, std::uint16_t default_port,
                                        std::string& error) {
  if (auto scheme = text.find("://"); scheme != std::string::npos) {
    error = url_error(text, scheme);
    return std::nullopt;
  }
  std::optional<HostAndPortText> split;
  if (!text.empty() && text.front() == '[')
    split = split_bracketed(text, error);
  else if (std::count(text.begin(), text.end(), ':') > 1)
    split = split_bare_ipv6(text, error);
  else
    split = split_plain(text, error);
  if (!split) return std::nullopt;
  if (split->host.empty()) {
    error = "'" + text + "': no host";
    return std::nullopt;
  }
  HostPort out{split->host, default_port};
  if (!split->port_text.empty()) {
    auto port = parse_port(split->port_text);
    if (!port) {
      error = "'" + split->port_text + "' is not a port (1-65535)";
      return std::nullopt;
    }
    out.port = *port;
  }
  return out;
}

std::optional<std::vector<std::uint16_t>> parse_port_list(const std::string& text,
                                                          std::string& error) {
  std::vector<std::uint16_t> ports;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    auto port = parse_port(item);
    if (!port) {
      error = "--ports: '" + item + "' is not a port (1-65535)";
      return std::nullopt;
    }
    if (std::find(ports.begin(), ports.end(), *port) == ports.end()) ports.push_back(*port);
    start = comma + 1;
  }
  if (ports.size() > limits::max_ports) {
    error = "--ports: at most " + std::to_string(limits::max_ports) + " ports";
    return std::nullopt;
  }
  return ports;
}

std::optional<std::string> read_secret_file(const std::string& path, std::string& error) {
  return egress25::read_secret_file(path, error);  // the rule both programs share
}

namespace {

// The words after `check` into `vm`. Words that are not options land in a hidden "stray"
// list, so that a typo such as `check reflector.example` is an error rather than
// silently ignored (parse_command_line says so, after --help).
std::optional<UsageError> store_check_arguments(int argc, const char* const argv[],
                                                po::variables_map& vm) {
  try {
    auto desc = check_options();
    desc.add_options()("stray", po::value<std::vector<std::string>>());
    po::positional_options_description positional;
    positional.add("stray", -1);
    // --inbound takes an optional list: "--inbound 25,587" as well as "--inbound=25,587"
    // (Program_options gives an option with an implicit value only the "=" form), so a
    // port list right after it is joined to it; any other word stays a word of its own.
    // (argv[1] is the command, "check".)
    std::vector<std::string> args(argv + 2, argv + argc);
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
      if (args[i] == "--inbound" && !args[i + 1].empty() &&
          args[i + 1].find_first_not_of("0123456789,") == std::string::npos) {
        args[i] += "=" + args[i + 1];
        args.erase(args.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      }
    po::store(
        po::command_line_parser(args)
            .options(desc)
            .positional(positional)
            .style(po::command_line_style::default_style & ~po::command_line_style::allow_guessing)
            .run(),
        vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return UsageError{e.what()};
  }
  return std::nullopt;
}

// --reflector and --ports.
std::optional<UsageError> read_what_to_probe(const po::variables_map& vm, CheckOptions& options) {
  if (!vm.count("reflector")) return UsageError{"--reflector HOST[:PORT] is required"};
  std::string error;
  auto host_port =
      parse_host_port(vm["reflector"].as<std::string>(), control::default_control_port, error);
  if (!host_port) return UsageError{"--reflector " + error};
  options.reflector_host = host_port->host;
  options.control_port = host_port->port;
  if (vm.count("ports")) {
    auto ports = parse_port_list(vm["ports"].as<std::string>(), error);
    if (!ports) return UsageError{error};
    options.ports = std::move(*ports);
  }
  return std::nullopt;
}

// --family, or -4 and -6 for short.
std::optional<UsageError> read_family(const po::variables_map& vm, CheckOptions& options) {
  const bool only4 = vm["ipv4"].as<bool>(), only6 = vm["ipv6"].as<bool>();
  if (vm.count("family")) {
    auto family = parse_family(vm["family"].as<std::string>());
    if (!family)
      return UsageError{"--family must be auto, 4, 6 or both, not '" +
                        vm["family"].as<std::string>() + "'"};
    if (only4 || only6)
      return UsageError{"-4 and -6 are short for --family: give one or the other"};
    options.family = *family;
  } else if (only4 || only6) {
    options.family = only4 && only6 ? FamilyChoice::both
                     : only4        ? FamilyChoice::ipv4
                                    : FamilyChoice::ipv6;
  }
  return std::nullopt;
}

// --timeout, --trace/--no-trace, and the report's form: each pair that contradicts itself
// is an error.
std::optional<UsageError> read_how(const po::variables_map& vm, CheckOptions& options) {
  if (vm.count("timeout")) {
    double seconds = vm["timeout"].as<double>();
    const std::chrono::duration<double> most = limits::max_timeout_option;
    if (!std::isfinite(seconds) || seconds <= 0 || seconds > most.count())
      return UsageError{"--timeout must be more than 0 and at most " +
                        std::to_string(limits::max_timeout_option.count()) + " seconds"};
    options.timeout =
        std::chrono::milliseconds(std::max<long long>(1, std::llround(seconds * 1000)));
  }
  if (vm["trace"].as<bool>() && vm["no-trace"].as<bool>())
    return UsageError{"--trace and --no-trace contradict each other"};
  options.trace = !vm["no-trace"].as<bool>();
  options.json = vm["json"].as<bool>();
  options.verbose = vm["verbose"].as<bool>();
  options.quiet = vm["quiet"].as<bool>();
  options.show_transcript = vm["show-transcript"].as<bool>();
  if (options.quiet && options.verbose)
    return UsageError{"--quiet and --verbose contradict each other"};
  if (options.quiet && options.show_transcript)
    return UsageError{"--quiet and --show-transcript contradict each other"};
  if (options.json && options.show_transcript)
    return UsageError{
        "--show-transcript is for the human report; with --json the transcripts are in each "
        "probe's evidence (.evidence.client.transcript, .evidence.reflector.connections)"};
  if (vm.count("secret-file")) options.secret_file = vm["secret-file"].as<std::string>();
  return std::nullopt;
}

// --target and --target-port.
std::optional<UsageError> read_target(const po::variables_map& vm, CheckOptions& options) {
  std::string error;
  if (vm.count("target")) {
    auto target = parse_target(vm["target"].as<std::string>(), error);
    if (!target) return UsageError{error};
    options.target = std::move(*target);
  }
  if (vm.count("target-port")) {
    unsigned port = vm["target-port"].as<unsigned>();
    if (port == 0 || port > 65535) return UsageError{"--target-port must be 1-65535"};
    if (!options.target) return UsageError{"--target-port needs --target"};
    options.target_port = static_cast<std::uint16_t>(port);
  }
  return std::nullopt;
}

// --inbound [PORTS] and --inbound-listen.
std::optional<UsageError> read_inbound(const po::variables_map& vm, CheckOptions& options) {
  std::string error;
  if (vm.count("inbound")) {
    options.inbound = true;
    const auto text = vm["inbound"].as<std::string>();
    if (!text.empty()) {
      auto ports = parse_port_list(text, error);
      if (!ports) return UsageError{"--inbound: " + error};
      options.inbound_ports = std::move(*ports);
    }
  }
  options.inbound_listen = vm["inbound-listen"].as<bool>();
  if (options.inbound_listen && !options.inbound)
    return UsageError{"--inbound-listen needs --inbound"};
  return std::nullopt;
}

}  // namespace

CommandLine parse_command_line(int argc, const char* const argv[]) {
  if (argc < 2) return UsageError{"no command given"};
  std::string command = argv[1];
  if (command == "--help" || command == "-h" || command == "help") return ShowHelp{help_text()};
  if (command == "--version")
    return ShowVersion{std::string("egress25 ") + EGRESS25_VERSION + "\n"};
  if (command != "check") return UsageError{"unknown command '" + command + "'"};

  po::variables_map vm;
  if (auto error = store_check_arguments(argc, argv, vm)) return *error;
  if (vm["help"].as<bool>()) return ShowHelp{help_text()};
  if (vm.count("stray"))
    return UsageError{"unexpected argument '" + vm["stray"].as<std::vector<std::string>>().front() +
                      "'"};
  CheckOptions options;
  std::optional<UsageError> error = read_what_to_probe(vm, options);
  if (!error) error = read_family(vm, options);
  if (!error) error = read_how(vm, options);
  if (!error) error = read_target(vm, options);
  if (!error) error = read_inbound(vm, options);
  if (error) return *error;
  return options;
}

}  // namespace egress25::client
