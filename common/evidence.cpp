// Names of the evidence enums, as they appear in reports and JSON.
#include "evidence.hpp"

namespace egress25 {

std::string_view to_string(ConnectOutcome o) {
  switch (o) {
    case ConnectOutcome::not_attempted:
      return "not_attempted";
    case ConnectOutcome::connected:
      return "connected";
    case ConnectOutcome::refused:
      return "refused";
    case ConnectOutcome::timed_out:
      return "timed_out";
    case ConnectOutcome::icmp_error:
      return "icmp_error";
    case ConnectOutcome::local_error:
      return "local_error";
  }
  return "not_attempted";
}

std::string_view to_string(DialogueEnd e) {
  switch (e) {
    case DialogueEnd::none:
      return "none";
    case DialogueEnd::completed:
      return "completed";
    case DialogueEnd::reset:
      return "reset";
    case DialogueEnd::timed_out:
      return "timed_out";
    case DialogueEnd::closed_early:
      return "closed_early";
    case DialogueEnd::protocol_error:
      return "protocol_error";
    case DialogueEnd::tls_failed:
      return "tls_failed";
  }
  return "none";
}

std::string_view to_string(HopKind k) {
  switch (k) {
    case HopKind::time_exceeded:
      return "time_exceeded";
    case HopKind::unreachable:
      return "unreachable";
    case HopKind::reached:
      return "reached";
    case HopKind::reset:
      return "reset";
    case HopKind::silent:
      return "silent";
  }
  return "silent";
}

}  // namespace egress25
