// Small vocabulary types shared by client and reflector.
#include "net_types.hpp"

#include <chrono>

namespace egress25 {

std::string_view to_string(Family f) {
  return f == Family::ipv4 ? "ipv4" : "ipv6";
}

std::string family_label(Family f) {
  return f == Family::ipv4 ? "IPv4" : "IPv6";
}

std::optional<Family> family_from_string(std::string_view s) {
  if (s == "ipv4") return Family::ipv4;
  if (s == "ipv6") return Family::ipv6;
  return std::nullopt;
}

std::string_view to_string(ServiceKind k) {
  return k == ServiceKind::smtp ? "smtp" : "smtps";
}

std::optional<ServiceKind> service_kind_from_string(std::string_view s) {
  if (s == "smtp") return ServiceKind::smtp;
  if (s == "smtps") return ServiceKind::smtps;
  return std::nullopt;
}

std::string service_name(std::uint16_t port, ServiceKind kind) {
  switch (port) {
    case 25:
      return "smtp";
    case 587:
      return "submission";
    case 465:
      return "smtps";
    default:
      return std::string(to_string(kind));
  }
}

std::int64_t unix_ms_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace egress25
