// The reflector daemon: start-up in the order privilege requires (bind, open the packet
// witness, drop privileges), then serving every listener until SIGINT/SIGTERM.
#include "reflector.hpp"

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
      LOG(error) << what << ": unexpected exception: " << printable(x.what(), 300);
    }
  };
}

}  // namespace

std::string greeting_hostname(const std::string& configured) {
  if (!configured.empty()) return configured;
  boost::system::error_code ec;
  std::string name = net::ip::host_name(ec);
  std::string clean;
  for (char c : name)
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') clean.push_back(c);
  return clean.empty() ? "localhost" : clean.substr(0, 253);
}

Reflector::Reflector(Options options)
    : options_(std::move(options)),
      hostname_(greeting_hostname(options_.hostname)),
      mail_limiter_(limits::max_concurrent_connections, limits::max_concurrent_per_source),
      control_limiter_(limits::max_concurrent_connections, limits::max_concurrent_per_source) {}

Reflector::~Reflector() {
  if (witness_) witness_->stop();
}

void Reflector::start() {
  // Files first: a key readable only by root must be read before privileges go.
  std::string error;
  if (!options_.cert_file.empty()) {
    identity_ = TlsIdentity::load(options_.cert_file, options_.key_file, error);
  } else {
    identity_ = TlsIdentity::generate(hostname_, error);
  }
  if (!identity_) throw StartupError(error);
  std::optional<std::string> secret;
  if (!options_.secret_file.empty()) {
    secret = read_secret_file(options_.secret_file, error);
    if (!secret) throw StartupError(error);
  }

  listeners_ = bind_listeners(io_context_.get_executor(), options_);
  bind_metrics();

  // The witness needs CAP_NET_RAW, so it opens before privileges are dropped.
  if (options_.witness == WitnessMode::off) {
    witness_status_ = {false, "disabled by --witness off"};
  } else {
    PacketWitness::Options wo;
    for (auto p : options_.bound_smtp_ports()) wo.ports.push_back(p);
    for (auto p : options_.bound_tls_ports()) wo.ports.push_back(p);
    wo.interface = options_.witness_interface;
    witness_ = PacketWitness::open(wo, error);
    if (!witness_) {
      if (options_.witness == WitnessMode::on)
        throw StartupError("cannot open the packet witness (--witness on): " + error);
      witness_status_ = {false, error};
      LOG(warning) << "packet witness inactive: " << error;
    } else {
      witness_status_ = {true, ""};
    }
  }

  if (!drop_privileges(options_.user, error))
    throw StartupError("cannot drop privileges: " + error);

  if (witness_) witness_->start();

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
  control_ = std::make_unique<ControlService>(store_, std::move(cc));
  smtp_context_ = std::make_unique<SmtpContext>(SmtpContext{store_, *identity_, hostname_});
  smtp_context_->metrics = &metrics_;

  LOG(info) << version_string() << " starting as " << hostname_ << "; TLS certificate "
            << identity_->subject() << " sha256 " << identity_->fingerprint()
            << (secret ? "; secret required" : "") << "; packet witness "
            << (witness_status_.active ? "on" : "off (" + witness_status_.reason + ")");
  for (auto& l : listeners_) serve_listener(l);
  net::co_spawn(io_context_, flush_refusal_log(), log_escape("refusal log"));
  if (metrics_acceptor_) {
    LOG(info) << "metrics at http://" << endpoint_text(metrics_acceptor_->local_endpoint())
              << "/metrics";
    net::co_spawn(io_context_, serve_metrics(*metrics_acceptor_, [this] { return scrape(); }),
                  log_escape("metrics endpoint"));
  }
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
    if (auto line = store_.refusals().note(address.to_string(), family_of(address), port, why,
                                           unix_ms_now()))
      LOG(warning) << *line;
    return refusal_farewell(role, hostname_, why);
  };
  ServeFunction serve;
  ConnectionLimiter* limiter = &mail_limiter_;
  if (listener.role == ListenerRole::control) {
    limiter = &control_limiter_;
    serve = [this](tcp::socket socket, ConnectionLimiter::Slot slot) {
      auto executor = socket.get_executor();
      net::co_spawn(
          executor,
          [this, socket = std::move(socket), slot = std::move(slot)]() mutable
          -> net::awaitable<void> { co_await run_control_session(std::move(socket), *control_); },
          log_escape("control session"));
    };
  } else {
    const auto kind = listener.role == ListenerRole::smtps ? ServiceKind::smtps : ServiceKind::smtp;
    serve = [this, kind](tcp::socket socket, ConnectionLimiter::Slot slot) {
      auto executor = socket.get_executor();
      net::co_spawn(
          executor,
          [this, kind, socket = std::move(socket),
           slot = std::move(slot)]() mutable -> net::awaitable<void> {
            co_await run_smtp_session(std::move(socket), kind, *smtp_context_);
          },
          log_escape("smtp session"));
    };
  }
  net::co_spawn(io_context_, accept_loop(listener, *limiter, std::move(serve), std::move(refuse)),
                log_escape("accept loop on " + listener.name));
}

net::awaitable<void> Reflector::flush_refusal_log() {
  // Refusals that waited for their source's next line, told even when the source has
  // gone quiet since: at most a tick after the source's log interval is over. A look at
  // a few thousand entries a second costs nothing.
  constexpr auto tick = std::chrono::seconds(1);
  net::steady_timer timer(io_context_);
  for (;;) {
    timer.expires_after(tick);
    auto [ec] = co_await timer.async_wait(net::as_tuple(net::use_awaitable));
    if (ec) co_return;
    for (const auto& line : store_.refusals().flush(unix_ms_now())) LOG(warning) << line;
  }
}

void Reflector::run() {
  net::signal_set signals(io_context_, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    LOG(info) << "signal " << signal << ": shutting down";
    stop();
  });
  io_context_.run();
  LOG(info) << "stopped";
}

void Reflector::stop() {
  boost::system::error_code ec;
  for (auto& l : listeners_) l.acceptor.close(ec);
  if (metrics_acceptor_) metrics_acceptor_->close(ec);
  if (witness_) witness_->stop();
  io_context_.stop();
}

}  // namespace egress25::reflector
