// The reflector's options: command line and config file, parsed and validated.
#include "options.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/program_options.hpp>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>
#include <variant>

#include "limits.hpp"
#include "logging.hpp"

namespace egress25::reflector {

namespace po = boost::program_options;

namespace {

constexpr const char* program = "egress25-reflector";

std::vector<std::uint16_t> with_offset(const std::vector<std::uint16_t>& ports,
                                       std::uint16_t offset) {
  std::vector<std::uint16_t> out;
  out.reserve(ports.size());
  for (auto p : ports) out.push_back(static_cast<std::uint16_t>(p + offset));
  return out;
}

// The fair-share limits as options: name, help, member, and the range that makes sense.
struct LimitOption {
  const char* name;
  const char* help;
  std::variant<std::size_t FairShareOptions::*, double FairShareOptions::*> member;
  double min;
  double max;
};

// clang-format off
const LimitOption limit_options[] = {
  {"max-connections", "connections open at once on the mail ports (and as many again on the "
   "control port)", &FairShareOptions::max_connections, 1, 1e6},
  {"max-connections-per-address", "of those, from one address",
   &FairShareOptions::max_connections_per_address, 1, 1e6},
  {"max-connections-per-prefix", "of those, from one prefix (--ipv4-prefix, --ipv6-prefix)",
   &FairShareOptions::max_connections_per_prefix, 1, 1e6},
  {"connection-rate-per-address", "new connections a minute from one address, in bursts of "
   "as many (0: no limit)", &FairShareOptions::connection_rate_per_address, 0, 1e9},
  {"connection-rate-per-prefix", "new connections a minute from one prefix (0: no limit)",
   &FairShareOptions::connection_rate_per_prefix, 0, 1e9},
  {"max-sessions", "checks (control sessions) held at once", &FairShareOptions::max_sessions,
   1, 1e6},
  {"max-sessions-per-address", "checks under way from one address",
   &FairShareOptions::max_sessions_per_address, 1, 1e6},
  {"max-sessions-per-prefix", "checks under way from one prefix",
   &FairShareOptions::max_sessions_per_prefix, 1, 1e6},
  {"hello-rate-per-address", "checks begun a minute by one address (0: no limit)",
   &FairShareOptions::hello_rate_per_address, 0, 1e9},
  {"hello-rate-per-prefix", "checks begun a minute by one prefix (0: no limit)",
   &FairShareOptions::hello_rate_per_prefix, 0, 1e9},
  {"ipv4-prefix", "bits of the IPv4 network a source also counts in",
   &FairShareOptions::ipv4_prefix, 8, 32},
  {"ipv6-prefix", "bits of the IPv6 network a source also counts in",
   &FairShareOptions::ipv6_prefix, 16, 128},
  {"stress-at", "percent of a connection cap from which the stress timeouts apply",
   &FairShareOptions::stress_at, 1, 100},
  {"untagged-timeout", "seconds an SMTP connection may go without a check's tag",
   &FairShareOptions::untagged_timeout, 1, 3600},
  {"shed-idle-after", "seconds an untagged connection must be silent before a newcomer from "
   "its address or prefix, at the cap, takes its place", &FairShareOptions::shed_idle_after,
   0, 3600},
  {"stress-untagged-timeout", "under stress: seconds an untagged connection may stay",
   &FairShareOptions::stress_untagged_timeout, 1, 3600},
  {"stress-idle-timeout", "under stress: seconds a connection may stay silent",
   &FairShareOptions::stress_idle_timeout, 1, 3600},
  {"unprobed-session-lifetime", "seconds a check lives before a probe of it arrives",
   &FairShareOptions::unprobed_session_lifetime, 10, 3600},
};
// clang-format on

double get(const FairShareOptions& o, const LimitOption& l) {
  return std::visit([&](auto member) { return static_cast<double>(o.*member); }, l.member);
}

// "512", "0.5": a value as an operator wrote it.
std::string number_text(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

po::options_description limit_options_description() {
  po::options_description d(
      "Fair share under load (per address and per prefix; see the README's Limits)");
  const FairShareOptions defaults;
  for (const auto& l : limit_options)
    d.add_options()(l.name,
                    po::value<double>()->value_name("N")->default_value(
                        get(defaults, l), number_text(get(defaults, l))),
                    l.help);
  return d;
}

// Reads the limits from `vm`; an error sentence when one is out of its range.
std::string read_limits(const po::variables_map& vm, FairShareOptions& out) {
  for (const auto& l : limit_options) {
    const double v = vm[l.name].as<double>();
    const bool whole = std::holds_alternative<std::size_t FairShareOptions::*>(l.member);
    if (!(v >= l.min && v <= l.max) ||
        (whole && v != static_cast<double>(static_cast<long long>(v))))
      return std::string("--") + l.name + ": " + number_text(v) + " is not " +
             (whole ? "a whole number " : "a number ") + "from " + number_text(l.min) + " to " +
             number_text(l.max);
    std::visit(
        [&](auto member) {
          using T = std::remove_reference_t<decltype(out.*member)>;
          out.*member = static_cast<T>(v);
        },
        l.member);
  }
  return {};
}

po::options_description file_options() {
  po::options_description d("Options (also accepted in --config FILE as name = value)");
  // clang-format off
  d.add_options()
    ("listen", po::value<std::vector<std::string>>()->value_name("ADDR"),
     "address to bind (repeatable; default 0.0.0.0 and ::, each family its own socket)")
    ("smtp-ports", po::value<std::string>()->value_name("LIST")->default_value("25,587"),
     "plain SMTP services offering STARTTLS")
    ("tls-ports", po::value<std::string>()->value_name("LIST")->default_value("465"),
     "implicit-TLS SMTP services (RFC 8314)")
    ("control-port", po::value<std::uint16_t>()->value_name("PORT")->default_value(7025),
     "control service")
    ("port-offset", po::value<std::uint16_t>()->value_name("N")->default_value(0),
     "add N to every port, control included (25 becomes 10025 with 10000)")
    ("cert", po::value<std::string>()->value_name("FILE"),
     "TLS certificate chain (PEM); without --cert/--key a self-signed one is made at start")
    ("key", po::value<std::string>()->value_name("FILE"), "TLS private key (PEM)")
    ("witness", po::value<std::string>()->value_name("auto|on|off")->default_value("auto"),
     "packet witness that sees SYNs before the host firewall (needs CAP_NET_RAW)")
    ("witness-interface", po::value<std::string>()->value_name("IFACE")->default_value("any"),
     "interface the packet witness captures on")
    ("connect-back", po::value<std::string>()->value_name("on|off")->default_value("on"),
     "connect back to a client's own address on 25, 465, 587 when it asks (check --inbound)")
    ("secret-file", po::value<std::string>()->value_name("FILE"),
     "serve only clients that hold the secret in FILE")
    ("user", po::value<std::string>()->value_name("NAME"),
     "when started as root, switch to this user once the ports are bound (default: nobody)")
    ("hostname", po::value<std::string>()->value_name("NAME"),
     "name in the SMTP greeting and the self-signed certificate (default: the host's)")
    ("metrics", po::value<std::string>()->value_name("ADDR:PORT"),
     "serve Prometheus metrics at http://ADDR:PORT/metrics (off by default; a bare PORT "
     "binds 127.0.0.1; not moved by --port-offset)")
    ("log-level", po::value<std::string>()->value_name("LEVEL")->default_value("info"),
     "trace, debug, info, warning, error or fatal")
    ("log-format", po::value<std::string>()->value_name("FORMAT")->default_value("auto"),
     "text, json (one object a line) or journal (<N> priority prefixes); auto: journal "
     "when stderr is the systemd journal, else text");
  // clang-format on
  d.add(limit_options_description());
  return d;
}

po::options_description command_line_only() {
  po::options_description d("General");
  // clang-format off
  d.add_options()
    ("config", po::value<std::string>()->value_name("FILE"), "read options from FILE")
    ("help,h", "print this help and exit")
    ("version", "print the version and exit");
  // clang-format on
  return d;
}

po::options_description self_test_options() {
  po::options_description d(
      "Self-test (runs and exits: binds nothing, needs no secret, certificate or root)");
  // clang-format off
  d.add_options()
    ("self-test", "can this host open port 25 to --target? Says whether its hosting provider "
     "blocks outbound 25; exit 0 open, 1 blocked, 2 bad usage, 3 nothing could be tested")
    ("target", po::value<std::string>()->value_name("HOST"),
     "with --self-test (required): a mail domain (its MX hosts), a host name (its "
     "addresses), or an address ([IP] or IP)")
    ("self-test-port", po::value<unsigned>()->value_name("PORT"),
     "advanced: the destination's port instead of 25 (for testing)")
    ("json", "with --self-test: the result as one JSON document (egress25.self-test/1)");
  // clang-format on
  return d;
}

std::string usage_text() {
  std::ostringstream s;
  s << "Usage: " << program << " [options]\n\n"
    << "The cooperating daemon of egress25: SMTP services that record what arrives, and a\n"
    << "control service that reports it to the egress25 client. It never relays, stores or\n"
    << "delivers mail.\n\n";
  po::options_description all;
  all.add(command_line_only()).add(self_test_options()).add(file_options());
  s << all << "\nExample (unprivileged): " << program << " --port-offset 10000\n"
    << "Can this VPS send mail on port 25? " << program << " --self-test --target gmail.com\n";
  return s.str();
}

ParseOutcome usage_error(const std::string& what) {
  ParseOutcome o;
  o.exit_code = 2;
  o.err = std::string(program) + ": " + what + "\nTry '" + program + " --help' for more.\n";
  return o;
}

}  // namespace

std::vector<std::uint16_t> Options::bound_smtp_ports() const {
  return with_offset(smtp_ports, port_offset);
}
std::vector<std::uint16_t> Options::bound_tls_ports() const {
  return with_offset(tls_ports, port_offset);
}
std::uint16_t Options::bound_control_port() const {
  return static_cast<std::uint16_t>(control_port + port_offset);
}

std::string version_string() {
  return std::string(program) + " " + EGRESS25_VERSION;
}

bool parse_port_list(const std::string& text, std::vector<std::uint16_t>& ports,
                     std::string& error) {
  ports.clear();
  std::size_t pos = 0;
  while (pos <= text.size() && !text.empty()) {
    auto comma = text.find(',', pos);
    auto item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    unsigned value = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc{} || end != item.data() + item.size() || value == 0 ||
        value > 65535) {
      error = "'" + item + "' in '" + text + "' is not a port number (1-65535)";
      return false;
    }
    ports.push_back(static_cast<std::uint16_t>(value));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return true;
}

bool parse_metrics_endpoint(const std::string& text, std::string& address, std::uint16_t& port,
                            std::string& error) {
  std::string host;
  std::string port_text = text;
  if (const auto colon = text.rfind(':'); colon != std::string::npos) {
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    } else if (host.find(':') != std::string::npos) {
      error = "'" + text + "': write an IPv6 address in brackets, as [::1]:9125";
      return false;
    }
  }
  std::vector<std::uint16_t> ports;
  if (port_text.empty() || !parse_port_list(port_text, ports, error) || ports.size() != 1) {
    error = "'" + text + "' is not ADDR:PORT or PORT (e.g. 127.0.0.1:9125)";
    return false;
  }
  boost::system::error_code ec;
  if (host.empty()) host = "127.0.0.1";
  boost::asio::ip::make_address(host, ec);
  if (ec) {
    error = "'" + host + "' in '" + text + "' is not an IP address";
    return false;
  }
  address = host;
  port = ports.front();
  return true;
}

std::string describe_changes(const FairShareOptions& before, const FairShareOptions& after) {
  std::string out;
  for (const auto& l : limit_options)
    if (get(before, l) != get(after, l))
      out += std::string(out.empty() ? "" : ", ") + l.name + " " + number_text(get(before, l)) +
             " -> " + number_text(get(after, l));
  return out;
}

namespace {

// --listen, the service ports and the control port; "" or why they do not go together.
std::string read_ports(const po::variables_map& vm, Options& opt) {
  if (vm.count("listen")) {
    opt.listen = vm["listen"].as<std::vector<std::string>>();
    opt.listen_is_default = false;
  }
  std::string error;
  if (!parse_port_list(vm["smtp-ports"].as<std::string>(), opt.smtp_ports, error))
    return "--smtp-ports: " + error;
  if (!parse_port_list(vm["tls-ports"].as<std::string>(), opt.tls_ports, error))
    return "--tls-ports: " + error;
  opt.control_port = vm["control-port"].as<std::uint16_t>();
  opt.port_offset = vm["port-offset"].as<std::uint16_t>();
  if (opt.control_port == 0) return "--control-port: 0 is not a port";

  std::set<unsigned> seen;
  auto check_port = [&](unsigned port, const char* what) -> std::string {
    if (port + opt.port_offset > 65535)
      return std::string(what) + " " + std::to_string(port) + " + --port-offset " +
             std::to_string(opt.port_offset) + " is above 65535";
    if (!seen.insert(port).second)
      return "port " + std::to_string(port) + " is configured for two services";
    return {};
  };
  for (auto p : opt.smtp_ports)
    if (auto e = check_port(p, "smtp port"); !e.empty()) return e;
  for (auto p : opt.tls_ports)
    if (auto e = check_port(p, "tls port"); !e.empty()) return e;
  if (auto e = check_port(opt.control_port, "control port"); !e.empty()) return e;
  if (opt.smtp_ports.empty() && opt.tls_ports.empty())
    return "no SMTP service configured (--smtp-ports and --tls-ports are empty)";
  return "";
}

// Who the reflector is: certificate and key, witness, secret, user, greeting host name.
std::string read_identity(const po::variables_map& vm, Options& opt) {
  if (vm.count("cert")) opt.cert_file = vm["cert"].as<std::string>();
  if (vm.count("key")) opt.key_file = vm["key"].as<std::string>();
  if (opt.cert_file.empty() != opt.key_file.empty()) return "--cert and --key go together";

  const auto witness = vm["witness"].as<std::string>();
  if (witness == "auto") {
    opt.witness = WitnessMode::automatic;
  } else if (witness == "on") {
    opt.witness = WitnessMode::on;
  } else if (witness == "off") {
    opt.witness = WitnessMode::off;
  } else {
    return "--witness: '" + witness + "' is not one of auto, on, off";
  }
  opt.witness_interface = vm["witness-interface"].as<std::string>();
  const auto connect_back = vm["connect-back"].as<std::string>();
  if (connect_back != "on" && connect_back != "off")
    return "--connect-back: '" + connect_back + "' is not one of on, off";
  opt.connect_back = connect_back == "on";
  if (vm.count("secret-file")) opt.secret_file = vm["secret-file"].as<std::string>();
  if (vm.count("user")) opt.user = vm["user"].as<std::string>();
  if (vm.count("hostname")) {
    opt.hostname = vm["hostname"].as<std::string>();
    // It goes verbatim into every greeting: letters, digits, dots and hyphens only.
    const bool ok = !opt.hostname.empty() && opt.hostname.size() <= limits::max_host_name &&
                    opt.hostname.find_first_not_of(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
                        std::string::npos;
    if (!ok) return "--hostname: '" + opt.hostname + "' is not a host name";
  }
  return "";
}

// Metrics, config file, logging and the limits.
std::string read_operations(const po::variables_map& vm, Options& opt) {
  std::string error;
  if (vm.count("metrics") && !parse_metrics_endpoint(vm["metrics"].as<std::string>(),
                                                     opt.metrics_address, opt.metrics_port, error))
    return "--metrics: " + error;
  if (vm.count("config")) opt.config_file = vm["config"].as<std::string>();
  opt.log_level = vm["log-level"].as<std::string>();
  opt.log_format = vm["log-format"].as<std::string>();
  if (!parse_log_format(opt.log_format))
    return "--log-format: '" + opt.log_format + "' is not one of auto, text, json, journal";
  if (auto e = read_limits(vm, opt.limits); !e.empty()) return e;
  if (!parse_log_level(opt.log_level))
    return "--log-level: '" + opt.log_level +
           "' is not one of trace, debug, info, warning, error, fatal";
  return "";
}

// --self-test, its --target, --self-test-port and --json.
std::string read_self_test(const po::variables_map& vm, SelfTestOptions& out) {
  out.enabled = vm.count("self-test") > 0;
  for (const char* name : {"target", "self-test-port", "json"})
    if (vm.count(name) && !out.enabled) return std::string("--") + name + " needs --self-test";
  if (!out.enabled) return "";
  // No default destination: a built-in one would make this host connect to a third party
  // its operator did not choose, and the answer depends on the destination anyway.
  if (!vm.count("target"))
    return "--self-test needs --target HOST: the mail domain or host to try, e.g. the one you "
           "send most mail to (--target gmail.com)";
  std::string error;
  auto target = parse_target(vm["target"].as<std::string>(), error, "--self-test-port");
  if (!target) return error;
  out.target = std::move(*target);
  if (vm.count("self-test-port")) {
    const unsigned port = vm["self-test-port"].as<unsigned>();
    if (port == 0 || port > 65535) return "--self-test-port must be 1-65535";
    out.port = static_cast<std::uint16_t>(port);
  }
  out.json = vm.count("json") > 0;
  return "";
}

}  // namespace

ParseOutcome parse_options(int argc, const char* const argv[]) {
  po::options_description cmdline;
  cmdline.add(command_line_only()).add(self_test_options()).add(file_options());
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, cmdline), vm);
    if (vm.count("help")) {
      ParseOutcome o;
      o.out = usage_text();
      return o;
    }
    if (vm.count("version")) {
      ParseOutcome o;
      o.out = version_string() + "\n";
      return o;
    }
    if (vm.count("config")) {
      const auto path = vm["config"].as<std::string>();
      std::ifstream in(path);
      if (!in) return usage_error("cannot read config file '" + path + "'");
      // Values given on the command line win: po::store keeps the first value stored.
      po::store(po::parse_config_file(in, file_options()), vm);
    }
    po::notify(vm);
  } catch (const po::error& e) {
    return usage_error(e.what());
  }

  ParseOutcome o;
  Options& opt = o.options;
  std::string error = read_ports(vm, opt);
  if (error.empty()) error = read_identity(vm, opt);
  if (error.empty()) error = read_operations(vm, opt);
  if (error.empty()) error = read_self_test(vm, opt.self_test);
  if (!error.empty()) return usage_error(error);
  for (int i = 1; i < argc; ++i) opt.command_line.emplace_back(argv[i]);
  o.run = true;
  return o;
}

}  // namespace egress25::reflector
