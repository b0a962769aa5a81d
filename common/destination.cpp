// A mail destination: --target parsed, its MX hosts and addresses resolved with deadlines.
#include "destination.hpp"

#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cctype>
#include <thread>

#include "io_deadline.hpp"
#include "limits.hpp"

namespace egress25 {
namespace {

using io::as_result;
using io::before;
using io::steady_clock;
using net::ip::tcp;

struct MxLookup {
  std::vector<MxRecord> records;
  std::string error;  // why there are no records
};

// Blocking: run on a thread of its own. glibc's resolver (res_nquery, ns_initparse,
// ns_parserr) is the well-kept library for an MX query; getaddrinfo has no MX lookup,
// and a hand-written DNS client would be neither smaller nor safer.
MxLookup lookup_mx(const std::string& domain) {
  MxLookup out;
  struct __res_state state {};
  if (res_ninit(&state) != 0) {
    out.error = "the system resolver could not be initialised";
    return out;
  }
  state.retrans = limits::mx_retrans_seconds;
  state.retry = limits::mx_retry;
  std::vector<unsigned char> answer(NS_MAXMSG);
  int size = res_nquery(&state, domain.c_str(), ns_c_in, ns_t_mx, answer.data(),
                        static_cast<int>(answer.size()));
  if (size < 0) {
    switch (state.res_h_errno) {
      case HOST_NOT_FOUND:
        out.error = "the domain does not exist (NXDOMAIN)";
        break;
      case NO_DATA:
        out.error = "it has no MX record";
        break;
      case TRY_AGAIN:
        out.error = "the DNS did not answer the MX query in time (or failed)";
        break;
      default:
        out.error = "the MX query failed";
        break;
    }
  } else if (auto records = parse_mx_answer(answer.data(), static_cast<std::size_t>(size))) {
    out.records = std::move(*records);
    if (out.records.empty()) out.error = "it has no MX record";
  } else {
    out.error = "the MX answer could not be parsed";
  }
  res_nclose(&state);
  return out;
}

net::awaitable<DestinationHost> resolve_host(std::string name, std::vector<Family> families,
                                             steady_clock::time_point deadline) {
  DestinationHost host;
  host.name = name;
  tcp::resolver resolver(co_await net::this_coro::executor);
  auto resolved = co_await before(
      deadline, resolver.async_resolve(name, "25", tcp::resolver::numeric_service, as_result));
  if (!resolved) {
    host.error = "cannot resolve " + name + ": no answer in time";
    co_return host;
  }
  if (auto ec = std::get<0>(*resolved)) {
    host.error = "cannot resolve " + name + ": " + ec.message();
    co_return host;
  }
  for (Family family : families) {
    for (const auto& entry : std::get<1>(*resolved)) {
      auto address = entry.endpoint().address();
      if (address.is_v6() && address.to_v6().is_v4_mapped()) continue;
      if ((address.is_v4() ? Family::ipv4 : Family::ipv6) != family) continue;
      host.addresses.push_back(address);
      break;
    }
  }
  co_return host;
}

}  // namespace

bool is_host_name(const std::string& name) {
  // RFC 1123: labels of letters, digits and hyphens, not starting or ending with a
  // hyphen, 1..63 characters each, 253 in all; one trailing dot allowed.
  std::string_view rest = name;
  if (!rest.empty() && rest.back() == '.') rest.remove_suffix(1);
  if (rest.empty() || rest.size() > 253) return false;
  while (true) {
    auto dot = rest.find('.');
    std::string_view label = rest.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
    if (dot == std::string_view::npos) return true;
    rest.remove_prefix(dot + 1);
  }
}

std::optional<DestinationTarget> parse_target(const std::string& text, std::string& error,
                                              std::string_view port_option) {
  boost::system::error_code ec;
  if (!text.empty() && text.front() == '[') {
    if (text.back() != ']') {
      error = "--target '" + text + "': write [IP] with nothing after the ']'";
      return std::nullopt;
    }
    std::string inside = text.substr(1, text.size() - 2);
    net::ip::make_address(inside, ec);
    if (ec || inside.empty()) {
      error = "--target '" + text + "': '" + inside + "' in brackets is not an IP address";
      return std::nullopt;
    }
    return DestinationTarget{inside, true};
  }
  net::ip::make_address(text, ec);
  if (!ec) return DestinationTarget{text, true};
  if (text.find(':') != std::string::npos) {
    error = "--target '" + text + "' is not a name or an address (no port here: use " +
            std::string(port_option) + ")";
    return std::nullopt;
  }
  if (!is_host_name(text)) {
    error = "--target '" + text + "' is not a domain, a host name or [IP]";
    return std::nullopt;
  }
  return DestinationTarget{text, false};
}

std::optional<std::vector<MxRecord>> parse_mx_answer(const unsigned char* message,
                                                     std::size_t size) {
  ns_msg handle;
  if (ns_initparse(message, static_cast<int>(size), &handle) != 0) return std::nullopt;
  std::vector<MxRecord> records;
  const int count = ns_msg_count(handle, ns_s_an);
  for (int i = 0; i < count; ++i) {
    ns_rr rr;
    if (ns_parserr(&handle, ns_s_an, i, &rr) != 0) return std::nullopt;
    if (ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3) continue;
    const unsigned char* rdata = ns_rr_rdata(rr);
    MxRecord record;
    record.preference = ns_get16(rdata);
    char name[NS_MAXDNAME];
    if (ns_name_uncompress(ns_msg_base(handle), ns_msg_end(handle), rdata + 2, name, sizeof name) <
        0)
      return std::nullopt;
    record.host = name;
    if (record.host == ".") record.host.clear();
    while (!record.host.empty() && record.host.back() == '.') record.host.pop_back();
    records.push_back(std::move(record));
  }
  std::stable_sort(records.begin(), records.end(), [](const MxRecord& a, const MxRecord& b) {
    return a.preference < b.preference;
  });
  if (records.size() > limits::max_destination_hosts) records.resize(limits::max_destination_hosts);
  return records;
}

net::awaitable<Destination> resolve_destination(DestinationTarget target,
                                                std::vector<Family> families,
                                                std::chrono::milliseconds timeout) {
  Destination out;
  const auto deadline = steady_clock::now() + timeout;
  if (target.is_address) {
    out.how = "literal";
    DestinationHost host;
    host.name = target.name;
    boost::system::error_code ec;
    auto address = net::ip::make_address(target.name, ec);
    if (!ec) host.addresses.push_back(address);  // in its own family, whatever `families` says
    out.hosts.push_back(std::move(host));
    co_return out;
  }

  // The MX query blocks, so it runs on a thread of its own; the resolver's retrans and
  // retry bound it (at most mx_retrans_seconds × mx_retry per name server). The thread
  // wakes this coroutine by cancelling a timer on its executor: the handler it posts
  // runs only once this coroutine waits (the client runs its io_context on one thread).
  // Not co_spawn onto a thread pool: an awaitable frame made on one thread and freed on
  // another corrupts Asio's per-thread frame recycling (seen here as a malloc abort).
  auto executor = co_await net::this_coro::executor;
  MxLookup mx;
  net::steady_timer done(executor, steady_clock::time_point::max());
  std::thread worker([&mx, &done, executor, name = target.name] {
    mx = lookup_mx(name);
    net::post(executor, [&done] { done.cancel(); });
  });
  co_await done.async_wait(as_result);
  worker.join();

  if (!mx.records.empty() && mx.records.front().host.empty()) {
    out.error = target.name + " publishes a null MX (RFC 7505): it accepts no mail";
    co_return out;
  }
  std::vector<std::string> names;
  if (!mx.records.empty()) {
    out.how = "MX";
    for (const auto& r : mx.records)
      if (!r.host.empty()) names.push_back(r.host);
  } else {
    // Even after NXDOMAIN: getaddrinfo also reads /etc/hosts, which the DNS does not.
    // RFC 5321 §5.1: without MX records the domain's own address is the mail host.
    out.how = "address";
    names.push_back(target.name);
    out.mx_note = mx.error;
  }
  for (const auto& name : names) {
    auto host = co_await resolve_host(name, families, deadline);
    if (out.how == "address" && !host.error.empty()) host.error += " (MX query: " + mx.error + ")";
    out.hosts.push_back(std::move(host));
  }
  co_return out;
}

}  // namespace egress25
