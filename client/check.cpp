// `egress25 check`: control HELLO, concurrent probes, traces, REPORT, verdicts.
#include "check.hpp"

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/log/trivial.hpp>
#include <exception>
#include <memory>

#include "classifier.hpp"
#include "control_client.hpp"
#include "control_errors.hpp"
#include "control_protocol.hpp"
#include "deadline.hpp"
#include "destination.hpp"
#include "evidence_assembly.hpp"
#include "host_network.hpp"
#include "limits.hpp"
#include "smtp_probe.hpp"
#include "summary.hpp"
#include "tracer.hpp"

namespace egress25::client {
namespace {

using net::ip::tcp;
using std::chrono::milliseconds;

// A REPORT carries capped transcripts of every probe: give it longer than a HELLO.
constexpr milliseconds report_timeout = 3 * limits::default_control_timeout;
// When the reflector advertises nothing it could not say: a standard install.
const std::vector<std::uint16_t> standard_ports{25, 465, 587};
constexpr std::array<Family, 2> both_families{Family::ipv4, Family::ipv6};
// What HELLO says this client is.
const std::string client_version = EGRESS25_VERSION;
// EHLO name and SNI toward a --target destination: neutral, so that no third party
// learns the session's token or probe id.
const std::string destination_ehlo_name = "egress25-check.invalid";

struct FamilyControl {
  Family family = Family::ipv4;
  std::vector<tcp::endpoint> endpoints;  // resolved, this family only
  std::unique_ptr<ControlClient> control;
  std::optional<control::HelloResponse> hello;
};

Family family_of(const net::ip::address& a) {
  return a.is_v4() ? Family::ipv4 : Family::ipv6;
}

std::string family_words(Family f) {
  return f == Family::ipv4 ? "IPv4" : "IPv6";
}

std::string host_port_text(const std::string& host, std::uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// The name the reflector gave a port (it knows it under --port-offset), else the usual one.
std::string name_for(std::uint16_t port, ServiceKind kind,
                     const std::vector<control::Service>& services) {
  for (const auto& s : services)
    if (s.port == port && !s.name.empty()) return s.name;
  return service_name(port, kind);
}

ServiceKind kind_for(std::uint16_t port, const std::vector<control::Service>& services) {
  for (const auto& s : services)
    if (s.port == port) return s.kind;
  // Not advertised: RFC 8314 implicit TLS on 465, plain SMTP with STARTTLS elsewhere.
  return port == 465 ? ServiceKind::smtps : ServiceKind::smtp;
}

// A sentence for an answer to HELLO that is not a HelloResponse; "" when it is one.
std::string hello_failure(const ControlClient::Answer& answer, const ControlClient& control,
                          bool have_secret) {
  const std::string endpoint = endpoint_text(control.remote());
  if (const auto* transport = std::get_if<std::string>(&answer)) {
    if (control.foreign()) return endpoint + " " + *control.foreign();
    if (*transport == closed_by_peer)
      return endpoint +
             " closed the connection without answering HELLO: is it the reflector's control "
             "port? (Its implicit-TLS mail port, 465, closes like this.) The control port is " +
             std::to_string(control::default_control_port) + " unless the reflector moved it";
    return "the reflector's control port " + endpoint + " did not answer HELLO: " + *transport;
  }
  const auto& response = std::get<control::Response>(answer);
  if (const auto* error = std::get_if<control::ErrorResponse>(&response)) {
    std::string text = "the reflector refused HELLO (" + std::string(to_string(error->code)) +
                       "): " + error->message;
    if (error->code == control::ErrorCode::forbidden && !have_secret)
      text += " (the reflector requires --secret-file)";
    return text;
  }
  if (!std::holds_alternative<control::HelloResponse>(response))
    return "the reflector answered HELLO with something other than a HELLO response";
  return "";
}

// Runs every job at once and returns when all have finished: a counter, and a timer the
// last one cancels. Everything runs on one thread, so the counter needs no lock.
net::awaitable<void> run_all(std::vector<net::awaitable<void>> jobs) {
  auto executor = co_await net::this_coro::executor;
  std::size_t remaining = jobs.size();
  net::steady_timer all_done(executor, net::steady_timer::time_point::max());
  for (auto& job : jobs)
    net::co_spawn(executor, std::move(job), [&](std::exception_ptr e) {
      if (e) {
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          BOOST_LOG_TRIVIAL(error) << "a probe failed unexpectedly: " << ex.what();
        }
      }
      if (--remaining == 0) all_done.cancel();
    });
  if (remaining > 0) co_await all_done.async_wait(as_result);
}

// What the progress display hears of one probe: that it connected, and how it ended.
struct ProbeWatch {
  std::function<void()> connected;
  std::function<void()> done;
};

net::awaitable<void> probe_into(ClientProbe& out, ProbeSpec spec, net::ssl::context& tls,
                                ProbeWatch watch = {}) {
  std::string service = std::move(out.service);  // known here, not to the probe itself
  if (watch.connected)
    spec.on_connected = [also = std::move(spec.on_connected), tell = watch.connected] {
      if (also) also();
      tell();
    };
  out = co_await run_smtp_probe(std::move(spec), tls);
  out.service = std::move(service);
  if (watch.done) watch.done();
}

// Tells `progress` of probe `index` of the probes_started event.
ProbeWatch watch_for(const ProgressHook& progress, std::size_t index, const ClientProbe& probe) {
  if (!progress) return {};
  return {[&progress, index] {
            progress(ProgressEvent{ProgressEvent::Kind::probe_connected, {}, {}, {}, index});
          },
          [&progress, index, &probe] {
            progress(ProgressEvent{
                ProgressEvent::Kind::probe_done, probe_outcome_words(probe), {}, {}, index});
          }};
}

void tell_phase(const ProgressHook& progress, std::string text) {
  if (progress) progress(ProgressEvent{ProgressEvent::Kind::phase, std::move(text), {}, {}, 0});
}

net::awaitable<void> trace_into(TraceOutcome& out, net::ip::address target, std::uint16_t port,
                                std::uint16_t reference_port,
                                TraceOptions trace_options = TraceOptions{}) {
  try {
    out.trace = co_await trace_path(target, port, reference_port, trace_options);
  } catch (const std::exception& e) {
    out.unavailable = std::string("the trace failed: ") + e.what();
  }
}

// The trace of a probe whose SYN goes unanswered runs while the probe still waits, not
// after it: it starts once an answer is overdue (a few control round trips) and ends
// with the probe's own budget, so a dropped port costs the probe timeout, not that plus
// a trace. A probe that connects first needs none.
struct EarlyTrace {
  explicit EarlyTrace(const net::any_io_executor& executor) : due(executor) {}
  net::steady_timer due;
  bool connected = false;
};

net::awaitable<void> trace_if_unanswered(TraceOutcome& out, std::shared_ptr<EarlyTrace> early,
                                         ProbeSpec spec, std::uint16_t reference_port,
                                         steady_clock::time_point probe_deadline) {
  co_await early->due.async_wait(as_result);
  if (early->connected) co_return;
  // Silent hops are waited for until the probe gives up, and never less than what one
  // answer from the far end of a slow path needs.
  constexpr milliseconds least_budget{500};
  TraceOptions trace_options;
  trace_options.budget = std::max(
      least_budget, std::chrono::duration_cast<milliseconds>(probe_deadline - steady_clock::now()));
  co_await trace_into(out, spec.address, spec.port, reference_port, trace_options);
}

net::awaitable<void> probe_and_trace(ClientProbe& probe, ProbeSpec spec, net::ssl::context& tls,
                                     TraceOutcome& trace, milliseconds trace_after,
                                     std::uint16_t reference_port, ProbeWatch watch) {
  auto executor = co_await net::this_coro::executor;
  auto early = std::make_shared<EarlyTrace>(executor);
  const auto start = steady_clock::now();
  early->due.expires_at(start + trace_after);
  spec.on_connected = [early] {
    early->connected = true;
    early->due.cancel();
  };
  std::vector<net::awaitable<void>> jobs;
  jobs.push_back(
      trace_if_unanswered(trace, early, spec, reference_port, start + spec.connect_timeout));
  jobs.push_back(probe_into(probe, std::move(spec), tls, std::move(watch)));
  co_await run_all(std::move(jobs));
}

// A probe as planned: what the report will say of it, and how to run it (nullopt: it
// cannot be sent, and `probe` says why).
struct PlannedProbe {
  ClientProbe probe;
  std::optional<ProbeSpec> spec;
};

// The REPORT, reconnecting once when the reflector closed the idle control connection.
net::awaitable<ReportOutcome> fetch_report(ControlClient& control, std::string token,
                                           milliseconds control_timeout) {
  ReportOutcome outcome;
  for (int attempt = 0; attempt < 2 && !outcome.report; ++attempt) {
    if (!control.is_open()) {
      // Not `connect({endpoint})`: a braced list inside a coroutine trips GCC 12 ("array
      // used as initializer").
      std::vector<tcp::endpoint> again(1, control.remote());
      auto error = co_await control.connect(std::move(again), control_timeout);
      if (!error.empty()) {
        outcome.error = "the REPORT could not be fetched: " + error;
        continue;
      }
    }
    // Named, not a temporary inside the co_await: GCC 12 destroys such temporaries twice
    // (a double free seen here).
    control::Request report_request = control::ReportRequest{token};
    auto got = co_await control.request(std::move(report_request), report_timeout);
    if (const auto* transport = std::get_if<std::string>(&got)) {
      outcome.error = "the REPORT could not be fetched: " + *transport;
      continue;
    }
    const auto& response = std::get<control::Response>(got);
    if (const auto* r = std::get_if<control::ReportResponse>(&response)) {
      outcome.report = *r;
    } else if (const auto* e = std::get_if<control::ErrorResponse>(&response)) {
      outcome.error = "the reflector refused the REPORT (" + std::string(to_string(e->code)) +
                      "): " + e->message;
      break;
    } else {
      outcome.error = "the reflector answered REPORT with something else";
      break;
    }
  }
  co_return outcome;
}

ProbeResult unprobed(ClientProbe probe, const std::string& why) {
  ProbeResult result;
  result.evidence.client = std::move(probe);
  result.evidence.reflector.report_error = why;
  result.evidence.trace_unavailable = "nothing was probed";
  result.classification.verdict = Verdict::inconclusive;
  result.classification.location = Location::unknown;
  std::string reason = "Nothing was probed: " + why;
  if (reason.back() != '.' && reason.back() != '?') reason += '.';
  result.classification.reasons.push_back(std::move(reason));
  return result;
}

// The report when no control connection could be had: every probe inconclusive.
// `self_explained`: the error names its own cause and next step (a name that does not
// resolve, a port that speaks SMTP), so the summary says just that, not "check that the
// reflector runs and its firewall lets the control port through".
CheckReport unreachable(CheckReport report, const CheckOptions& options,
                        const std::vector<FamilyControl>& families, std::string error,
                        bool self_explained = false) {
  report.control_reached = false;
  report.witness_reason = "unknown: the reflector could not be asked";
  report.control_error = std::move(error);
  std::vector<Family> probed;
  for (const auto& fc : families) probed.push_back(fc.family);
  if (probed.empty()) {
    if (options.family != FamilyChoice::ipv6) probed.push_back(Family::ipv4);
    if (options.family == FamilyChoice::ipv6 || options.family == FamilyChoice::both)
      probed.push_back(Family::ipv6);
    // A family this host cannot use at all is named once, not probed.
    std::erase_if(probed, [&](Family f) {
      return std::any_of(report.not_probed.begin(), report.not_probed.end(),
                         [&](const NotProbed& n) { return n.family == f; });
    });
  }
  const auto& ports = options.ports.empty() ? standard_ports : options.ports;
  for (auto& skipped : report.not_probed)
    if (skipped.ports.empty()) skipped.ports = ports;
  for (auto port : ports)
    for (Family family : probed) {
      ClientProbe probe;
      probe.host = options.reflector_host;
      for (const auto& fc : families)
        if (fc.family == family && !fc.endpoints.empty())
          probe.address = fc.endpoints.front().address().to_string();
      probe.port = port;
      probe.kind = kind_for(port, {});
      probe.service = service_name(port, probe.kind);
      probe.family = family;
      report.probes.push_back(unprobed(std::move(probe), report.control_error));
    }
  SummaryInput input;
  input.reflector_host = options.reflector_host;
  input.control_reached = false;
  for (const auto& skipped : report.not_probed) input.not_probed.push_back(skipped.reason);
  input.control_error = report.control_error;
  report.summary =
      self_explained ? nothing_measured(report.control_error, input.not_probed) : summarize(input);
  return report;
}

}  // namespace

std::optional<std::string> no_trace_reason(const ClientProbe& probe, const ProbeResult& untraced,
                                           bool tracing) {
  const Classification& c = untraced.classification;
  const bool relayed =
      std::any_of(untraced.evidence.reflector.tagged.begin(),
                  untraced.evidence.reflector.tagged.end(), [&](const ConnectionRecord& r) {
                    return r.peer_address != untraced.evidence.reflector.client_public_address;
                  });
  if (probe.connect == ConnectOutcome::connected && c.verdict == Verdict::open && !relayed)
    return "the probe reached the reflector unchanged: there was nothing to locate";
  if (c.refused_by_reflector)
    return "the reflector refused the connection for its own limits: there is nothing on the "
           "path to locate";
  if (probe.connect == ConnectOutcome::not_attempted ||
      probe.connect == ConnectOutcome::local_error)
    return "nothing left this host, so there is no path to trace";
  if (!tracing) return "tracing was turned off (--no-trace)";
  return std::nullopt;
}

SummaryRow summary_row(const ProbeResult& result) {
  const ClientProbe& p = result.evidence.client;
  const Classification& c = result.classification;
  SummaryRow row;
  row.port = p.port;
  row.service = p.service;
  row.family = p.family;
  row.verdict = c.verdict;
  row.location = c.location;
  row.segment = c.segment;
  row.blocking_hop = c.blocking_hop;
  row.candidates = c.blocking_candidates;
  row.refused_by_reflector = c.refused_by_reflector;
  for (const auto& r : result.evidence.reflector.tagged)
    if (r.peer_address != result.evidence.reflector.client_public_address)
      row.arrived_from = r.peer_address;
  return row;
}

std::chrono::milliseconds timeout_from_rtt(double rtt_ms) {
  auto computed =
      milliseconds(static_cast<long long>(4 * std::max(rtt_ms, 0.0))) + milliseconds(1000);
  return std::clamp<milliseconds>(computed, limits::min_probe_timeout, limits::max_probe_timeout);
}

int exit_status(const CheckReport& report) {
  if (!report.control_reached) return 3;
  for (const auto& p : report.probes)
    if (p.classification.verdict != Verdict::open) return 1;
  return 0;
}

net::awaitable<CheckReport> run_check(CheckOptions options, std::optional<std::string> secret,
                                      ProgressHook progress) {
  auto executor = co_await net::this_coro::executor;
  CheckReport report;
  report.reflector_host = options.reflector_host;
  report.control_endpoint = host_port_text(options.reflector_host, options.control_port);
  const milliseconds control_timeout = limits::default_control_timeout;

  // ---- Resolve the reflector, split by family --------------------------------------
  std::vector<FamilyControl> families;
  {
    boost::system::error_code not_literal;
    net::ip::make_address(options.reflector_host, not_literal);
    if (not_literal) tell_phase(progress, "resolving " + options.reflector_host);
    tcp::resolver resolver(executor);
    const std::string service = std::to_string(options.control_port);
    auto resolved =
        co_await before(steady_clock::now() + control_timeout,
                        resolver.async_resolve(options.reflector_host, service,
                                               tcp::resolver::numeric_service, as_result));
    if (!resolved || std::get<0>(*resolved)) {
      auto ec = resolved ? std::get<0>(*resolved) : boost::system::error_code{};
      co_return unreachable(std::move(report), options, families,
                            resolve_failure(options.reflector_host, ec, control_timeout), true);
    }
    for (const auto& entry : std::get<1>(*resolved)) {
      auto endpoint = entry.endpoint();
      if (endpoint.address().is_v6() && endpoint.address().to_v6().is_v4_mapped()) continue;
      Family family = family_of(endpoint.address());
      auto it = std::find_if(families.begin(), families.end(),
                             [&](const FamilyControl& fc) { return fc.family == family; });
      if (it == families.end()) {
        families.push_back(FamilyControl{family, {}, nullptr, std::nullopt});
        it = families.end() - 1;
      }
      if (std::find(it->endpoints.begin(), it->endpoints.end(), endpoint) == it->endpoints.end())
        it->endpoints.push_back(endpoint);
    }
  }
  // Keep the families asked for, in the resolver's order (it knows the host's preference).
  auto wanted = [&](Family f) {
    switch (options.family) {
      case FamilyChoice::ipv4:
        return f == Family::ipv4;
      case FamilyChoice::ipv6:
        return f == Family::ipv6;
      default:
        return true;
    }
  };
  std::vector<std::string> unwanted_addresses;  // to name them when no wanted one is left
  for (const auto& fc : families)
    if (!wanted(fc.family))
      for (const auto& e : fc.endpoints) unwanted_addresses.push_back(e.address().to_string());
  std::erase_if(families, [&](const FamilyControl& fc) { return !wanted(fc.family); });
  if (options.family == FamilyChoice::both)
    for (Family f : both_families)
      if (std::none_of(families.begin(), families.end(),
                       [&](const FamilyControl& fc) { return fc.family == f; }))
        families.push_back(FamilyControl{f, {}, nullptr, std::nullopt});

  // ---- Families that cannot be used at all: one line each, not a block -------------
  // A reflector name without an address of a family, or a host without a route or an
  // address of it, says nothing about blocking: those families are left out, and named.
  std::vector<std::string> unusable;
  std::erase_if(families, [&](const FamilyControl& fc) {
    std::optional<std::string> why;
    if (fc.endpoints.empty())
      why = "the reflector's name " + options.reflector_host + " has no " +
            family_words(fc.family) + " address";
    else
      why = family_unusable(fc.endpoints.front().address());
    if (!why) return false;
    report.not_probed.push_back(
        NotProbed{Target::reflector, options.reflector_host, fc.family, options.ports, *why});
    unusable.push_back(*why);
    return true;
  });
  if (families.empty()) {
    boost::system::error_code not_literal;
    net::ip::make_address(options.reflector_host, not_literal);
    std::string why =
        unusable.empty()
            ? family_missing(options.reflector_host,
                             options.family == FamilyChoice::ipv6 ? Family::ipv6 : Family::ipv4,
                             unwanted_addresses, !not_literal)
            : unusable.front();
    // A family this host cannot use is already one sentence of the summary.
    co_return unreachable(std::move(report), options, families, why, unusable.empty());
  }

  // ---- Control: HELLO on the first family that answers, then join with the others ----
  tell_phase(progress, "connecting to the reflector's control port " +
                           endpoint_text(families.front().endpoints.front()));
  FamilyControl* primary = nullptr;
  std::string connect_error;
  for (auto& fc : families) {
    fc.control = std::make_unique<ControlClient>(executor);
    auto error = co_await fc.control->connect(fc.endpoints, control_timeout);
    if (error.empty()) {
      primary = &fc;
      break;
    }
    if (connect_error.empty()) {
      connect_error = error;
      report.control_endpoint = endpoint_text(fc.control->remote());
    }
  }
  if (!primary)
    co_return unreachable(std::move(report), options, families,
                          "cannot reach the reflector's control port " + connect_error);
  report.control_endpoint = endpoint_text(primary->control->remote());
  report.local_address = primary->control->local().address().to_string();

  control::HelloRequest hello_request;
  hello_request.client_version = client_version;
  hello_request.secret = secret;
  const std::int64_t hello_sent_ms = unix_ms_now();
  auto answer = co_await primary->control->request(hello_request, control_timeout);
  if (auto failure = hello_failure(answer, *primary->control, secret.has_value()); !failure.empty())
    co_return unreachable(std::move(report), options, families, failure, true);
  primary->hello = std::get<control::HelloResponse>(std::get<control::Response>(answer));
  const control::HelloResponse hello = *primary->hello;
  const Family primary_family = primary->family;
  // The smaller of two samples: a connect may have waited for neighbour discovery or ARP,
  // a request for the reflector's own work; neither is the path.
  const double rtt_ms =
      std::min(primary->control->connect_ms(), primary->control->last_request_ms());
  const HelloTiming hello_timing{hello_sent_ms, rtt_ms, hello.server_time_unix_ms};
  report.control_reached = true;
  report.control_rtt_ms = rtt_ms;
  report.reflector_version = hello.version;
  report.public_address = hello.client_address;
  report.witness_active = hello.witness.active;
  report.witness_reason = hello.witness.reason;
  BOOST_LOG_TRIVIAL(debug) << "control: HELLO answered in " << primary->control->last_request_ms()
                           << " ms; we are " << hello.client_address << ", reflector "
                           << hello.version;

  for (auto& fc : families) {
    // A family with a control client already is the primary or one that failed above.
    if (fc.control) continue;
    fc.control = std::make_unique<ControlClient>(executor);
    auto error = co_await fc.control->connect(fc.endpoints, control_timeout);
    if (error.empty()) {
      control::HelloRequest join;
      join.client_version = client_version;
      join.token = hello.token;
      join.secret = secret;
      auto joined = co_await fc.control->request(join, control_timeout);
      error = hello_failure(joined, *fc.control, secret.has_value());
      if (error.empty())
        fc.hello = std::get<control::HelloResponse>(std::get<control::Response>(joined));
    }
    fc.control->close();  // only the first family's connection carries the REPORT
    if (!error.empty())
      BOOST_LOG_TRIVIAL(debug) << "control over " << family_words(fc.family) << ": " << error;
  }
  // With --family auto a family this host cannot reach the reflector over is left out;
  // one asked for by name (4, 6, both) is probed and reported either way.
  if (options.family == FamilyChoice::automatic)
    std::erase_if(families, [](const FamilyControl& fc) { return !fc.hello.has_value(); });
  primary = &*std::find_if(families.begin(), families.end(),
                           [&](const FamilyControl& fc) { return fc.family == primary_family; });

  SessionFacts session;
  session.expected_fingerprint = hello.tls_fingerprint;
  session.banner_identity = hello.banner_identity;
  session.services = hello.services;
  for (const auto& fc : families)
    if (fc.hello) {
      (fc.family == Family::ipv4 ? session.public_ipv4 : session.public_ipv6) =
          fc.hello->client_address;
    }

  // ---- Plan the probes ----------------------------------------------------------------
  const milliseconds timeout = options.timeout.value_or(timeout_from_rtt(rtt_ms));
  report.probe_timeout_ms = static_cast<double>(timeout.count());
  // A step of a live dialogue is not a silent path: give it at least the control
  // timeout, and the whole probe room for banner, EHLO, STARTTLS, TLS, EHLO and QUIT.
  const milliseconds step_timeout = std::max(timeout, control_timeout);
  const milliseconds budget = timeout + 6 * step_timeout;

  std::vector<std::uint16_t> ports = options.ports;
  if (ports.empty())
    for (const auto& s : hello.services) ports.push_back(s.port);
  for (auto& skipped : report.not_probed)
    if (skipped.ports.empty()) skipped.ports = ports;

  std::vector<PlannedProbe> planned;
  int tag_index = 0;
  for (auto port : ports)
    for (const auto& fc : families) {
      PlannedProbe p;
      p.probe.host = options.reflector_host;
      p.probe.port = port;
      p.probe.kind = kind_for(port, hello.services);
      p.probe.service = name_for(port, p.probe.kind, hello.services);
      p.probe.family = fc.family;
      p.probe.probe_tag = control::make_probe_tag(hello.probe_id, ++tag_index);
      // The address the control connection reached, so both measure the same host.
      auto address =
          fc.control && fc.hello ? fc.control->remote().address() : fc.endpoints.front().address();
      p.probe.address = address.to_string();
      p.spec =
          ProbeSpec{options.reflector_host, address, port, p.probe.kind, p.probe.probe_tag, timeout,
                    step_timeout,           budget,  {}};
      planned.push_back(std::move(p));
    }

  // ---- --target: a real destination on port 25, its MX hosts else its address -------
  std::vector<PlannedProbe> destinations;
  if (options.target) {
    std::vector<Family> destination_families;
    for (const auto& fc : families) destination_families.push_back(fc.family);
    if (!options.target->is_address) tell_phase(progress, "looking up " + options.target->name);
    auto destination =
        co_await resolve_destination(*options.target, destination_families, control_timeout);
    BOOST_LOG_TRIVIAL(debug) << "target " << options.target->name << ": "
                             << destination.hosts.size() << " host(s) by " << destination.how
                             << (destination.error.empty() ? "" : ": " + destination.error);
    if (destination.hosts.empty())
      destination.hosts.push_back(DestinationHost{options.target->name, {}, destination.error});
    for (const auto& host : destination.hosts) {
      std::vector<Family> host_families = destination_families;
      if (options.target->is_address)  // a literal is probed in its own family
        host_families.assign(1, host.addresses.empty() ? destination_families.front()
                                                       : family_of(host.addresses.front()));
      for (Family family : host_families) {
        PlannedProbe p;
        p.probe.host = host.name;
        p.probe.port = options.target_port;
        p.probe.kind = ServiceKind::smtp;
        p.probe.service = service_name(options.target_port, ServiceKind::smtp);
        p.probe.family = family;
        auto address = std::find_if(host.addresses.begin(), host.addresses.end(),
                                    [&](const auto& a) { return family_of(a) == family; });
        if (address != host.addresses.end() && wanted(family)) {
          p.probe.address = address->to_string();
          p.spec = ProbeSpec{host.name,         *address, options.target_port,
                             ServiceKind::smtp, "",       timeout,
                             step_timeout,      budget,   destination_ehlo_name};
        } else if (host.error.empty() && !host.addresses.empty()) {
          // Most MX hosts have no IPv6 address: not a failure, one line.
          report.not_probed.push_back(
              NotProbed{Target::destination,
                        host.name,
                        family,
                        {options.target_port},
                        address != host.addresses.end()
                            ? host.name + " is an " + family_words(family) +
                                  " address, which --family excludes"
                            : host.name + " has no " + family_words(family) + " address"});
          continue;
        } else {
          p.probe.connect = ConnectOutcome::not_attempted;
          p.probe.connect_error = !host.error.empty() ? host.error : host.name + " has no address";
        }
        destinations.push_back(std::move(p));
      }
    }
  }

  // ---- Probes, all at once, each traced while it waits if its SYN goes unanswered ----
  // An early trace's SYNs to a port share the witness window with the probe's: they meet
  // the same filters as the probe's own (a dropped port drops them too, a host firewall
  // sees them too), so the witness's view of the port is the same either way.
  auto tls = make_probe_tls_context();
  const std::int64_t probes_started_ms = unix_ms_now();
  std::vector<TraceOutcome> traces(planned.size());
  {
    const milliseconds trace_after =
        std::max(milliseconds(150), milliseconds(static_cast<long long>(3 * rtt_ms)));
    std::vector<net::awaitable<void>> jobs;
    ProgressEvent started{ProgressEvent::Kind::probes_started, {}, {}, timeout, 0};
    for (std::size_t i = 0; i < planned.size(); ++i) {
      if (!planned[i].spec) continue;
      auto watch = watch_for(progress, started.labels.size(), planned[i].probe);
      started.labels.push_back(probe_label(planned[i].probe, false));
      if (options.trace)
        jobs.push_back(probe_and_trace(planned[i].probe, *planned[i].spec, tls, traces[i],
                                       trace_after, options.control_port, std::move(watch)));
      else
        jobs.push_back(probe_into(planned[i].probe, *planned[i].spec, tls, std::move(watch)));
    }
    for (auto& p : destinations)
      if (p.spec) {
        auto watch = watch_for(progress, started.labels.size(), p.probe);
        started.labels.push_back(probe_label(p.probe, true));
        jobs.push_back(probe_into(p.probe, *p.spec, tls, std::move(watch)));
      }
    if (progress) progress(started);
    co_await run_all(std::move(jobs));
  }
  // The REPORT that follows travels behind every SYN the probes sent, so the witness has
  // seen them all by the time it is asked; the window still takes the clock offset.
  set_witness_window(session, hello_timing, probes_started_ms, unix_ms_now());

  // ---- REPORT, reconnecting when the reflector closed the idle connection ------------
  tell_phase(progress, "asking the reflector what it saw");
  ReportOutcome outcome = co_await fetch_report(*primary->control, hello.token, control_timeout);
  primary->control->close();
  if (outcome.report) {
    report.witness_active = outcome.report->witness.active;
    report.witness_reason = outcome.report->witness.reason;
  } else {
    BOOST_LOG_TRIVIAL(debug) << outcome.error;
  }
  for (const auto& fc : families) {
    auto address = public_address_for(fc.family, session, outcome);
    (fc.family == Family::ipv4 ? report.public_ipv4 : report.public_ipv6) = address;
    (fc.family == Family::ipv4 ? report.host_ipv4 : report.host_ipv6) =
        read_host_network(fc.family);
  }
  auto host_of = [&](Family f) {
    const auto& h = f == Family::ipv4 ? report.host_ipv4 : report.host_ipv6;
    return h.value_or(HostNetwork{});
  };

  // ---- Judge without traces, then trace what is not plainly open -------------------
  std::vector<ProbeResult> results(planned.size());
  for (std::size_t i = 0; i < planned.size(); ++i) {
    results[i].evidence = assemble_evidence(planned[i].probe, session, outcome, TraceOutcome{});
    results[i].evidence.host = host_of(planned[i].probe.family);
    results[i].classification = classify(results[i].evidence);
  }
  {
    std::vector<net::awaitable<void>> jobs;
    for (std::size_t i = 0; i < planned.size(); ++i) {
      if (auto why = no_trace_reason(planned[i].probe, results[i], options.trace)) {
        traces[i] = TraceOutcome{std::nullopt, *why};
      } else if (!traces[i].trace && traces[i].unavailable.empty()) {
        jobs.push_back(trace_into(traces[i], planned[i].spec->address, planned[i].probe.port,
                                  options.control_port));
      }
    }
    if (!jobs.empty()) tell_phase(progress, "tracing the path of what is not open");
    co_await run_all(std::move(jobs));
  }

  // ---- Evidence, verdicts, summary ----------------------------------------------------
  SummaryInput summary_input;
  summary_input.reflector_host = options.reflector_host;
  for (std::size_t i = 0; i < planned.size(); ++i) {
    ProbeResult& result = results[i];
    if (traces[i].trace || !traces[i].unavailable.empty()) {
      result.evidence = assemble_evidence(planned[i].probe, session, outcome, std::move(traces[i]));
      result.evidence.host = host_of(planned[i].probe.family);
      result.classification = classify(result.evidence);
    }
    summary_input.rows.push_back(summary_row(result));
    report.probes.push_back(std::move(result));
  }
  for (const auto& skipped : report.not_probed)
    if (skipped.target == Target::reflector) summary_input.not_probed.push_back(skipped.reason);
  report.summary = summarize(summary_input);

  // Destination probes, judged against the reflector probe of port 25 in the same family
  // (by number, or the reflector's "smtp" service when it runs with a port offset).
  std::vector<DestinationRow> destination_rows;
  const std::size_t reflector_count = report.probes.size();
  for (auto& planned_destination : destinations) {
    ProbeResult result;
    ClientProbe& probe = planned_destination.probe;
    result.evidence.target = Target::destination;
    result.evidence.trace_unavailable = "not traced for destinations";
    result.evidence.host = host_of(probe.family);
    for (int pass = 0; pass < 2 && !result.evidence.reference_verdict; ++pass)
      for (std::size_t i = 0; i < reflector_count; ++i) {
        const ClientProbe& r = report.probes[i].evidence.client;
        if (r.family != probe.family) continue;
        if (pass == 0 ? r.port == 25 : r.service == "smtp") {
          result.evidence.reference_verdict = report.probes[i].classification.verdict;
          break;
        }
      }
    result.evidence.client = std::move(probe);
    result.classification = classify(result.evidence);
    const ClientProbe& p = result.evidence.client;
    destination_rows.push_back(DestinationRow{
        p.host, p.family, result.classification.verdict, result.classification.location,
        result.classification.reasons.empty() ? "" : result.classification.reasons.front()});
    report.probes.push_back(std::move(result));
  }
  if (options.target) {
    auto sentence =
        destination_sentence(options.target->name, options.target_port, destination_rows);
    if (!sentence.empty()) report.summary += (report.summary.empty() ? "" : " ") + sentence;
  }
  co_return report;
}

}  // namespace egress25::client
