// The reflector's options: command line and config file, parsed and validated.
#include "options.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/program_options.hpp>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

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
     "trace, debug, info, warning, error or fatal");
  // clang-format on
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

std::string usage_text() {
  std::ostringstream s;
  s << "Usage: " << program << " [options]\n\n"
    << "The cooperating daemon of egress25: SMTP services that record what arrives, and a\n"
    << "control service that reports it to the egress25 client. It never relays, stores or\n"
    << "delivers mail.\n\n";
  po::options_description all;
  all.add(command_line_only()).add(file_options());
  s << all << "\nExample (unprivileged): " << program << " --port-offset 10000\n";
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

ParseOutcome parse_options(int argc, const char* const argv[]) {
  po::options_description cmdline;
  cmdline.add(command_line_only()).add(file_options());
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
  if (vm.count("listen")) {
    opt.listen = vm["listen"].as<std::vector<std::string>>();
    opt.listen_is_default = false;
  }
  std::string error;
  if (!parse_port_list(vm["smtp-ports"].as<std::string>(), opt.smtp_ports, error))
    return usage_error("--smtp-ports: " + error);
  if (!parse_port_list(vm["tls-ports"].as<std::string>(), opt.tls_ports, error))
    return usage_error("--tls-ports: " + error);
  opt.control_port = vm["control-port"].as<std::uint16_t>();
  opt.port_offset = vm["port-offset"].as<std::uint16_t>();
  if (opt.control_port == 0) return usage_error("--control-port: 0 is not a port");

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
    if (auto e = check_port(p, "smtp port"); !e.empty()) return usage_error(e);
  for (auto p : opt.tls_ports)
    if (auto e = check_port(p, "tls port"); !e.empty()) return usage_error(e);
  if (auto e = check_port(opt.control_port, "control port"); !e.empty()) return usage_error(e);
  if (opt.smtp_ports.empty() && opt.tls_ports.empty())
    return usage_error("no SMTP service configured (--smtp-ports and --tls-ports are empty)");

  if (vm.count("cert")) opt.cert_file = vm["cert"].as<std::string>();
  if (vm.count("key")) opt.key_file = vm["key"].as<std::string>();
  if (opt.cert_file.empty() != opt.key_file.empty())
    return usage_error("--cert and --key go together");

  const auto witness = vm["witness"].as<std::string>();
  if (witness == "auto") {
    opt.witness = WitnessMode::automatic;
  } else if (witness == "on") {
    opt.witness = WitnessMode::on;
  } else if (witness == "off") {
    opt.witness = WitnessMode::off;
  } else {
    return usage_error("--witness: '" + witness + "' is not one of auto, on, off");
  }
  opt.witness_interface = vm["witness-interface"].as<std::string>();
  if (vm.count("secret-file")) opt.secret_file = vm["secret-file"].as<std::string>();
  if (vm.count("user")) opt.user = vm["user"].as<std::string>();
  if (vm.count("hostname")) {
    opt.hostname = vm["hostname"].as<std::string>();
    // It goes verbatim into every greeting: letters, digits, dots and hyphens only.
    const bool ok = !opt.hostname.empty() && opt.hostname.size() <= 253 &&
                    opt.hostname.find_first_not_of(
                        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") ==
                        std::string::npos;
    if (!ok) return usage_error("--hostname: '" + opt.hostname + "' is not a host name");
  }
  if (vm.count("metrics") && !parse_metrics_endpoint(vm["metrics"].as<std::string>(),
                                                     opt.metrics_address, opt.metrics_port, error))
    return usage_error("--metrics: " + error);
  if (vm.count("config")) opt.config_file = vm["config"].as<std::string>();
  opt.log_level = vm["log-level"].as<std::string>();
  if (!parse_log_level(opt.log_level))
    return usage_error("--log-level: '" + opt.log_level +
                       "' is not one of trace, debug, info, warning, error, fatal");
  o.run = true;
  return o;
}

}  // namespace egress25::reflector
