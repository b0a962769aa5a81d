// The reflector daemon: start-up in the order privilege requires (bind, open the packet
// witness, drop privileges), then serving every listener until SIGINT/SIGTERM; SIGHUP
// reloads the TLS identity, the secret and the limits.
#include "reflector.hpp"

#include <malloc.h>
#include <sys/resource.h>

#include "limits.hpp"
#include "logging.hpp"
#include "packet_witness.hpp"
#include "privileges.hpp"
#include "secret_file.hpp"
#include "smtp_server_dialogue.hpp"
#include "transcript.hpp"

namespace egress25::reflector {

namespace {

// Logs an exception that escaped a session; the daemon carries on.
auto log_escape(std::string what) {
  return [what = std::move(what)](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      // Escaped: nothing says an exception's text holds no byte a peer sent.
      LOG_EVERY(error, "unexpected exceptions in " + what)
          << what << ": unexpected exception: " << printable(x.what(), 300);
    }
  };
}

std::int64_t ms_of(double seconds) {
  return static_cast<std::int64_t>(seconds * 1000);
}

// The identity the options name: the certificate and key, else a fresh self-signed one.
std::shared_ptr<TlsIdentity> make_identity(const Options& o, const std::string& hostname,
                                           std::string& error) {
  if (!o.cert_file.empty()) return TlsIdentity::load(o.cert_file, o.key_file, error);
  return TlsIdentity::generate(hostname, error);
}

// Asio keeps each socket's reactor state in a pool it never shrinks, allocated as sockets
// open. Grown during a burst, its entries land one every few kilobytes of heap, between
// the connections' own allocations, and pin those pages after the burst is over: the
// RSS stays at its peak whatever malloc_trim does. Grown here in one piece, for as many
// sockets as the caps allow at once (as far as the descriptor limit lets us open them),
// the pool sits apart and a burst's memory can go back to the system.
void warm_socket_pool(net::io_context& io, std::size_t wanted) {
  wanted = std::min(wanted, limits::max_warmed_sockets);
  rlimit files{};
  constexpr auto headroom = limits::warm_descriptor_headroom;
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY)
    wanted =
        std::min<std::size_t>(wanted, files.rlim_cur > headroom ? files.rlim_cur - headroom : 0);
  std::vector<tcp::socket> sockets;
  sockets.reserve(wanted);
  for (std::size_t i = 0; i < wanted; ++i) {
    tcp::socket s(io);
    boost::system::error_code ec;
    s.open(tcp::v4(), ec);
    if (ec) break;
    sockets.push_back(std::move(s));
  }
}  // closed here: their states go back to the pool, side by side

std::string identity_text(const TlsIdentity& id) {
  return id.subject() + " sha256 " + id.fingerprint();
}

}  // namespace

std::string greeting_hostname(const std::string& configured) {
  if (!configured.empty()) return configured;
  boost::system::error_code ec;
  std::string name = net::ip::host_name(ec);
  std::string clean;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') clean.push_back(c);
  return clean.empty() ? "localhost" : clean.substr(0, limits::max_host_name);
}

ConnectionLimits connection_limits(const FairShareOptions& o) {
  ConnectionLimits l;
  l.max_total = o.max_connections;
  l.max_per_address = o.max_connections_per_address;
  l.max_per_prefix = o.max_connections_per_prefix;
  l.rate_per_address = o.connection_rate_per_address;
  l.rate_per_prefix = o.connection_rate_per_prefix;
  l.shed_idle_after_ms = ms_of(o.shed_idle_after);
  l.stress_fraction = o.stress_at / 100;
  l.stress_untagged_ms = ms_of(o.stress_untagged_timeout);
  l.stress_idle_ms = ms_of(o.stress_idle_timeout);
  l.prefixes = {static_cast<int>(o.ipv4_prefix), static_cast<int>(o.ipv6_prefix)};
  return l;
}

SessionStore::Limits session_limits(const FairShareOptions& o) {
  SessionStore::Limits l;
  l.max_sessions = o.max_sessions;
  l.max_sessions_per_address = o.max_sessions_per_address;
  l.max_sessions_per_prefix = o.max_sessions_per_prefix;
  l.hello_rate_per_address = o.hello_rate_per_address;
  l.hello_rate_per_prefix = o.hello_rate_per_prefix;
  l.unprobed_lifetime_ms = ms_of(o.unprobed_session_lifetime);
  l.prefixes = {static_cast<int>(o.ipv4_prefix), static_cast<int>(o.ipv6_prefix)};
  return l;
}

Reflector::Reflector(Options options)
    : options_(std::move(options)),
      hostname_(greeting_hostname(options_.hostname)),
      store_(session_limits(options_.limits)),
      mail_table_(connection_limits(options_.limits)),
      control_table_(connection_limits(options_.limits)) {}

Reflector::~Reflector() {
  if (witness_) witness_->stop();
}

void Reflector::start() {
  // Files first: a key readable only by root must be read before privileges go.
  std::string error;
  identity_ = make_identity(options_, hostname_, error);
  if (!identity_) throw StartupError(error);
  std::optional<std::string> secret;
  if (!options_.secret_file.empty()) {
    secret = read_secret_file(options_.secret_file, error);
    if (!secret) throw StartupError(error);
  }

  listeners_ = bind_listeners(io_context_.get_executor(), options_);
  bind_metrics();
  warm_socket_pool(io_context_, 2 * options_.limits.max_connections + 64);

  // The witness needs CAP_NET_RAW, so it opens before privileges are dropped.
  open_witness();

  if (!drop_privileges(options_.user, error))
    throw StartupError("cannot drop privileges: " + error);

  if (witness_) witness_->start();

  make_services(secret);

  LOG(info) << version_string() << " starting as " << hostname_ << "; TLS certificate "
            << identity_text(*identity_) << (secret ? "; secret required" : "")
            << "; packet witness "
            << (witness_status_.active ? "on" : "off (" + witness_status_.reason + ")")
            << "; connect-back " << (options_.connect_back ? "on" : "off");
  for (auto& l : listeners_) serve_listener(l);
  net::co_spawn(io_context_, tick(), log_escape("the reflector's clock"));
  if (metrics_acceptor_) {
    LOG(info) << "metrics at http://" << endpoint_text(metrics_acceptor_->local_endpoint())
              << "/metrics";
    net::co_spawn(io_context_, serve_metrics(*metrics_acceptor_, [this] { return scrape(); }),
                  log_escape("metrics endpoint"));
  }
}

// The packet witness, on the service ports and addresses, or why not (a fatal error
// with --witness on).
void Reflector::open_witness() {
  if (options_.witness == WitnessMode::off) {
    witness_status_ = {false, "disabled by --witness off"};
  } else {
    PacketWitness::Options wo;
    for (auto p : options_.bound_smtp_ports()) wo.ports.push_back(p);
    for (auto p : options_.bound_tls_ports()) wo.ports.push_back(p);
    wo.interface = options_.witness_interface;
    // Specific listen addresses narrow the capture to their packets; a wildcard takes all.
    for (const auto& a : options_.listen) {
      boost::system::error_code ec;
      const auto address = net::ip::make_address(a, ec);
      if (ec || address.is_unspecified()) {
        wo.addresses.clear();
        break;
      }
      wo.addresses.push_back(unmapped(address).to_string());
    }
    // Sized at start-up to the session table (a reload keeps the witness as it is).
    wo.max_flows = options_.limits.max_sessions * limits::witness_flows_per_session;
    std::string error;
    witness_ = PacketWitness::open(wo, error);
    if (!witness_) {
      if (options_.witness == WitnessMode::on)
        throw StartupError("cannot open the packet witness (--witness on): " + error);
      witness_status_ = {false, error};
      LOG(warning) << "packet witness inactive: " << error;
    } else {
      witness_status_ = {true, ""};
      LOG(info) << "packet witness " << witness_->description();
    }
  }
}

// The control service (with the connect-back's gate and I/O) and the SMTP sessions'
// shared context, once privileges are dropped.
void Reflector::make_services(const std::optional<std::string>& secret) {
  ControlConfig cc;
  const auto offset = options_.port_offset;
  for (auto p : options_.bound_smtp_ports())
    cc.services.push_back(
        {p, ServiceKind::smtp,
         service_name(static_cast<std::uint16_t>(p - offset), ServiceKind::smtp)});
  for (auto p : options_.bound_tls_ports())
    cc.services.push_back(
        {p, ServiceKind::smtps,
         service_name(static_cast<std::uint16_t>(p - offset), ServiceKind::smtps)});
  cc.tls_fingerprint = identity_->fingerprint();
  cc.banner_identity = std::string(SmtpServerDialogue::identity);
  cc.version = EGRESS25_VERSION;
  cc.witness = witness_status_;
  cc.secret = secret;
  cc.packet_witness = witness_.get();
  cc.metrics = &metrics_;
  ConnectBackRules cb_rules;
  cb_rules.enabled = options_.connect_back;
  cb_rules.port_offset = options_.port_offset;
  connect_back_ = std::make_unique<ConnectBackGate>(cb_rules);
  connect_back_tls_.emplace(net::ssl::context::tls_client);
  connect_back_tls_->set_verify_mode(net::ssl::verify_none);
  connect_back_io_ = std::make_unique<ConnectBackIo>();
  connect_back_io_->tls = &*connect_back_tls_;
  connect_back_io_->ehlo_name = hostname_;
  cc.connect_back = connect_back_.get();
  cc.connect_back_io = connect_back_io_.get();
  control_ = std::make_unique<ControlService>(store_, std::move(cc));
  smtp_context_ = std::make_unique<SmtpContext>(SmtpContext{store_, identity_, hostname_});
  smtp_context_->untagged_lifetime =
      std::chrono::milliseconds(ms_of(options_.limits.untagged_timeout));
  smtp_context_->metrics = &metrics_;
}

void Reflector::bind_metrics() {
  if (options_.metrics_port == 0) return;
  boost::system::error_code ec;
  const tcp::endpoint endpoint(net::ip::make_address(options_.metrics_address, ec),
                               options_.metrics_port);
  tcp::acceptor acceptor(io_context_);
  if (!ec) acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && endpoint.address().is_v6()) acceptor.set_option(net::ip::v6_only(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw StartupError("--metrics: " +
                       bind_error_text(options_.metrics_address, options_.metrics_port, ec));
  metrics_acceptor_.emplace(std::move(acceptor));
}

std::string Reflector::scrape() {
  auto snapshot = metrics_.snapshot();
  snapshot.sessions_live = store_.live(unix_ms_now());
  if (witness_ && witness_->capture_error().empty()) snapshot.witness = witness_->counts();
  return render(snapshot);
}

void Reflector::serve_listener(BoundListener& listener) {
  const char* role = listener.role == ListenerRole::control ? "control"
                     : listener.role == ListenerRole::smtps ? "smtps"
                                                            : "smtp";
  LOG(info) << "listening on " << listener.name << " (" << role << ")";
  // A refusal is counted for REPORT, told in the log at a bounded rate, and answered with
  // the role's farewell.
  const auto port = listener.acceptor.local_endpoint().port();
  RefuseFunction refuse = [this, port, role = listener.role](const tcp::endpoint& peer,
                                                             const std::string& why) {
    const auto address = unmapped(peer.address());
    metrics_.refused(connection_refusal_reason(why));
    // The table writes one line per source and interval; many sources of one network (or
    // a botnet's many networks) are held to the repeated-event budgets on top.
    if (auto line = store_.refusals().note(address.to_string(), family_of(address), port, why,
                                           unix_ms_now())) {
      LOG_EVERY(warning, "lines on refusals from " + source_keys(address, {}).prefix) << *line;
    }
    return refusal_farewell(role, hostname_, why);
  };
  const bool control = listener.role == ListenerRole::control;
  ShedFunction shed = [this, control](const tcp::endpoint& peer, std::size_t n) {
    LOG_EVERY(info, std::string("idle connections closed to make room on the ") +
                        (control ? "control port" : "mail ports"))
        << "closed " << n << " idle untagged connection" << (n == 1 ? "" : "s") << " on the "
        << (control ? "control port" : "mail ports") << " to make room for " << endpoint_text(peer)
        << " (" << (control ? control_table_ : mail_table_).size() << " open)";
  };
  ServeFunction serve;
  ConnectionTable* table = &mail_table_;
  if (control) {
    table = &control_table_;
    serve = [this](tcp::socket socket, ConnectionTable::Slot slot) {
      note_admitted();
      auto executor = socket.get_executor();
      net::co_spawn(executor,
                    run_control_session(std::move(socket), *control_,
                                        limits::control_connection_lifetime, std::move(slot)),
                    log_escape("control sessions"));
    };
  } else {
    const auto kind = listener.role == ListenerRole::smtps ? ServiceKind::smtps : ServiceKind::smtp;
    serve = [this, kind](tcp::socket socket, ConnectionTable::Slot slot) {
      note_admitted();
      auto executor = socket.get_executor();
      net::co_spawn(executor,
                    run_smtp_session(std::move(socket), kind, *smtp_context_, std::move(slot)),
                    log_escape("smtp sessions"));
    };
  }
  net::co_spawn(io_context_,
                accept_loop(listener, *table, std::move(serve), std::move(refuse), std::move(shed)),
                log_escape("the accept loop on " + listener.name));
}

void Reflector::note_stress(const char* what, const ConnectionTable& table, bool& was) {
  const bool is = table.stressed();
  if (is == was) return;
  was = is;
  LOG_EVERY(warning, std::string("stress mode changes on the ") + what)
      << (is ? "stress mode on the " : "stress mode over on the ") << what << ": " << table.size()
      << " of " << table.limits().max_total << " connections open"
      << (is ? "; idle and untagged connections now close sooner" : "");
}

void Reflector::note_admitted() {
  peak_connections_ = std::max(peak_connections_, mail_table_.slots() + control_table_.slots());
}

net::awaitable<void> Reflector::tick() {
  // Refusals that waited for their source's next line are told even when the source has
  // gone quiet since, at most a tick after its log interval is over; the same for every
  // other repeated event. A look at a few thousand entries a second costs nothing.
  constexpr auto interval = std::chrono::seconds(1);
  net::steady_timer timer(io_context_);
  for (;;) {
    timer.expires_after(interval);
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    for (const auto& line : store_.refusals().flush(unix_ms_now()))
      LOG_EVERY(warning, "lines counting refusals") << line;
    const auto now = steady_ms_now();
    for (auto [table, what, was] :
         {std::tuple{&mail_table_, "mail ports", &mail_stressed_},
          std::tuple{&control_table_, "control port", &control_stressed_}}) {
      note_stress(what, *table, *was);
      if (auto n = table->sweep(now)) {
        LOG_EVERY(info, std::string("connections closed under stress on the ") + what)
            << "stress: closed " << n << " idle or untagged connection" << (n == 1 ? "" : "s")
            << " on the " << what << " (" << table->size() << " of " << table->limits().max_total
            << " open)";
      }
    }
    flush_repeated_log();
    // After a burst, give the freed memory back to the system: glibc keeps it otherwise,
    // and the daemon's RSS would stay at its peak for good. The peak is noted at each
    // admission, so a burst shorter than a tick counts too.
    const auto open = mail_table_.slots() + control_table_.slots();
    if (peak_connections_ >= 64 && open <= peak_connections_ / 4) {
      ::malloc_trim(0);
      peak_connections_ = open;
    }
  }
}

void Reflector::run() {
  net::signal_set stop_signals(io_context_, SIGINT, SIGTERM);
  stop_signals.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    LOG(info) << "signal " << signal << " (" << (signal == SIGTERM ? "SIGTERM" : "SIGINT")
              << "): shutting down";
    stop();
  });
  net::signal_set reload_signal(io_context_, SIGHUP);
  std::function<void()> wait_reload = [&] {
    reload_signal.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec || stopping_) return;
      reload();
      wait_reload();
    });
  };
  wait_reload();
  io_context_.run();
  LOG(info) << "stopped";
}

void Reflector::stop() {
  if (stopping_) return;
  stopping_ = true;
  boost::system::error_code ec;
  for (auto& l : listeners_) l.acceptor.close(ec);
  if (metrics_acceptor_) metrics_acceptor_->close(ec);
  if (witness_) witness_->stop();
  // RFC 5321 3.8: a server shutting down answers 421 to its open sessions. Each says it
  // and closes (SmtpSession); the control connections are closed.
  const auto told = mail_table_.close_all(CloseReason::shutdown);
  control_table_.close_all(CloseReason::shutdown);
  if (told > 0) LOG(info) << "telling " << told << " open SMTP session(s) 421 before closing";
  net::co_spawn(io_context_, drain_and_stop(), log_escape("the shutdown"));
}

net::awaitable<void> Reflector::drain_and_stop() {
  const auto until = std::chrono::steady_clock::now() + limits::shutdown_grace;
  net::steady_timer timer(io_context_);
  while (mail_table_.slots() + control_table_.slots() > 0 &&
         std::chrono::steady_clock::now() < until) {
    timer.expires_after(std::chrono::milliseconds(50));
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }
  if (auto left = mail_table_.slots() + control_table_.slots())
    LOG(info) << left << " connection(s) still open after "
              << std::chrono::duration_cast<std::chrono::seconds>(limits::shutdown_grace).count()
              << " s: closing them";
  io_context_.stop();
}

namespace {

// What differs between two configurations among what is bound or opened at start, which
// changes only with a restart: the option names.
std::vector<std::string> restart_only_changes(const Options& now, const Options& next) {
  std::vector<std::string> kept;
  auto keep = [&](bool differs, const char* what) {
    if (differs) kept.emplace_back(what);
  };
  keep(next.listen != now.listen, "listen");
  keep(next.smtp_ports != now.smtp_ports || next.tls_ports != now.tls_ports ||
           next.control_port != now.control_port || next.port_offset != now.port_offset,
       "ports");
  keep(next.witness != now.witness || next.witness_interface != now.witness_interface, "witness");
  keep(next.user != now.user, "user");
  keep(next.hostname != now.hostname, "hostname");
  keep(next.log_format != now.log_format, "log-format");
  keep(next.metrics_address != now.metrics_address || next.metrics_port != now.metrics_port,
       "metrics");
  return kept;
}

// "reloaded: A; B; not changed until a restart: ports, user".
std::string reload_line(const std::vector<std::string>& changes,
                        const std::vector<std::string>& kept) {
  std::string line = changes.empty() ? std::string("reloaded: nothing changed") : "reloaded:";
  for (std::size_t i = 0; i < changes.size(); ++i) line += (i ? "; " : " ") + changes[i];
  if (!kept.empty()) {
    std::string names;
    for (const auto& k : kept) names += (names.empty() ? "" : ", ") + k;
    line += "; not changed until a restart: " + names;
  }
  return line;
}

}  // namespace

void Reflector::reload() {
  LOG(info) << "SIGHUP: reloading the configuration, certificate, key and secret";
  // Everything is read and checked before anything changes: a reload applies whole, or
  // not at all, and the running identity stays until a new one has loaded.
  Options next = options_;
  if (!options_.command_line.empty()) {
    std::vector<const char*> argv{"egress25-reflector"};
    for (const auto& a : options_.command_line) argv.push_back(a.c_str());
    auto parsed = parse_options(static_cast<int>(argv.size()), argv.data());
    if (!parsed.run) {
      std::string why = parsed.err.substr(0, parsed.err.find('\n'));
      LOG(error) << "reload failed: " << why << "; nothing changed, the TLS certificate "
                 << identity_text(*identity_) << " stays";
      return;
    }
    next = std::move(parsed.options);
  }
  std::string error;
  std::shared_ptr<TlsIdentity> identity = identity_;
  if (!next.cert_file.empty() || !options_.cert_file.empty()) {
    identity = make_identity(next, hostname_, error);
    if (!identity) {
      LOG(error) << "reload failed: " << error << "; nothing changed, the TLS certificate "
                 << identity_text(*identity_) << " stays";
      return;
    }
  }
  std::optional<std::string> secret;
  if (!next.secret_file.empty()) {
    secret = read_secret_file(next.secret_file, error);
    if (!secret) {
      LOG(error) << "reload failed: " << error << "; nothing changed, the TLS certificate "
                 << identity_text(*identity_) << " stays";
      return;
    }
  }

  std::vector<std::string> changes;
  if (identity->fingerprint() != identity_->fingerprint()) {
    changes.push_back("TLS certificate " + identity_text(*identity_) + " -> " +
                      identity_text(*identity) + " (sessions under way keep the old one)");
    identity_ = identity;
    smtp_context_->identity = identity;
  }
  const auto& old_secret = control_->config().secret;
  if (secret != old_secret)
    changes.push_back(!secret       ? "secret no longer required"
                      : !old_secret ? "secret now required"
                                    : "secret changed");
  control_->reload(identity_->fingerprint(), secret);
  if (auto limits = describe_changes(options_.limits, next.limits); !limits.empty()) {
    changes.push_back("limits: " + limits);
    mail_table_.set_limits(connection_limits(next.limits));
    control_table_.set_limits(connection_limits(next.limits));
    store_.set_limits(session_limits(next.limits));
    smtp_context_->untagged_lifetime =
        std::chrono::milliseconds(ms_of(next.limits.untagged_timeout));
  }
  if (next.log_level != options_.log_level) {
    changes.push_back("log level " + options_.log_level + " -> " + next.log_level);
    set_log_level(*parse_log_level(next.log_level));
  }
  const std::vector<std::string> kept = restart_only_changes(options_, next);

  options_.cert_file = next.cert_file;
  options_.key_file = next.key_file;
  options_.secret_file = next.secret_file;
  options_.limits = next.limits;
  options_.log_level = next.log_level;

  LOG(info) << reload_line(changes, kept);
}

}  // namespace egress25::reflector
