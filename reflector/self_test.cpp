// --self-test: resolve the destination, try port 25 on each address, trace where it fails.
#include "self_test.hpp"

#include <fmt/format.h>

#include <boost/asio.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/json.hpp>
#include <exception>

#include "attribution.hpp"
#include "connect_back.hpp"
#include "destination.hpp"
#include "evidence_json.hpp"
#include "timed_io.hpp"
#include "tracer.hpp"

namespace egress25::reflector {

namespace {

using tcp = net::ip::tcp;
namespace json = boost::json;

// Reference ports, in the order tried: HTTPS, which no hosting provider blocks outbound,
// then submission, a mail host's usual second port. Not 465 or 587 first: a provider
// that blocks 25 often blocks those too, and the reference must get through.
constexpr std::uint16_t reference_ports[] = {443, 587};

// A plain connect and close: does the address answer on `port` at all?
net::awaitable<ReferenceConnect> connect_reference(net::ip::address address, std::uint16_t port) {
  ReferenceConnect r;
  r.port = port;
  tcp::socket socket(co_await net::this_coro::executor);
  const auto timeout = limits::self_test_reference_timeout;
  auto result = co_await within(
      socket.async_connect(tcp::endpoint(address, port), net::as_tuple(net::use_awaitable)),
      timeout);
  const auto ec = result ? std::get<0>(*result) : boost::system::error_code{};
  if (!result || ec == net::error::timed_out) {
    r.connect = ConnectOutcome::timed_out;
    r.error = fmt::format("no answer within {} ms", timeout.count());
  } else if (!ec) {
    r.connect = ConnectOutcome::connected;
  } else if (ec == net::error::connection_refused) {
    r.connect = ConnectOutcome::refused;
  } else {
    r.connect = ConnectOutcome::local_error;
    r.error = ec.message();
  }
  boost::system::error_code ignored;
  socket.close(ignored);
  co_return r;
}

// The first reference port that answered (accepted or refused: either way the host is
// there), else the first one: its trace still shows how far the routers let it go.
net::awaitable<std::uint16_t> choose_reference(SelfTestEvidence& e, net::ip::address address,
                                               std::uint16_t probed_port) {
  std::optional<std::uint16_t> first;
  for (const auto port : reference_ports) {
    if (port == probed_port) continue;
    if (!first) first = port;
    e.references.push_back(co_await connect_reference(address, port));
    const auto outcome = e.references.back().connect;
    if (outcome == ConnectOutcome::connected || outcome == ConnectOutcome::refused) co_return port;
  }
  co_return *first;
}

// One address: port 25's dialogue (EHLO and QUIT only); where it failed, a reference
// port and the trace of both; then the judgement.
net::awaitable<void> test_address(std::string host, net::ip::address address,
                                  const ConnectBackIo& io, std::uint16_t port,
                                  SelfTestResult& result) {
  auto& e = result.evidence;
  e.host = std::move(host);
  // A named Service, not a braced temporary: GCC 12 mishandles a braced-init argument to
  // a coroutine (it frees it twice).
  const control::Service service{port, ServiceKind::smtp, service_name(port, ServiceKind::smtp)};
  e.attempt = co_await greet(address, service, io);
  auto& a = e.attempt;
  if (a.connect == ConnectOutcome::local_error) {
    a.trace_unavailable = "nothing left this host: " + a.connect_error;
  } else if (a.connect != ConnectOutcome::connected) {
    e.reference_port = co_await choose_reference(e, address, port);
    TraceOptions options;
    options.budget = limits::self_test_trace_budget;
    a.trace = co_await trace_path(address, port, *e.reference_port, options);
  }
  result.judgement = judge_self_test(e);
}

// The destination's addresses, in order: each MX host (or the name), IPv4 then IPv6.
net::awaitable<std::vector<std::pair<std::string, net::ip::address>>> resolve(
    const SelfTestOptions& options, SelfTestReport& report) {
  const std::vector<Family> families{Family::ipv4, Family::ipv6};
  auto destination =
      co_await resolve_destination(options.target, families, limits::self_test_resolve_timeout);
  report.resolved_by = destination.how;
  std::vector<std::pair<std::string, net::ip::address>> out;
  for (const auto& host : destination.hosts) {
    report.hosts.push_back(host.name);
    if (host.addresses.empty())
      report.not_tested.push_back(host.error.empty() ? host.name + ": no address" : host.error);
    for (const auto& address : host.addresses) out.emplace_back(host.name, address);
  }
  if (!destination.error.empty()) {
    report.resolve_error = destination.error;
  } else if (out.empty()) {
    std::string why;
    for (const auto& n : report.not_tested) why += (why.empty() ? "" : "; ") + n;
    report.resolve_error = options.target.name + " gave no address (" + why + ")";
  }
  co_return out;
}

net::awaitable<void> run(const SelfTestOptions& options, const ConnectBackIo& io,
                         SelfTestReport& report) {
  auto executor = co_await net::this_coro::executor;
  const auto addresses = co_await resolve(options, report);
  report.results.resize(addresses.size());
  // Every address at once: each waits on its own timeouts, none on another's.
  using Op = decltype(net::co_spawn(executor, std::declval<net::awaitable<void>>(), net::deferred));
  std::vector<Op> ops;
  for (std::size_t i = 0; i < addresses.size(); ++i)
    ops.push_back(net::co_spawn(
        executor,
        test_address(addresses[i].first, addresses[i].second, io, options.port, report.results[i]),
        net::deferred));
  if (!ops.empty()) {
    auto [order, errors] = co_await net::experimental::make_parallel_group(std::move(ops))
                               .async_wait(net::experimental::wait_for_all(), net::use_awaitable);
    for (const auto& error : errors)
      if (error) std::rethrow_exception(error);  // a bug: network failures are data
  }
  report.summary =
      summarize_self_test(options.target.name, options.port, report.results, report.resolve_error);
}

std::string place_words(const Classification& c) {
  std::string out;
  switch (c.location) {
    case Location::none:
      return "";
    case Location::reflector_host:
      out = "on this host";
      break;
    case Location::destination:
      out = "at the destination";
      break;
    case Location::path:
      out = c.segment == Segment::reflector_network ? "in this host's own network (its hosting "
                                                      "provider)"
            : c.segment == Segment::upstream        ? "in a network between"
                                                    : "on the path";
      break;
    default:
      out = "(place unknown)";
      break;
  }
  if (c.blocking_hop) {
    // The place says whose it is; the hop's role is in the reasons.
    const auto& h = *c.blocking_hop;
    if (h.ttl > 0)
      out += fmt::format(", hop {}{}", h.ttl, h.address.empty() ? "" : " (" + h.address + ")");
  } else if (!c.blocking_candidates.empty()) {
    out += ", at one of:";
    for (const auto& h : c.blocking_candidates)
      out += " " + (h.ttl == 0 ? std::string("this host") : hop_words(h)) +
             (&h == &c.blocking_candidates.back() ? "" : ",");
  }
  return out;
}

json::value string_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(json_safe(s));
}

json::object result_json(const SelfTestResult& r) {
  const auto& a = r.evidence.attempt;
  json::object o;
  o["host"] = json_safe(r.evidence.host);
  o["address"] = a.address;
  o["family"] = to_string(a.family);
  o["port"] = a.port;
  put_classification(o, r.judgement);
  o["tested"] = self_test_tested(r.evidence);
  o["banner"] = string_or_null(a.banner.substr(0, a.banner.find_first_of("\r\n")));
  o["reference_port"] =
      r.evidence.reference_port ? json::value(*r.evidence.reference_port) : json::value(nullptr);
  o["elapsed_ms"] = static_cast<std::int64_t>(a.elapsed_ms + 0.5);
  json::array references;
  for (const auto& ref : r.evidence.references)
    references.push_back(json::object{{"port", ref.port},
                                      {"connect", to_string(ref.connect)},
                                      {"error", string_or_null(ref.error)}});
  o["evidence"] = json::object{{"attempt", to_json(a)}, {"references", std::move(references)}};
  return o;
}

}  // namespace

std::string render_text(const SelfTestReport& report) {
  std::string out = fmt::format("{} self-test: port {} from this host to {}\n", version_string(),
                                report.port, report.target);
  if (report.resolved_by == "MX") {
    std::string hosts;
    for (const auto& h : report.hosts) hosts += (hosts.empty() ? "" : ", ") + h;
    out += fmt::format("{} receives mail at {} (MX)\n", report.target, hosts);
  }
  out += "\n";
  for (const auto& r : report.results) {
    const auto& a = r.evidence.attempt;
    const auto& c = r.judgement;
    const bool tested = self_test_tested(r.evidence);
    const auto place = tested && c.verdict != Verdict::inconclusive ? place_words(c) : "";
    const auto host = r.evidence.host == a.address ? "" : printable(r.evidence.host, 253) + " ";
    out +=
        fmt::format("  {}{} ({}): {}{}\n", host, a.address, family_label(a.family),
                    tested ? to_string(c.verdict) : "not tested", place.empty() ? "" : " " + place);
    for (const auto& reason : c.reasons) out += "    - " + reason + "\n";
  }
  for (const auto& n : report.not_tested) out += "  not tested: " + printable(n, 300) + "\n";
  out += "\n" + report.summary.text + "\n";
  return out;
}

json::object render_json(const SelfTestReport& report) {
  json::object o;
  o["schema"] = "egress25.self-test/1";
  o["version"] = version_string();
  json::array hosts;
  for (const auto& h : report.hosts) hosts.push_back(json::string(json_safe(h)));
  o["target"] = json::object{{"name", json_safe(report.target)},
                             {"resolved_by", string_or_null(report.resolved_by)},
                             {"hosts", std::move(hosts)},
                             {"error", string_or_null(report.resolve_error)}};
  o["port"] = report.port;
  json::array results;
  for (const auto& r : report.results) results.push_back(result_json(r));
  o["results"] = std::move(results);
  json::array not_tested;
  for (const auto& n : report.not_tested) not_tested.push_back(json::string(json_safe(n)));
  o["not_tested"] = std::move(not_tested);
  o["summary"] = json::object{{"text", json_safe(report.summary.text)},
                              {"blocked_by", report.summary.blocked_by}};
  o["exit_status"] = report.summary.exit_status;
  return o;
}

int run_self_test(const SelfTestOptions& options, const std::string& ehlo_name, std::ostream& out) {
  net::io_context context;
  ConnectBackIo io;
  io.ehlo_name = ehlo_name;
  io.connect_timeout = limits::self_test_connect_timeout;
  io.reply_timeout = limits::self_test_reply_timeout;
  io.trace_budget = limits::self_test_trace_budget;
  SelfTestReport report;
  report.target = options.target.name;
  report.port = options.port;
  std::exception_ptr failure;
  net::co_spawn(context, run(options, io, report),
                [&failure](std::exception_ptr e) { failure = std::move(e); });
  context.run();
  if (failure) std::rethrow_exception(failure);
  if (options.json) {
    out << json::serialize(render_json(report)) << "\n";
  } else {
    out << render_text(report);
  }
  return report.summary.exit_status;
}

}  // namespace egress25::reflector
