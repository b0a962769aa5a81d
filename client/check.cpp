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

#include "check_plan.hpp"
#include "classifier.hpp"
#include "control_client.hpp"
#include "control_errors.hpp"
#include "control_protocol.hpp"
#include "deadline.hpp"
#include "destination.hpp"
#include "early_connect.hpp"
#include "evidence_assembly.hpp"
#include "gateway_query.hpp"
#include "host_network.hpp"
#include "inbound.hpp"
#include "inbound_judgement.hpp"
#include "limits.hpp"
#include "nat.hpp"
#include "smtp_probe.hpp"
#include "summary.hpp"
#include "tracer.hpp"

namespace egress25::client {
namespace {

using net::ip::tcp;
using std::chrono::milliseconds;

// What HELLO says this client is.
const std::string client_version = EGRESS25_VERSION;

// One family of the reflector and its control connection, once tried.
struct FamilyControl {
  ResolvedFamily resolved;
  std::unique_ptr<ControlClient> control;
  std::optional<control::HelloResponse> hello;
};

std::string host_port_text(const std::string& host, std::uint16_t port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
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
  TraceOptions trace_options;
  trace_options.budget = std::max<milliseconds>(
      limits::min_trace_budget,
      std::chrono::duration_cast<milliseconds>(probe_deadline - steady_clock::now()));
  co_await trace_into(out, spec.address, spec.port, reference_port, trace_options);
}

net::awaitable<void> probe_and_trace(ClientProbe& probe, ProbeSpec spec, net::ssl::context& tls,
                                     TraceOutcome& trace, milliseconds trace_after,
                                     std::uint16_t reference_port, ProbeWatch watch) {
  auto executor = co_await net::this_coro::executor;
  auto early = std::make_shared<EarlyTrace>(executor);
  const auto start = spec.early ? spec.early->started : steady_clock::now();
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

// A REPORT asked while the probes still wait. When every reflector probe still running
// waits for an answer to its SYN (none is in a dialogue, whose record would be missing),
// the REPORT is asked one round trip before they give up, so that its answer is there
// when they do: a silently dropped port then costs control connect, HELLO and the probe
// timeout, not one round trip more. A probe that connects after it was asked makes it
// stale, and the REPORT is asked again once every probe is done.
struct EarlyReport {
  explicit EarlyReport(const net::any_io_executor& executor) : due(executor) {}
  net::steady_timer due;
  std::size_t running = 0;      // reflector probes not done
  std::size_t in_dialogue = 0;  // connected and not done
  bool asked = false;
  bool stale = false;
  std::int64_t asked_unix_ms = 0;
  std::optional<ReportOutcome> outcome;
};

// `inner`, and what `early` needs to know of one reflector probe.
ProbeWatch watch_for_early_report(const std::shared_ptr<EarlyReport>& early, ProbeWatch inner) {
  ++early->running;
  auto connected = std::make_shared<bool>(false);
  return {[early, connected, tell = inner.connected] {
            *connected = true;
            ++early->in_dialogue;
            if (early->asked) early->stale = true;
            if (tell) tell();
          },
          [early, connected, tell = inner.done] {
            if (*connected) --early->in_dialogue;
            if (--early->running == 0) early->due.cancel();
            if (tell) tell();
          }};
}

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
    auto got = co_await control.request(std::move(report_request), limits::report_timeout);
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

// Why a check ends before probing: the sentence, and whether it names its own cause and
// next step (see unreachable_report).
struct Unreachable {
  std::string error;
  bool self_explained = false;
};

// One run of `egress25 check`, phase by phase (run() lists them in order). Each phase
// reads what the ones before it left in the members; planning and judging are the pure
// functions of check_plan.hpp, the phases here do the I/O between them.
class Check {
 public:
  Check(net::any_io_executor executor, CheckOptions options, std::optional<std::string> secret,
        ProgressHook progress)
      : executor_(std::move(executor)),
        options_(std::move(options)),
        secret_(std::move(secret)),
        progress_(std::move(progress)) {
    report_.reflector_host = options_.reflector_host;
    report_.control_endpoint = host_port_text(options_.reflector_host, options_.control_port);
  }

  // An early connect no probe took over is still connecting: close it, or it would keep
  // the executor busy until the kernel gives up on its SYN.
  ~Check() { abandon_early_connects(); }
  Check(const Check&) = delete;
  Check& operator=(const Check&) = delete;

  net::awaitable<CheckReport> run() {
    std::optional<Unreachable> stop = co_await resolve_reflector();
    if (!stop) stop = leave_out_unusable_families();
    if (!stop) start_early_connects();
    if (!stop) stop = co_await open_control();
    if (stop) {
      abandon_early_connects();
      co_return unreachable_report(std::move(report_), options_, resolved_families(),
                                   std::move(stop->error), stop->self_explained);
    }
    co_await join_other_families();
    plan_probes();
    attach_early_connects();
    open_inbound_listeners();
    co_await plan_destinations();
    co_await run_probes_and_early_traces();
    co_await fetch_the_report();
    judge_untraced();
    co_await trace_what_is_not_open();
    judge_all();
    judge_nat_of_line();
    judge_inbound_probes();
    co_return std::move(report_);
  }

 private:
  // ---- Resolve the reflector, split by family, keep the families asked for ----------
  net::awaitable<std::optional<Unreachable>> resolve_reflector() {
    if (!is_address_literal(options_.reflector_host))
      tell_phase(progress_, "resolving " + options_.reflector_host);
    tcp::resolver resolver(executor_);
    const std::string service = std::to_string(options_.control_port);
    auto resolved =
        co_await before(steady_clock::now() + control_timeout_,
                        resolver.async_resolve(options_.reflector_host, service,
                                               tcp::resolver::numeric_service, as_result));
    if (!resolved || std::get<0>(*resolved)) {
      auto ec = resolved ? std::get<0>(*resolved) : boost::system::error_code{};
      co_return Unreachable{resolve_failure(options_.reflector_host, ec, control_timeout_), true};
    }
    std::vector<tcp::endpoint> endpoints;
    for (const auto& entry : std::get<1>(*resolved)) endpoints.push_back(entry.endpoint());
    FamilySelection selection = select_families(endpoints, options_.family);
    unwanted_addresses_ = std::move(selection.unwanted_addresses);
    for (auto& rf : selection.families)
      families_.push_back(FamilyControl{std::move(rf), nullptr, std::nullopt});
    co_return std::nullopt;
  }

  // ---- Families that cannot be used at all: one line each, not a block -------------
  // A reflector name without an address of a family, or a host without a route or an
  // address of it, says nothing about blocking: those families are left out, and named.
  std::optional<Unreachable> leave_out_unusable_families() {
    std::vector<ResolvedFamily> usable = resolved_families();
    report_.not_probed =
        drop_unusable(usable, options_.reflector_host, options_.ports, family_unusable);
    std::erase_if(families_, [&](const FamilyControl& fc) {
      return std::none_of(usable.begin(), usable.end(), [&](const ResolvedFamily& rf) {
        return rf.family == fc.resolved.family;
      });
    });
    if (!families_.empty()) return std::nullopt;
    if (!report_.not_probed.empty())
      // A family this host cannot use is already one sentence of the summary.
      return Unreachable{report_.not_probed.front().reason, false};
    return Unreachable{
        family_missing(options_.reflector_host,
                       options_.family == FamilyChoice::ipv6 ? Family::ipv6 : Family::ipv4,
                       unwanted_addresses_, is_address_literal(options_.reflector_host)),
        true};
  }

  // ---- Early connects: the probes' SYNs beside the control connection ---------------
  // Control connect and HELLO take two round trips before the probes know their tags;
  // their TCP connects need no tag, so they start now, to the ports the probes will use
  // (the --ports given, or a standard install's 25, 465 and 587 when the control port is
  // the standard one) at the address each family's control connection tries first. A
  // probe takes its socket over after HELLO; what no probe takes is closed, untagged and
  // unread. Not with a reflector too old to report the witness's view of SYNs sent
  // before HELLO (it says how far back it looks).
  void start_early_connects() {
    std::vector<std::uint16_t> ports = options_.ports;
    if (ports.empty() && options_.control_port == control::default_control_port)
      ports = {25, 465, 587};
    for (const auto& fc : families_)
      for (const auto port : ports)
        early_connects_.push_back(
            start_early_connect(executor_, fc.resolved.endpoints.front().address(), port));
  }

  void attach_early_connects() {
    if (!early_connects_.empty() && hello_.witness_lookback_ms > 0) {
      for (auto& p : probes_) {
        if (!p.spec) continue;
        for (auto& early : early_connects_)
          if (!early->taken && early->address == p.spec->address && early->port == p.spec->port) {
            early->taken = true;
            p.spec->early = early;
            break;
          }
      }
    }
    std::size_t unused = 0;
    for (auto& early : early_connects_)
      if (!early->taken) {
        abandon(*early);
        ++unused;
      }
    if (!early_connects_.empty())
      BOOST_LOG_TRIVIAL(debug) << "probes: " << early_connects_.size() - unused << " of "
                               << early_connects_.size() << " connects started before HELLO"
                               << (hello_.witness_lookback_ms > 0
                                       ? ""
                                       : " (closed: the reflector's witness does not look "
                                         "back before its sessions)");
  }

  void abandon_early_connects() {
    for (auto& early : early_connects_) abandon(*early);
  }

  // ---- Control: HELLO on the first family that answers --------------------------------
  net::awaitable<std::optional<Unreachable>> open_control() {
    tell_phase(progress_, "connecting to the reflector's control port " +
                              endpoint_text(families_.front().resolved.endpoints.front()));
    FamilyControl* primary = nullptr;
    std::string connect_error;
    for (auto& fc : families_) {
      fc.control = std::make_unique<ControlClient>(executor_);
      auto error = co_await fc.control->connect(fc.resolved.endpoints, control_timeout_);
      if (error.empty()) {
        primary = &fc;
        break;
      }
      if (connect_error.empty()) {
        connect_error = error;
        report_.control_endpoint = endpoint_text(fc.control->remote());
      }
    }
    if (!primary)
      co_return Unreachable{"cannot reach the reflector's control port " + connect_error, false};
    primary_family_ = primary->resolved.family;
    report_.control_endpoint = endpoint_text(primary->control->remote());
    report_.local_address = primary->control->local().address().to_string();

    control::HelloRequest hello_request;
    hello_request.client_version = client_version;
    hello_request.secret = secret_;
    // The probes' first SYN left this long before the HELLO: the reflector counts the
    // session's arrivals from then (a reflector that does not know the field ignores it,
    // and its HELLO says so: witness_lookback_ms 0).
    if (!early_connects_.empty())
      hello_request.probes_started_ms_ago = static_cast<std::int64_t>(ms_since(
          std::min_element(early_connects_.begin(), early_connects_.end(),
                           [](const auto& a, const auto& b) { return a->started < b->started; })
              ->get()
              ->started));
    const std::int64_t hello_sent_ms = unix_ms_now();
    auto answer = co_await primary->control->request(hello_request, control_timeout_);
    if (auto failure = hello_failure(answer, *primary->control, secret_.has_value());
        !failure.empty())
      co_return Unreachable{failure, true};
    primary->hello = std::get<control::HelloResponse>(std::get<control::Response>(answer));
    hello_ = *primary->hello;
    // The smallest of several samples (ControlClient::path_rtt_ms): a connect may have
    // waited for neighbour discovery or ARP, a request for the reflector's own work.
    rtt_ms_ = primary->control->path_rtt_ms();
    hello_timing_ = HelloTiming{hello_sent_ms, rtt_ms_, hello_.server_time_unix_ms};
    report_.control_reached = true;
    report_.control_rtt_ms = rtt_ms_;
    report_.reflector_version = hello_.version;
    report_.public_address = hello_.client_address;
    report_.witness_active = hello_.witness.active;
    report_.witness_reason = hello_.witness.reason;
    BOOST_LOG_TRIVIAL(debug) << "control: HELLO answered in " << primary->control->last_request_ms()
                             << " ms; we are " << hello_.client_address << ", reflector "
                             << hello_.version;
    co_return std::nullopt;
  }

  // ---- Join the session over the other families (their public address) -------------
  net::awaitable<void> join_other_families() {
    for (auto& fc : families_) {
      // A family with a control client already is the primary or one that failed above.
      if (fc.control) continue;
      fc.control = std::make_unique<ControlClient>(executor_);
      auto error = co_await fc.control->connect(fc.resolved.endpoints, control_timeout_);
      if (error.empty()) {
        control::HelloRequest join;
        join.client_version = client_version;
        join.token = hello_.token;
        join.secret = secret_;
        auto joined = co_await fc.control->request(join, control_timeout_);
        error = hello_failure(joined, *fc.control, secret_.has_value());
        if (error.empty())
          fc.hello = std::get<control::HelloResponse>(std::get<control::Response>(joined));
      }
      fc.control->close();  // only the first family's connection carries the REPORT
      if (!error.empty())
        BOOST_LOG_TRIVIAL(debug) << "control over " << family_label(fc.resolved.family) << ": "
                                 << error;
    }
    // With --family auto a family this host cannot reach the reflector over is left out;
    // one asked for by name (4, 6, both) is probed and reported either way.
    if (options_.family == FamilyChoice::automatic)
      std::erase_if(families_, [](const FamilyControl& fc) { return !fc.hello.has_value(); });

    session_.expected_fingerprint = hello_.tls_fingerprint;
    session_.banner_identity = hello_.banner_identity;
    session_.services = hello_.services;
    for (const auto& fc : families_)
      if (fc.hello)
        (fc.resolved.family == Family::ipv4 ? session_.public_ipv4 : session_.public_ipv6) =
            fc.hello->client_address;
  }

  // ---- Plan the reflector's probes: every port in every family ----------------------
  void plan_probes() {
    const milliseconds timeout = options_.timeout.value_or(timeout_from_rtt(rtt_ms_));
    report_.probe_timeout_ms = static_cast<double>(timeout.count());
    timeouts_ = probe_timeouts(timeout, control_timeout_);
    const auto ports = ports_to_probe(options_.ports, hello_.services);
    fill_not_probed_ports(report_.not_probed, ports);
    std::vector<ProbeFamily> families;
    for (const auto& fc : families_)
      // The address the control connection reached, so both measure the same host.
      families.push_back(ProbeFamily{
          fc.resolved.family, fc.control && fc.hello ? fc.control->remote().address()
                                                     : fc.resolved.endpoints.front().address()});
    probes_ = plan_reflector_probes(options_.reflector_host, ports, families, hello_, timeouts_);
  }

  // ---- --target: a real destination on port 25, its MX hosts else its address -------
  net::awaitable<void> plan_destinations() {
    if (!options_.target) co_return;
    std::vector<Family> families;
    for (const auto& fc : families_) families.push_back(fc.resolved.family);
    if (!options_.target->is_address) tell_phase(progress_, "looking up " + options_.target->name);
    auto destination = co_await resolve_destination(*options_.target, families, control_timeout_);
    BOOST_LOG_TRIVIAL(debug) << "target " << options_.target->name << ": "
                             << destination.hosts.size() << " host(s) by " << destination.how
                             << (destination.error.empty() ? "" : ": " + destination.error)
                             << (destination.mx_note.empty()
                                     ? ""
                                     : " (MX: " + destination.mx_note + ")");
    DestinationPlan plan = plan_destination_probes(
        *options_.target, options_.target_port, destination, families, options_.family, timeouts_);
    destinations_ = std::move(plan.probes);
    for (auto& skipped : plan.not_probed) report_.not_probed.push_back(std::move(skipped));
  }

  // ---- Probes, all at once, each traced while it waits if its SYN goes unanswered ----
  // An early trace's SYNs to a port share the witness window with the probe's: they meet
  // the same filters as the probe's own (a dropped port drops them too, a host firewall
  // sees them too), so the witness's view of the port is the same either way.
  net::awaitable<void> run_probes_and_early_traces() {
    auto tls = make_probe_tls_context();
    // The probes began with the first early connect's SYN, when there was one.
    probes_started_ms_ = unix_ms_now();
    auto probes_started = steady_clock::now();
    for (const auto& p : probes_)
      if (p.spec && p.spec->early && p.spec->early->started < probes_started) {
        probes_started = p.spec->early->started;
        probes_started_ms_ = p.spec->early->started_unix_ms;
      }
    early_report_ = std::make_shared<EarlyReport>(executor_);
    const milliseconds trace_after = std::max<milliseconds>(
        limits::min_trace_delay, milliseconds(static_cast<long long>(3 * rtt_ms_)));
    std::vector<net::awaitable<void>> jobs;
    ProgressEvent started{ProgressEvent::Kind::probes_started, {}, {}, timeouts_.connect, 0};
    for (auto& p : probes_) {
      if (!p.spec) continue;
      auto watch = watch_for_early_report(early_report_,
                                          watch_for(progress_, started.labels.size(), p.probe));
      started.labels.push_back(probe_label(p.probe, false));
      if (options_.trace)
        jobs.push_back(probe_and_trace(p.probe, *p.spec, tls, p.trace, trace_after,
                                       options_.control_port, std::move(watch)));
      else
        jobs.push_back(probe_into(p.probe, *p.spec, tls, std::move(watch)));
    }
    for (auto& p : destinations_)
      if (p.spec) {
        auto watch = watch_for(progress_, started.labels.size(), p.probe);
        started.labels.push_back(probe_label(p.probe, true));
        jobs.push_back(probe_into(p.probe, *p.spec, tls, std::move(watch)));
      }
    // Asked early when it is due: one round trip, and the reflector's wait for its packet
    // witness, before the probes' connect timeout. Not when that is so soon that a SYN
    // could not have been answered yet (a --timeout shorter than a few round trips).
    const auto rtt = milliseconds(static_cast<long long>(rtt_ms_ + 1));
    const auto due = probes_started + timeouts_.connect - rtt - limits::witness_report_wait;
    if (early_report_->running > 0 && due >= probes_started + 2 * rtt) {
      early_report_->due.expires_at(due);
      jobs.push_back(ask_report_early(early_report_));
    }
    // --inbound: the reflector connects back while the probes run, over each family's
    // own control connection (its source address is the only target).
    for (auto& ib : inbound_) jobs.push_back(ask_connect_back(ib));
    if (options_.inbound) {
      jobs.push_back(ask_router_for_its_address());
      jobs.push_back(trace_for_nat());
    }
    if (!inbound_.empty()) tell_phase(progress_, "the reflector connects back (--inbound)");
    if (progress_) progress_(started);
    co_await run_all(std::move(jobs));
  }

  net::awaitable<void> ask_report_early(std::shared_ptr<EarlyReport> early) {
    if (early->running > 0) co_await early->due.async_wait(as_result);
    if (early->running == 0 || early->in_dialogue > 0) co_return;
    early->asked = true;
    early->asked_unix_ms = unix_ms_now();
    BOOST_LOG_TRIVIAL(debug) << "control: asking the REPORT early, " << early->running
                             << " probe(s) still waiting for an answer to their SYN";
    auto& primary = primary_control();
    early->outcome = co_await fetch_report(*primary.control, hello_.token, control_timeout_);
  }

  // ---- REPORT, reconnecting when the reflector closed the idle connection ------------
  net::awaitable<void> fetch_the_report() {
    auto& primary = primary_control();
    const bool early = early_report_ && early_report_->outcome && !early_report_->stale &&
                       early_report_->outcome->report.has_value();
    // The REPORT travels behind every SYN the probes sent before it was asked, so the
    // witness has seen them all by then; the window still takes the clock offset.
    set_witness_window(session_, hello_timing_, probes_started_ms_,
                       early ? early_report_->asked_unix_ms : unix_ms_now());
    if (early) {
      report_outcome_ = std::move(*early_report_->outcome);
    } else {
      if (early_report_ && early_report_->stale)
        BOOST_LOG_TRIVIAL(debug)
            << "control: a probe connected after the early REPORT; asking again";
      tell_phase(progress_, "asking the reflector what it saw");
      report_outcome_ = co_await fetch_report(*primary.control, hello_.token, control_timeout_);
    }
    primary.control->close();
    if (report_outcome_.report) {
      report_.witness_active = report_outcome_.report->witness.active;
      report_.witness_reason = report_outcome_.report->witness.reason;
    } else {
      BOOST_LOG_TRIVIAL(debug) << report_outcome_.error;
    }
    for (const auto& fc : families_) {
      const Family family = fc.resolved.family;
      (family == Family::ipv4 ? report_.public_ipv4 : report_.public_ipv6) =
          public_address_for(family, session_, report_outcome_);
      (family == Family::ipv4 ? report_.host_ipv4 : report_.host_ipv6) = read_host_network(family);
    }
  }

  // ---- Judge without traces, then trace what is not plainly open -------------------
  void judge_untraced() {
    for (auto& p : probes_)
      p.result = judge(p.probe, session_, report_outcome_, TraceOutcome{}, host_of(p.probe.family));
  }

  net::awaitable<void> trace_what_is_not_open() {
    std::vector<net::awaitable<void>> jobs;
    for (auto& p : probes_) {
      if (auto why = no_trace_reason(p.probe, p.result, options_.trace)) {
        p.trace = TraceOutcome{std::nullopt, *why};
      } else if (!p.trace.trace && p.trace.unavailable.empty()) {
        jobs.push_back(trace_into(p.trace, p.spec->address, p.probe.port, options_.control_port));
      }
    }
    if (!jobs.empty()) tell_phase(progress_, "tracing the path of what is not open");
    co_await run_all(std::move(jobs));
  }

  // ---- Evidence, verdicts, summary; destinations against the reflector's port 25 -----
  void judge_all() {
    for (auto& p : probes_) {
      if (p.trace.trace || !p.trace.unavailable.empty())
        p.result =
            judge(p.probe, session_, report_outcome_, std::move(p.trace), host_of(p.probe.family));
      report_.probes.push_back(std::move(p.result));
    }
    report_.summary =
        summarize(summary_input(options_.reflector_host, report_.probes, report_.not_probed));

    std::vector<ProbeResult> judged;
    std::vector<DestinationRow> rows;
    for (auto& p : destinations_) {
      const Family family = p.probe.family;
      judged.push_back(judge_destination(std::move(p.probe), report_.probes, host_of(family)));
      rows.push_back(destination_row(judged.back()));
    }
    for (auto& result : judged) report_.probes.push_back(std::move(result));
    if (options_.target) {
      auto sentence = destination_sentence(options_.target->name, options_.target_port, rows);
      if (!sentence.empty()) report_.summary += (report_.summary.empty() ? "" : " ") + sentence;
    }
  }

  // ---- --inbound: the ports, this computer's listeners (a reference port always) -----
  void open_inbound_listeners() {
    if (!options_.inbound) return;
    inbound_ports_ = options_.inbound_ports;
    if (inbound_ports_.empty()) {
      // The reflector's smtp port: 25, or 25 plus its --port-offset.
      inbound_ports_.push_back(25);
      for (const auto& s : hello_.services)
        if (s.name == "smtp") inbound_ports_.front() = s.port;
    }
    for (const auto& fc : families_) {
      if (!fc.hello || !fc.control) continue;
      InboundFamily ib;
      ib.family = fc.resolved.family;
      ib.endpoint = fc.control->remote();
      ib.public_address = fc.hello->client_address;
      ib.listeners = std::make_unique<InboundListeners>(executor_, ib.family, inbound_ports_,
                                                        options_.inbound_listen, hello_.probe_id);
      inbound_.push_back(std::move(ib));
    }
  }

  struct InboundFamily {
    Family family = Family::ipv4;
    tcp::endpoint endpoint;  // the reflector's control port over this family
    std::string public_address;
    std::unique_ptr<InboundListeners> listeners;
    ConnectBackOutcome outcome;
  };

  net::awaitable<void> ask_connect_back(InboundFamily& ib) {
    std::vector<tcp::endpoint> endpoints{ib.endpoint};
    const auto reference = ib.listeners ? ib.listeners->reference_port() : std::nullopt;
    ib.outcome =
        co_await request_connect_back(executor_, std::move(endpoints), ib.family, hello_.token,
                                      inbound_ports_, reference, control_timeout_);
    if (!ib.outcome.error.empty())
      BOOST_LOG_TRIVIAL(debug) << "connect-back over " << family_label(ib.family) << ": "
                               << ib.outcome.error;
  }

  // ---- Inbound probes: one per port and family, judged from the reflector's side -----
  void judge_inbound_probes() {
    std::vector<InboundRow> rows;
    for (auto& ib : inbound_) {
      if (ib.listeners) ib.listeners->close();
      for (const auto port : inbound_ports_) {
        auto evidence = inbound_evidence(port, ib.outcome, ib.listeners.get(),
                                         host_of(ib.family).local_addresses);
        evidence.public_address_is_isp_nat =
            ib.family == Family::ipv4 && report_.nat.public_address_is_isp_nat;
        ProbeResult result;
        ProbeEvidence& e = result.evidence;
        e.client.host = ib.public_address;
        e.client.address = ib.public_address;
        e.client.port = port;
        e.client.family = ib.family;
        e.client.kind = ServiceKind::smtp;
        e.client.service = service_name(port, ServiceKind::smtp);
        for (const auto& s : hello_.services)
          if (s.port == port) {
            e.client.kind = s.kind;
            e.client.service = s.name;
          }
        e.host = host_of(ib.family);
        result.inbound =
            ProbeResult::Inbound{evidence.attempt, evidence.unavailable, evidence.listen_note};
        if (evidence.attempt) e.client.elapsed_ms = evidence.attempt->elapsed_ms;
        result.classification = judge_inbound(evidence);
        InboundRow row;
        row.port = port;
        row.family = ib.family;
        row.address = ib.public_address;
        row.classification = result.classification;
        if (evidence.attempt && evidence.attempt->banner_code) {
          const auto& b = evidence.attempt->banner;
          row.banner = b.substr(0, std::min(b.find_first_of("\r\n"), std::size_t{120}));
        }
        row.reached_this_machine = evidence.reached_this_machine;
        rows.push_back(std::move(row));
        report_.probes.push_back(std::move(result));
      }
    }
    auto sentences = inbound_sentences(rows);
    if (!sentences.empty()) report_.summary += (report_.summary.empty() ? "" : " ") + sentences;
  }

  // ---- Carrier-grade NAT: the router's external address beside what the reflector saw --
  // The IPv4 control connection that joined the session; nullptr without one.
  const FamilyControl* ipv4_control() const {
    for (const auto& fc : families_)
      if (fc.resolved.family == Family::ipv4 && fc.control && fc.hello) return &fc;
    return nullptr;
  }
  // A reflector on this computer has no router between: nothing to ask or trace.
  static bool reflector_on_this_computer(const FamilyControl& fc) {
    const auto remote = fc.control->remote().address();
    return remote.is_loopback() || remote == fc.control->local().address();
  }

  // Asked only for --inbound, where it decides whether mail can come in at all, and only
  // when a NAT router can be in the way: this host's IPv4 default gateway, when this host
  // does not itself hold the address the reflector saw.
  net::awaitable<void> ask_router_for_its_address() {
    const auto* fc = ipv4_control();
    if (!fc) co_return;  // judge_nat says why without an IPv4 view
    const auto local = fc->control->local().address().to_string();
    if (reflector_on_this_computer(*fc)) {
      gateway_not_asked_ = "the reflector runs on this computer: there is no router to ask";
      co_return;
    }
    if (fc->hello->client_address == local) {
      gateway_not_asked_ =
          "this computer holds the address the reflector saw: there is no NAT router to ask";
      co_return;
    }
    const auto gateway = read_host_network(Family::ipv4).gateway;
    if (gateway.empty()) {
      gateway_not_asked_ = "this computer has no IPv4 default gateway to ask";
      co_return;
    }
    tell_phase(progress_, "asking the home router for its external address (--inbound)");
    gateway_answers_ = co_await ask_gateway(local, gateway);
  }

  // The first routers toward the reflector over IPv4, on the control port (which works):
  // the first one past the local network tells whether the home router's WAN side is in
  // the shared space of carrier-grade NAT. Only the nearest hops matter.
  net::awaitable<void> trace_for_nat() {
    const auto* fc = ipv4_control();
    if (!fc || reflector_on_this_computer(*fc)) co_return;
    const auto remote = fc->control->remote().address();
    TraceOptions options;
    options.max_ttl = limits::nat_trace_max_ttl;
    options.budget =
        std::max(limits::min_nat_trace_budget, milliseconds(static_cast<long long>(4 * rtt_ms_)));
    nat_trace_ = co_await trace_path(remote, options_.control_port, options_.control_port, options);
  }

  void judge_nat_of_line() {
    NatEvidence e;
    e.public_ipv4 = report_.public_ipv4;
    if (const auto* fc = ipv4_control())
      e.local_ipv4.push_back(fc->control->local().address().to_string());
    e.host = host_of(Family::ipv4);
    for (const auto& p : report_.probes) {
      const auto& ev = p.evidence;
      if (!p.inbound && ev.target == Target::reflector && ev.client.family == Family::ipv4 &&
          ev.trace)
        e.traces.push_back(*ev.trace);
    }
    if (nat_trace_) e.traces.push_back(*nat_trace_);
    e.gateway_answers = gateway_answers_;
    e.gateway_not_asked =
        !gateway_not_asked_.empty() || options_.inbound
            ? gateway_not_asked_
            : "your router was not asked for its external address (check --inbound asks it)";
    report_.nat = judge_nat(e);
    auto sentence = nat_sentence(report_.nat, options_.inbound);
    if (!sentence.empty()) report_.summary += (report_.summary.empty() ? "" : " ") + sentence;
  }

  // ---- Helpers -----------------------------------------------------------------------
  FamilyControl& primary_control() {
    return *std::find_if(families_.begin(), families_.end(), [&](const FamilyControl& fc) {
      return fc.resolved.family == primary_family_;
    });
  }

  static bool is_address_literal(const std::string& host) {
    boost::system::error_code not_literal;
    net::ip::make_address(host, not_literal);
    return !not_literal;
  }

  std::vector<ResolvedFamily> resolved_families() const {
    std::vector<ResolvedFamily> resolved;
    for (const auto& fc : families_) resolved.push_back(fc.resolved);
    return resolved;
  }

  HostNetwork host_of(Family family) const {
    const auto& host = family == Family::ipv4 ? report_.host_ipv4 : report_.host_ipv6;
    return host.value_or(HostNetwork{});
  }

  net::any_io_executor executor_;
  const CheckOptions options_;
  const std::optional<std::string> secret_;
  const ProgressHook progress_;
  const milliseconds control_timeout_ = limits::default_control_timeout;
  CheckReport report_;

  // Resolving and control.
  std::vector<FamilyControl> families_;          // in the resolver's order
  std::vector<std::string> unwanted_addresses_;  // to name them when no wanted one is left
  Family primary_family_ = Family::ipv4;         // the family whose control carries REPORT
  control::HelloResponse hello_;
  HelloTiming hello_timing_;
  double rtt_ms_ = 0;
  SessionFacts session_;

  // The probes, planned, run and judged; the REPORT.
  ProbeTimeouts timeouts_;
  std::vector<PlannedProbe> probes_;        // the reflector's, in report order
  std::vector<PlannedProbe> destinations_;  // --target's, after them
  ReportOutcome report_outcome_;
  std::int64_t probes_started_ms_ = 0;
  std::vector<std::shared_ptr<EarlyConnect>> early_connects_;
  std::shared_ptr<EarlyReport> early_report_;  // set when the probes start

  // --inbound.
  std::vector<std::uint16_t> inbound_ports_;
  std::vector<InboundFamily> inbound_;

  // Carrier-grade NAT.
  std::vector<GatewayAnswer> gateway_answers_;
  std::string gateway_not_asked_;
  std::optional<PathTrace> nat_trace_;
};

}  // namespace

net::awaitable<CheckReport> run_check(CheckOptions options, std::optional<std::string> secret,
                                      ProgressHook progress) {
  auto executor = co_await net::this_coro::executor;
  Check check(executor, std::move(options), std::move(secret), std::move(progress));
  co_return co_await check.run();
}

}  // namespace egress25::client
