// The reflector's options: command line and config file, parsed and validated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace egress25::reflector {

enum class WitnessMode { automatic, on, off };

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
  std::string secret_file;
  std::string user;      // drop to this user after binding, when root; "" = stay
  std::string hostname;  // for the greeting and the self-signed certificate; "" = system's
  std::string log_level = "info";
  std::string config_file;
  // --metrics: where the Prometheus endpoint listens; port 0 = off (the default).
  std::string metrics_address;
  std::uint16_t metrics_port = 0;

  // Ports as bound: the configured port plus the offset.
  std::vector<std::uint16_t> bound_smtp_ports() const;
  std::vector<std::uint16_t> bound_tls_ports() const;
  std::uint16_t bound_control_port() const;
};

// What main should do after parsing: run, or print and exit with a status.
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
