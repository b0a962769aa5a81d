// Why the reflector's control port could not be used, in sentences that name the real
// cause and the next step. Pure: each takes what was observed and returns the words.
#include "control_errors.hpp"

#include <boost/asio/error.hpp>
#include <cctype>

#include "control_protocol.hpp"
#include "transcript.hpp"

namespace egress25::client {
namespace {

namespace error = boost::asio::error;

std::string seconds(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
  return std::to_string(ms) + " ms";
}

std::string lower_first(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

// The next step after reaching some other service: where the control port usually is.
const std::string control_port_hint = "The control port is " +
                                      std::to_string(control::default_control_port) +
                                      " unless the reflector moved it: --reflector HOST, or "
                                      "HOST:PORT";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The first line of what a peer sent, escaped and short, for quoting.
std::string quoted_first_line(std::string_view bytes) {
  auto end = bytes.find_first_of("\r\n");
  return "'" + printable(bytes.substr(0, end), 60) + "'";
}

}  // namespace

std::string resolve_failure(const std::string& host, const boost::system::error_code& ec,
                            std::chrono::milliseconds timeout) {
  const std::string name = "the reflector's name " + host;
  if (!ec)
    return name + " could not be resolved: no DNS answer within " + seconds(timeout) +
           ". Check this host's DNS settings and network, or give the reflector's address";
  if (ec == error::host_not_found)
    return name +
           " does not resolve: DNS has no such name. Check the spelling, or give the "
           "reflector's address";
  if (ec == error::host_not_found_try_again)
    return name +
           " could not be resolved: the DNS server gave no answer (a temporary failure). "
           "Check this host's DNS settings and network, or give the reflector's address";
  if (ec == error::no_data)
    return name + " has no address in DNS. Check the name, or give the reflector's address";
  return name + " could not be resolved: " + lower_first(ec.message()) +
         ". Check the name and this host's DNS settings, or give the reflector's address";
}

std::string family_missing(const std::string& host, Family asked,
                           const std::vector<std::string>& other_addresses, bool literal) {
  const std::string want = family_label(asked);
  const std::string other = family_label(asked == Family::ipv4 ? Family::ipv6 : Family::ipv4);
  const std::string other_option = asked == Family::ipv4 ? "6" : "4";
  if (literal)
    return host + " is an " + other + " address, and --family " +
           (asked == Family::ipv4 ? "4" : "6") + " asks for " + want +
           ": leave --family out, or give the reflector's " + want + " address";
  std::string text = "the reflector's name " + host + " has no " + want + " address";
  if (other_addresses.empty()) return text;
  text += " (only " + other + ": " + other_addresses.front();
  if (other_addresses.size() > 1)
    text += " and " + std::to_string(other_addresses.size() - 1) + " more";
  text += "): probe it with --family " + other_option + " (or leave --family out), or give " +
          host + " an " + (asked == Family::ipv4 ? "A" : "AAAA") + " record";
  return text;
}

std::string connect_failure(const std::string& endpoint, const boost::system::error_code& ec,
                            std::chrono::milliseconds timeout) {
  if (!ec || ec == error::timed_out)
    return endpoint + ": no answer within " + seconds(timeout) +
           ": the host is down, or a firewall (on this network, on the way, or at the "
           "reflector) silently drops that port";
  if (ec == error::connection_refused)
    return endpoint +
           ": connection refused: the host answered, but nothing accepts connections on that "
           "port. Is egress25-reflector running there, with this control port (a "
           "--port-offset moves it too)? A firewall that rejects the port looks the same";
  if (ec == error::host_unreachable || ec == error::network_unreachable)
    return endpoint + ": " + lower_first(ec.message()) +
           ": a router (or this host) has no way there; check the address, and this host's "
           "network";
  return endpoint + ": " + lower_first(ec.message());
}

std::optional<std::string> foreign_protocol(std::string_view bytes) {
  if (bytes.empty()) return std::nullopt;
  const std::string tail = ", not the reflector's control port. " + control_port_hint;
  auto digit = [&](std::size_t i) {
    return i < bytes.size() && std::isdigit(static_cast<unsigned char>(bytes[i]));
  };
  // RFC 5321 4.2: a reply is three digits and a space or hyphen; 220 greets, 421/554
  // refuse at once.
  if (digit(0) && digit(1) && digit(2) && bytes.size() > 3 && (bytes[3] == ' ' || bytes[3] == '-'))
    return "speaks SMTP (it greeted with " + quoted_first_line(bytes) + "): it is a mail port" +
           tail;
  if (starts_with(bytes, "HTTP/"))
    return "speaks HTTP (it answered " + quoted_first_line(bytes) + "): it is a web server" + tail;
  if (starts_with(bytes, "SSH-"))
    return "speaks SSH (it greeted with " + quoted_first_line(bytes) + ")" + tail;
  // A TLS record: content type 21 (alert) or 22 (handshake), then version 3.x.
  if (bytes.size() >= 2 && (bytes[0] == 0x15 || bytes[0] == 0x16) && bytes[1] == 0x03)
    return "speaks TLS (it answered with a TLS record): it is an implicit-TLS port such as 465, "
           "or HTTPS" +
           tail;
  return "does not speak egress25's control protocol (it sent " + quoted_first_line(bytes) + "). " +
         control_port_hint;
}

std::string nothing_measured(const std::string& error, const std::vector<std::string>& not_probed) {
  std::string text = "Nothing was measured: " + error;
  if (!text.empty() && text.back() != '.') text += '.';
  for (auto reason : not_probed) {
    if (!reason.empty())
      reason[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(reason[0])));
    text += " " + reason + ", so that family was not checked.";
  }
  return text;
}

}  // namespace egress25::client
