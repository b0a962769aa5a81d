// The closing summary: what a person should conclude from the verdicts and what to do.
#include "summary.hpp"

#include <algorithm>
#include <map>

namespace egress25::client {
namespace {

enum class Kind { open, blocked, interfered, at_reflector, undecided };

Kind kind_of(Verdict v, Location l) {
  switch (v) {
    case Verdict::open:
      return Kind::open;
    case Verdict::intercepted:
    case Verdict::tampered:
    case Verdict::tls_intercepted:
      return Kind::interfered;
    case Verdict::firewalled_at_reflector:
    case Verdict::not_listening:
      return Kind::at_reflector;
    case Verdict::inconclusive:
      return Kind::undecided;
    default:
      return l == Location::reflector_host ? Kind::at_reflector : Kind::blocked;
  }
}

std::string family_name(Family f) {
  return f == Family::ipv4 ? "IPv4" : "IPv6";
}

std::string port_name(const SummaryRow& row) {
  return std::to_string(row.port) + " (" + row.service + ")";
}

// "a", "a or b", "a, b or c"
std::string join(const std::vector<std::string>& items, const std::string& last_word) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += (i + 1 == items.size()) ? " " + last_word + " " : ", ";
    out += items[i];
  }
  return out;
}

struct PortState {
  SummaryRow first_bad;  // the first row of this port that is not open
  bool any_bad = false;
  std::vector<Family> open_families;
  std::vector<Family> bad_families;
  std::string service;
};

std::string families_text(const std::vector<Family>& families) {
  std::vector<std::string> names;
  for (auto f : families) names.push_back(family_name(f));
  return join(names, "and");
}

std::string hop_text(const std::optional<BlockingHop>& hop) {
  if (!hop) return "";
  return ", at hop " + std::to_string(hop->ttl) + (hop->address.empty() ? "" : ", " + hop->address);
}

}  // namespace

std::string verdict_phrase(Verdict verdict, Location location) {
  std::string where;
  switch (location) {
    case Location::path:
      where = " on the path";
      break;
    case Location::reflector_host:
      where = " at the reflector host";
      break;
    case Location::destination:
      where = " at the destination";
      break;
    default:
      break;
  }
  switch (verdict) {
    case Verdict::open:
      return "open";
    case Verdict::dropped:
      return "dropped" + where;
    case Verdict::reset:
      return "reset" + where;
    case Verdict::icmp_unreachable:
      return "refused with an ICMP error" + where;
    case Verdict::intercepted:
      return "intercepted: something other than the reflector answered";
    case Verdict::tampered:
      return "tampered with in flight";
    case Verdict::tls_intercepted:
      return "TLS-intercepted: the certificate is not the reflector's";
    case Verdict::reply_dropped:
      return "half-open: the reflector answered, its answer was lost" + where;
    case Verdict::firewalled_at_reflector:
      return "blocked by the reflector host's own firewall";
    case Verdict::not_listening:
      return "not served by the reflector host";
    case Verdict::inconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

std::string summarize(const SummaryInput& input) {
  const std::string host =
      input.reflector_host.empty() ? "the reflector host" : input.reflector_host;
  if (!input.control_reached)
    return "Nothing was measured: the reflector's control port could not be reached. Check that "
           "egress25-reflector is running on " +
           host + " and that its control port is open on its firewall, then run the check again.";
  if (input.rows.empty())
    return "Nothing was probed: the reflector advertised no services and no --ports were given.";

  // One state per port, in the order ports first appear.
  std::vector<std::uint16_t> order;
  std::map<std::uint16_t, PortState> ports;
  for (const auto& row : input.rows) {
    auto [it, inserted] = ports.try_emplace(row.port);
    if (inserted) order.push_back(row.port);
    PortState& state = it->second;
    state.service = row.service;
    if (row.verdict == Verdict::open) {
      state.open_families.push_back(row.family);
    } else {
      if (!state.any_bad) state.first_bad = row;
      state.any_bad = true;
      state.bad_families.push_back(row.family);
    }
  }

  std::vector<std::string> open_ports;   // open on every family probed
  std::vector<std::string> partly_open;  // open on some family
  bool any_blocked = false, any_interfered = false, any_at_reflector = false, any_undecided = false;
  std::string text;
  for (auto port : order) {
    const PortState& state = ports[port];
    SummaryRow named;
    named.port = port;
    named.service = state.service;
    if (!state.any_bad) {
      open_ports.push_back(port_name(named));
      continue;
    }
    if (!state.open_families.empty()) partly_open.push_back(port_name(named));
    const SummaryRow& bad = state.first_bad;
    std::string over = " over " + families_text(state.bad_families);
    std::string also_open = state.open_families.empty()
                                ? ""
                                : "; it is open over " + families_text(state.open_families);
    std::string phrase = verdict_phrase(bad.verdict, bad.location) + hop_text(bad.blocking_hop);
    switch (kind_of(bad.verdict, bad.location)) {
      case Kind::blocked:
        any_blocked = true;
        text += "Your network blocks outbound port " + port_name(named) + over + " (" + phrase +
                also_open + "). ";
        break;
      case Kind::interfered:
        any_interfered = true;
        text += "Something on your network interferes with port " + port_name(named) + over + " (" +
                phrase + also_open + "). ";
        break;
      case Kind::at_reflector:
        any_at_reflector = true;
        text += "Port " + port_name(named) + " was refused by the reflector host itself" + over +
                " (" + phrase + also_open + "), not by your network. ";
        break;
      case Kind::open:
      case Kind::undecided:
        any_undecided = true;
        text += "Port " + port_name(named) + " could not be judged" + over + " (" + phrase +
                also_open + "); the report's reasons say what evidence is missing. ";
        break;
    }
  }

  if (text.empty()) {
    std::string all = join(open_ports, "and");
    std::string conclusion = "Nothing blocks outbound mail from this network to the reflector: " +
                             std::string(open_ports.size() == 1 ? "port " : "ports ") + all +
                             (open_ports.size() == 1 ? " is" : " are") + " open end to end.";
    if (ports.count(25)) conclusion += " You can deliver mail directly on port 25.";
    return conclusion;
  }

  if (any_blocked || any_interfered) {
    if (!open_ports.empty()) {
      text += "Send mail through your provider's relay on " + join(open_ports, "or") +
              (open_ports.size() == 1 ? ", which is open. " : ", which are open. ");
    } else if (!partly_open.empty()) {
      text += "Use the address family on which " + join(partly_open, "and") +
              " is open, or ask your network's operator to open the others. ";
    } else {
      text +=
          "No probed mail port gets through: ask your network's operator or provider to "
          "open outbound SMTP, or send through a relay you reach another way (a VPN, "
          "another network). ";
    }
  }
  if (any_interfered)
    text +=
        "Do not trust this network with cleartext SMTP: prefer implicit TLS (465) with "
        "certificate checks, or ask its operator to turn off the SMTP proxy. ";
  if (any_at_reflector)
    text += "Fix the reflector's configuration or its host firewall (that is for whoever runs " +
            host + "), then run the check again. ";
  if (any_undecided)
    text +=
        "Run the check again; if it stays inconclusive, check against a reflector whose packet "
        "witness is on (it sees whether the SYN arrived and who answered it). ";
  text.pop_back();  // the trailing space
  return text;
}

std::string destination_sentence(const std::string& target, std::uint16_t port,
                                 const std::vector<DestinationRow>& rows) {
  if (rows.empty()) return "";
  const std::string port_text = "port " + std::to_string(port);
  auto who = [](const DestinationRow& r) {
    return r.host + " over " + (r.family == Family::ipv4 ? "IPv4" : "IPv6");
  };
  std::vector<std::string> open_hosts;
  const DestinationRow* at_destination = nullptr;
  const DestinationRow* elsewhere = nullptr;
  const DestinationRow* unknown = nullptr;
  for (const auto& r : rows) {
    if (r.verdict == Verdict::open) {
      if (std::find(open_hosts.begin(), open_hosts.end(), r.host) == open_hosts.end())
        open_hosts.push_back(r.host);
    } else if (r.location == Location::destination) {
      if (!at_destination) at_destination = &r;
    } else if (r.verdict == Verdict::inconclusive) {
      if (!unknown) unknown = &r;
    } else if (!elsewhere) {
      elsewhere = &r;
    }
  }
  std::string open_text;
  for (const auto& h : open_hosts) open_text += (open_text.empty() ? "" : ", ") + h;
  if (at_destination) {
    std::string what = at_destination->verdict == Verdict::not_listening
                           ? "refused: nothing listens there"
                           : verdict_phrase(at_destination->verdict, at_destination->location);
    return "The destination " + target + " does not accept connections on " + port_text + " (" +
           who(*at_destination) + ": " + what + ")" +
           (open_text.empty() ? std::string() : ", though " + open_text + " does") +
           ", while your network lets port 25 through to the reflector: the problem is on the "
           "destination's side, not yours.";
  }
  if (elsewhere)
    return "The destination " + target + " cannot be reached on " + port_text + " (" +
           who(*elsewhere) + ": " + verdict_phrase(elsewhere->verdict, elsewhere->location) +
           "), which points at the path rather than at the destination.";
  if (unknown && open_text.empty()) {
    std::string reason = unknown->reason.empty() ? "the evidence is missing" : unknown->reason;
    while (!reason.empty() && reason.back() == '.') reason.pop_back();
    return "The destination " + target + " could not be judged on " + port_text + ": " + reason +
           ".";
  }
  return "The destination " + target + " accepts connections on " + port_text + " (" + open_text +
         ")" + (unknown ? "; " + who(*unknown) + " could not be judged" : std::string()) + ".";
}

}  // namespace egress25::client
