// The client's command line: `egress25 check ...`, parsed and validated into CheckOptions.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "destination.hpp"

namespace egress25::client {

enum class FamilyChoice { automatic, ipv4, ipv6, both };

// --target: a real destination to probe on port 25 as well.
struct CheckOptions {
  std::string reflector_host;  // a name or an address literal, without brackets
  std::uint16_t control_port = 0;
  std::vector<std::uint16_t> ports;  // empty: the services the reflector advertises
  FamilyChoice family = FamilyChoice::automatic;
  std::optional<std::chrono::milliseconds> timeout;  // nullopt: from the control RTT
  bool trace = true;
  bool json = false;
  bool verbose = false;          // every reason in the table, and debug lines on stderr
  bool quiet = false;            // no progress; the human report is the summary alone
  bool show_transcript = false;  // each probe's dialogue beside the reflector's record
  std::optional<std::string> secret_file;
  std::optional<DestinationTarget> target;
  std::uint16_t target_port = 25;  // --target-port: for tests, or a destination elsewhere
  // --inbound [PORTS]: the reflector connects back to this line's public address on
  // these ports (empty: the reflector's smtp port); --inbound-listen: listen on them here.
  bool inbound = false;
  std::vector<std::uint16_t> inbound_ports;
  bool inbound_listen = false;
};

// What the command line asked for.
struct ShowHelp {
  std::string text;
};
struct ShowVersion {
  std::string text;
};
struct UsageError {
  std::string message;  // one line, without the program name
};
using CommandLine = std::variant<CheckOptions, ShowHelp, ShowVersion, UsageError>;

CommandLine parse_command_line(int argc, const char* const argv[]);

// "HOST", "HOST:PORT", "[V6]", "[V6]:PORT", or a bare IPv6 literal. nullopt with `error`
// set when it is none of these, or when it is a URL ("http://host/"), or a bare IPv6
// literal that reads as an address and a port too ("2001:db8::5:7025"): the message says
// what to write instead.
struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};
std::optional<HostPort> parse_host_port(const std::string& text, std::uint16_t default_port,
                                        std::string& error);

// "25,465,587": each 1..65535, duplicates dropped, order kept.
std::optional<std::vector<std::uint16_t>> parse_port_list(const std::string& text,
                                                          std::string& error);

// --target: "[IP]" (IPv4 or IPv6 in brackets), a bare address, or a domain/host name
// (letters, digits, hyphens and dots, RFC 1123 lengths). nullopt with `error` set
// otherwise, e.g. "host:25" (the port is --target-port's business). Shared with the
// reflector's --self-test (common/destination.hpp).
using egress25::parse_target;

// The shared secret from --secret-file, by the rule both programs share (secret_file.hpp:
// the whole file less one trailing newline); `error` names the file.
std::optional<std::string> read_secret_file(const std::string& path, std::string& error);

}  // namespace egress25::client
