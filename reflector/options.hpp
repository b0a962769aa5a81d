// The reflector's options: command line and config file, parsed and validated.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "destination.hpp"
#include "limits.hpp"

namespace egress25::reflector {

enum class WitnessMode { automatic, on, off };

// The fair-share limits (limits.hpp says why each is what it is), as options and config
// lines of the same names; all of them change with a reload (SIGHUP).
struct FairShareOptions {
  std::size_t max_connections = limits::max_concurrent_connections;
  std::size_t max_connections_per_address = limits::max_concurrent_per_address;
  std::size_t max_connections_per_prefix = limits::max_concurrent_per_prefix;
  double connection_rate_per_address = limits::connection_rate_per_address;  // a minute
  double connection_rate_per_prefix = limits::connection_rate_per_prefix;
  std::size_t max_sessions = limits::max_sessions;
  std::size_t max_sessions_per_address = limits::max_sessions_per_address;
  std::size_t max_sessions_per_prefix = limits::max_sessions_per_prefix;
  double hello_rate_per_address = limits::hello_rate_per_address;  // a minute
  double hello_rate_per_prefix = limits::hello_rate_per_prefix;
  std::size_t ipv4_prefix = limits::default_ipv4_prefix;
  std::size_t ipv6_prefix = limits::default_ipv6_prefix;
  double stress_at = limits::stress_fraction * 100;  // percent of a table's cap
  double untagged_timeout = seconds(limits::untagged_smtp_lifetime);
  double shed_idle_after = seconds(limits::shed_idle_after);
  double stress_untagged_timeout = seconds(limits::stress_untagged_lifetime);
  double stress_idle_timeout = seconds(limits::stress_idle_timeout);
  double unprobed_session_lifetime = seconds(limits::unprobed_session_lifetime);

  friend bool operator==(const FairShareOptions&, const FairShareOptions&) = default;
  static double seconds(std::chrono::milliseconds d) {
    return static_cast<double>(d.count()) / 1000;
  }
};
// "max-connections 512 -> 1024, ..." for what differs; empty when nothing does.
std::string describe_changes(const FairShareOptions& before, const FairShareOptions& after);

// --self-test: try port 25 from this host to a destination, report, exit. It binds
// nothing and needs no secret or certificate.
struct SelfTestOptions {
  bool enabled = false;
  DestinationTarget target;  // --target: required with --self-test
  std::uint16_t port = 25;   // --self-test-port: for tests, or a destination elsewhere
  bool json = false;         // --json
};

struct Options {
  // Addresses to bind; the default is both wildcards, each family on its own socket.
  std::vector<std::string> listen{"0.0.0.0", "::"};
  bool listen_is_default = true;  // a default address of a family the host lacks is skipped
  std::vector<std::uint16_t> smtp_ports{25, 587};
  std::vector<std::uint16_t> tls_ports{465};
  std::uint16_t control_port = 7025;
  std::uint16_t port_offset = 0;
  std::string cert_file;
  std::string key_file;
  WitnessMode witness = WitnessMode::automatic;
  std::string witness_interface = "any";
  bool connect_back = true;  // --connect-back on|off
  std::string secret_file;
  std::string user;      // drop to this user after binding, when root; "" = stay
  std::string hostname;  // for the greeting and the self-signed certificate; "" = system's
  std::string log_level = "info";
  std::string log_format = "auto";
  std::string config_file;
  // --metrics: where the Prometheus endpoint listens; port 0 = off (the default).
  std::string metrics_address;
  std::uint16_t metrics_port = 0;
  FairShareOptions limits;
  SelfTestOptions self_test;
  // The command line as given, for a reload to read the config file again under it.
  std::vector<std::string> command_line;

  // Ports as bound: the configured port plus the offset.
  std::vector<std::uint16_t> bound_smtp_ports() const;
  std::vector<std::uint16_t> bound_tls_ports() const;
  std::uint16_t bound_control_port() const;
};

// What main should do after parsing: run (the daemon, or the self-test when
// options.self_test.enabled), or print and exit with a status.
struct ParseOutcome {
  bool run = false;
  int exit_code = 0;  // when !run: 0 for --help/--version, 2 for bad usage
  std::string out;    // for stdout (help, version)
  std::string err;    // for stderr (what was wrong, and a usage hint)
  Options options;
};

ParseOutcome parse_options(int argc, const char* const argv[]);

// "25,587" → {25, 587}. Empty text is an empty list. False with `error` when malformed.
bool parse_port_list(const std::string& text, std::vector<std::uint16_t>& ports,
                     std::string& error);

// --metrics ADDR:PORT: "9125" and ":9125" mean 127.0.0.1:9125 (loopback unless told
// otherwise); "0.0.0.0:9125", "[::1]:9125". False with `error` when malformed.
bool parse_metrics_endpoint(const std::string& text, std::string& address, std::uint16_t& port,
                            std::string& error);

std::string version_string();  // "egress25-reflector 0.1.0"

}  // namespace egress25::reflector
