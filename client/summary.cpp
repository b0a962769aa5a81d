// The closing summary: what a person should conclude from the verdicts and what to do.
#include "summary.hpp"

#include "attribution.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>

namespace egress25::client {
namespace {

// Who a probe that is not open points at, in the words a person acts on.
enum class Party {
  this_computer,       // location client_host
  local_network,       // path, local network (the home router and the LAN)
  isp,                 // path, upstream: the ISP or a network beyond it
  reflector_provider,  // path, the router in front of the reflector
  somewhere_on_path,   // path, segment unknown
  unplaced,            // location unknown: no evidence of where
  reflector_host,      // the reflector host's own firewall or configuration
  reflector_limits,    // the reflector refused for its own limits
  undecided,           // inconclusive for another reason
};

enum class Kind { blocked, interfered, proxied, other };

Party party_of(const SummaryRow& r) {
  if (r.verdict == Verdict::inconclusive)
    return r.refused_by_reflector ? Party::reflector_limits : Party::undecided;
  switch (r.location) {
    case Location::client_host:
      return Party::this_computer;
    case Location::reflector_host:
      return Party::reflector_host;
    case Location::path:
      switch (r.segment.value_or(Segment::unknown)) {
        case Segment::local_network:
          return Party::local_network;
        case Segment::upstream:
          return Party::isp;
        case Segment::reflector_network:
          return Party::reflector_provider;
        case Segment::unknown:
          return Party::somewhere_on_path;
      }
      break;
    case Location::unknown:
      // This computer or hops on the path, each a candidate: named as either.
      if (!r.candidates.empty()) return Party::somewhere_on_path;
      break;
    default:
      break;
  }
  return Party::unplaced;
}

Kind kind_of(Verdict v) {
  switch (v) {
    case Verdict::intercepted:
    case Verdict::tampered:
    case Verdict::tls_intercepted:
      return Kind::interfered;
    case Verdict::proxied:
      return Kind::proxied;
    case Verdict::dropped:
    case Verdict::reset:
    case Verdict::icmp_unreachable:
    case Verdict::reply_dropped:
      return Kind::blocked;
    default:
      return Kind::other;
  }
}

std::string port_name(std::uint16_t port, const std::string& service) {
  return std::to_string(port) + " (" + service + ")";
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
  SummaryRow first_bad;                   // the first row of this port that is not open
  std::vector<std::string> arrived_from;  // relay addresses, every family
  bool any_bad = false;
  std::vector<Family> open_families;
  std::vector<Family> bad_families;
  std::string service;
};

std::string families_text(const std::vector<Family>& families) {
  std::vector<std::string> names;
  for (auto f : families) names.push_back(family_label(f));
  return join(names, "and");
}

// The row's hop in this host's own network (its blocking hop, or its first such
// candidate), if any.
const BlockingHop* local_hop(const SummaryRow& row) {
  if (row.blocking_hop)
    return row.blocking_hop->segment == Segment::local_network ? &*row.blocking_hop : nullptr;
  for (const auto& c : row.candidates)
    if (c.ttl > 0 && c.segment == Segment::local_network) return &c;
  return nullptr;
}

// The first router is not a home router: this host holds its public address (a server,
// a VPS) or a shared one (attribution.hpp).
bool gateway_not_home(const SummaryRow& row) {
  const BlockingHop* h = local_hop(row);
  return h && h->role == gateway_not_home_router;
}

// "your home router (hop 1, 192.0.2.1)", "hop 3 (198.51.100.2)", "this computer"
std::string hop_name(const BlockingHop& hop) {
  if (hop.ttl == 0) return "this computer";
  if (hop.role == "home router" || hop.role == gateway_not_home_router)
    return std::string(hop.role == "home router" ? "your home router" : "your network's gateway") +
           " (hop " + std::to_string(hop.ttl) + (hop.address.empty() ? "" : ", " + hop.address) +
           ")";
  return "hop " + std::to_string(hop.ttl) + (hop.address.empty() ? "" : " (" + hop.address + ")");
}

// Where, in words: ", at hop 3, 198.51.100.2" or, when several hops could have done it,
// ", at your home router (hop 1, 192.0.2.1) or just after it, at a router that does not
// answer traceroute (hop 2)".
std::string where_text(const SummaryRow& row) {
  if (row.blocking_hop) {
    const auto& h = *row.blocking_hop;
    return ", at hop " + std::to_string(h.ttl) + (h.address.empty() ? "" : ", " + h.address) +
           (h.address.empty() && !h.role.empty() ? " (" + h.role + ")" : "");
  }
  if (row.candidates.empty()) return "";
  const auto& first = row.candidates.front();
  std::vector<std::string> silent;    // routers that answer neither port
  std::vector<std::string> answered;  // the next router, by its inbound filter
  for (std::size_t i = 1; i < row.candidates.size(); ++i) {
    const auto& c = row.candidates[i];
    if (c.address.empty())
      silent.push_back(std::to_string(c.ttl));
    else
      answered.push_back(hop_name(c));
  }
  std::vector<std::string> after;
  if (!silent.empty())
    after.push_back(silent.size() == 1
                        ? "a router that does not answer traceroute (hop " + silent.front() + ")"
                        : "routers that do not answer traceroute (hops " + join(silent, "or") +
                              ")");
  after.insert(after.end(), answered.begin(), answered.end());
  if (after.empty()) return ", at " + hop_name(first);
  return ", at " + hop_name(first) + " or just after it, at " + join(after, "or");
}

// The parties a place on the path may be, from its candidates' segments in path order:
// empty when a candidate's segment is unknown (then only "something on the path" is true).
std::vector<Party> candidate_parties(const SummaryRow& row) {
  std::vector<Party> parties;
  for (const auto& c : row.candidates) {
    Party p = Party::somewhere_on_path;
    if (c.ttl == 0) {
      p = Party::this_computer;
    } else {
      switch (c.segment) {
        case Segment::local_network:
          p = Party::local_network;
          break;
        case Segment::upstream:
          p = Party::isp;
          break;
        case Segment::reflector_network:
          p = Party::reflector_provider;
          break;
        case Segment::unknown:
          return {};
      }
    }
    if (std::find(parties.begin(), parties.end(), p) == parties.end()) parties.push_back(p);
  }
  return parties;
}

std::string who(const SummaryRow& row, Party party);

// "Your home network or your ISP (or a network beyond it)": the parties of a place that
// spans segments, when every candidate's is known.
std::string either_of(const SummaryRow& row) {
  std::vector<std::string> names;
  for (Party p : candidate_parties(row)) {
    std::string name = who(row, p);
    if (!names.empty()) name[0] = static_cast<char>(std::tolower(name[0]));
    names.push_back(name);
  }
  return names.size() > 1 ? join(names, "or") : "Something on the path";
}

// Who, as the subject of a sentence.
std::string who(const SummaryRow& row, Party party) {
  switch (party) {
    case Party::this_computer:
      return "This computer";
    case Party::local_network:
      if (gateway_not_home(row)) return "Your network's gateway (on a server, your provider's)";
      return row.blocking_hop && row.blocking_hop->role != "home router"
                 ? "A router on your local network"
                 : "Your home network";
    case Party::isp:
      return "Your ISP (or a network beyond it)";
    case Party::reflector_provider:
      return "The reflector's hosting provider";
    case Party::somewhere_on_path:
      return either_of(row);
    default:
      return "Something on the path";
  }
}

std::string port_sentence(const SummaryRow& bad, const std::string& port, const std::string& over,
                          const std::string& also_open, Party party,
                          const std::vector<std::string>& relays) {
  const std::string why = verdict_phrase(bad.verdict, bad.location) + where_text(bad);
  switch (party) {
    case Party::reflector_host:
      return "Port " + port + " was refused by the reflector host itself" + over + " (" + why +
             also_open + "), not by your network. ";
    case Party::undecided:
      return "Port " + port + " could not be judged" + over + " (" + why + also_open +
             "); the report's reasons say what evidence is missing. ";
    case Party::unplaced:
      return "Port " + port + " does not get through" + over + " (" + why + also_open +
             "), but where it is stopped is unknown. ";
    default:
      break;
  }
  const std::string subject = who(bad, party);
  switch (kind_of(bad.verdict)) {
    case Kind::interfered:
      return subject + " interferes with port " + port + over + " (" + why + also_open + "). ";
    case Kind::proxied:
      return subject + " relays port " + port + over + " from another address" +
             (relays.empty() ? "" : " (" + join(relays, "and") + ")") + " (" + why + also_open +
             "): mail you send on it leaves from " +
             (relays.size() > 1 ? "those addresses" : "that address") + ", not yours. ";
    default:
      break;
  }
  if (party == Party::this_computer)
    return "This computer stops outbound port " + port + over + " before it leaves (" + why +
           also_open + "). ";
  if (party == Party::reflector_provider)
    return subject + " blocks port " + port + over + " in front of the reflector (" + why +
           also_open + "): your own network lets it through. ";
  return subject + " blocks outbound port " + port + over + " (" + why + also_open + "). ";
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
    case Location::client_host:
      where = " by this computer";
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
    case Verdict::proxied:
      return "proxied: relayed unchanged from another address";
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

namespace {

// " No IPv6 route, so that family was not checked." for each family not probed.
std::string not_probed_text(const std::vector<std::string>& reasons) {
  std::string text;
  for (const auto& why : reasons) {
    std::string sentence = why;
    if (!sentence.empty()) sentence[0] = static_cast<char>(std::toupper(sentence[0]));
    text += " " + sentence + ", so that family was not checked.";
  }
  return text;
}

// The ports in the order they first appear, each with what its rows say.
struct PortStates {
  std::vector<std::uint16_t> order;
  std::map<std::uint16_t, PortState> ports;
};

PortStates port_states(const std::vector<SummaryRow>& rows) {
  PortStates states;
  for (const auto& row : rows) {
    auto [it, inserted] = states.ports.try_emplace(row.port);
    if (inserted) states.order.push_back(row.port);
    PortState& state = it->second;
    state.service = row.service;
    if (row.verdict == Verdict::open) {
      state.open_families.push_back(row.family);
    } else {
      if (!state.any_bad) state.first_bad = row;
      state.any_bad = true;
      if (!row.arrived_from.empty()) state.arrived_from.push_back(row.arrived_from);
      state.bad_families.push_back(row.family);
    }
  }
  return states;
}

// What the ports say together: a sentence per port that is not open (the reflector's own
// refusals share one), and who and what they point at, for the advice that follows.
struct Findings {
  std::string text;
  std::vector<std::string> open_ports;   // open on every family probed
  std::vector<std::string> partly_open;  // open on some family
  std::set<Party> parties;
  std::set<Kind> kinds;
  bool gateway_not_home = false;  // the local network's router is not a home router
};

Findings port_findings(const PortStates& states) {
  Findings found;
  std::vector<std::string> refused_ports;  // the reflector refused us for its own limits
  std::vector<Family> refused_families;
  for (auto port : states.order) {
    const PortState& state = states.ports.at(port);
    const std::string name = port_name(port, state.service);
    if (!state.any_bad) {
      found.open_ports.push_back(name);
      continue;
    }
    if (!state.open_families.empty()) found.partly_open.push_back(name);
    const SummaryRow& bad = state.first_bad;
    const Party party = party_of(bad);
    found.parties.insert(party);
    if (gateway_not_home(bad)) found.gateway_not_home = true;
    // A place that spans segments: the advice for each party it may be.
    if (party == Party::somewhere_on_path)
      for (Party p : candidate_parties(bad)) found.parties.insert(p);
    found.kinds.insert(kind_of(bad.verdict));
    if (party == Party::reflector_limits) {  // one sentence for all such ports, below
      refused_ports.push_back(name);
      for (auto f : state.bad_families)
        if (std::find(refused_families.begin(), refused_families.end(), f) ==
            refused_families.end())
          refused_families.push_back(f);
      continue;
    }
    found.text += port_sentence(bad, name, " over " + families_text(state.bad_families),
                                state.open_families.empty()
                                    ? ""
                                    : "; it is open over " + families_text(state.open_families),
                                party, state.arrived_from);
  }
  if (!refused_ports.empty())
    found.text += std::string(refused_ports.size() == 1 ? "Port " : "Ports ") +
                  join(refused_ports, "and") + " could not be judged over " +
                  families_text(refused_families) +
                  ": the reflector refused your address for its own limits, not your network. ";
  return found;
}

// What to do about the findings, one sentence per party and kind, each ending in a space.
std::string advice(const Findings& found, const std::string& host) {
  const auto& parties = found.parties;
  const auto& kinds = found.kinds;
  const auto& open_ports = found.open_ports;
  std::string text;
  // Blocks by this client's own network, its ISP or an unknown part of the path: the
  // open ports are the way out. A block in front of the reflector is not the client's.
  const bool own_side = parties.count(Party::local_network) || parties.count(Party::isp) ||
                        parties.count(Party::somewhere_on_path) || parties.count(Party::unplaced) ||
                        parties.count(Party::this_computer);
  if (parties.count(Party::this_computer))
    text +=
        "Allow outbound connections to these ports in this computer's firewall or security "
        "software, then run the check again. ";
  if (parties.count(Party::local_network))
    text += found.gateway_not_home
                ? "Ask whoever runs this network to open these ports (on a hosted server, its "
                  "provider: many block port 25 by default). "
                : "Check your home router's firewall for outbound rules on these ports (or ask "
                  "whoever runs this network). ";
  if (own_side && (kinds.count(Kind::blocked) || kinds.count(Kind::interfered))) {
    if (!open_ports.empty()) {
      text += "Send mail through your provider's relay on " + join(open_ports, "or") +
              (open_ports.size() == 1 ? ", which is open" : ", which are open") +
              (parties.count(Party::isp) ? ", or ask your ISP to open the others. " : ". ");
    } else if (!found.partly_open.empty()) {
      text += "Use the address family on which " + join(found.partly_open, "and") +
              " is open, or ask your network's operator to open the others. ";
    } else {
      text +=
          "No probed mail port gets through: ask your network's operator or provider to "
          "open outbound SMTP, or send through a relay you reach another way (a VPN, "
          "another network). ";
    }
  }
  if (parties.count(Party::reflector_provider))
    text += "Whoever runs " + host +
            " should ask its hosting provider to allow inbound connections on these ports (many "
            "providers block port 25 by default), or check against a reflector elsewhere. ";
  if (kinds.count(Kind::interfered))
    text +=
        "Do not trust this network with cleartext SMTP: prefer implicit TLS (465) with "
        "certificate checks, or ask its operator to turn off the SMTP proxy. ";
  if (kinds.count(Kind::proxied))
    text +=
        "If you send mail directly, ask your ISP about its relay: receivers judge your mail by "
        "the relay's address (SPF, reputation). ";
  if (parties.count(Party::reflector_host))
    text += "Fix the reflector's configuration or its host firewall (that is for whoever runs " +
            host + "), then run the check again. ";
  if (parties.count(Party::reflector_limits))
    text +=
        "The reflector limits how many connections one address may hold; another program or "
        "another machine behind the same NAT may hold them: run the check again later. ";
  if (parties.count(Party::undecided) || parties.count(Party::unplaced))
    text +=
        "Run the check again with --trace, against a reflector whose packet witness is on (it "
        "sees whether the SYN arrived and who answered it), to learn where. ";
  return text;
}

}  // namespace

std::string summarize(const SummaryInput& input) {
  const std::string host =
      input.reflector_host.empty() ? "the reflector host" : input.reflector_host;
  const std::string not_probed = not_probed_text(input.not_probed);
  if (!input.control_reached) {
    if (!input.not_probed.empty() && input.rows.empty())
      return "Nothing was measured." + not_probed;
    return "Nothing was measured: the reflector's control port could not be reached. Check that "
           "egress25-reflector is running on " +
           host + " and that its control port is open on its firewall, then run the check again." +
           not_probed;
  }
  if (input.rows.empty())
    return "Nothing was probed: the reflector advertised no services and no --ports were given." +
           not_probed;

  const PortStates states = port_states(input.rows);
  const Findings found = port_findings(states);
  if (found.text.empty()) {
    const auto& open_ports = found.open_ports;
    std::string conclusion = "Nothing blocks outbound mail from this network to the reflector: " +
                             std::string(open_ports.size() == 1 ? "port " : "ports ") +
                             join(open_ports, "and") + (open_ports.size() == 1 ? " is" : " are") +
                             " open end to end.";
    if (states.ports.count(25)) conclusion += " You can deliver mail directly on port 25.";
    return conclusion + not_probed;
  }
  std::string text = found.text + advice(found, host);
  text.pop_back();  // the trailing space
  return text + not_probed;
}

std::string destination_sentence(const std::string& target, std::uint16_t port,
                                 const std::vector<DestinationRow>& rows) {
  if (rows.empty()) return "";
  const std::string port_text = "port " + std::to_string(port);
  auto who = [](const DestinationRow& r) { return r.host + " over " + family_label(r.family); };
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
