// Small vocabulary types shared by client and reflector: address family, service kind.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace egress25 {

enum class Family { ipv4, ipv6 };

// smtp: plain SMTP that offers STARTTLS (25, 587). smtps: implicit TLS (465, RFC 8314).
enum class ServiceKind { smtp, smtps };

std::string_view to_string(Family f);                          // "ipv4" / "ipv6": JSON, wire
std::optional<Family> family_from_string(std::string_view s);  // "ipv4" / "ipv6"
// "IPv4" / "IPv6": the family in the words a person reads (reports, summaries, errors).
std::string family_label(Family f);
std::string_view to_string(ServiceKind k);
std::optional<ServiceKind> service_kind_from_string(std::string_view s);

// The name an operator knows a port by: 25 smtp, 587 submission, 465 smtps; otherwise
// the kind's name.
std::string service_name(std::uint16_t port, ServiceKind kind);

// Milliseconds since the Unix epoch, the time base of every record.
std::int64_t unix_ms_now();

}  // namespace egress25
