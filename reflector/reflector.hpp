// The reflector daemon: start-up in the order privilege requires (bind, open the packet
// witness, drop privileges), then serving every listener until SIGINT/SIGTERM; SIGHUP
// reloads the TLS identity, the secret and the limits.
#pragma once

#include <boost/asio.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control_session.hpp"
#include "fair_share.hpp"
#include "listener.hpp"
#include "metrics.hpp"
#include "options.hpp"
#include "session_store.hpp"
#include "smtp_session.hpp"
#include "tls_identity.hpp"

namespace egress25::reflector {

class PacketWitness;

class Reflector {
 public:
  explicit Reflector(Options options);
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  // Loads the TLS identity and secret, binds every port, opens the packet witness and
  // drops privileges. Throws StartupError.
  void start();
  // Serves until SIGINT or SIGTERM (or stop()); SIGHUP reloads.
  void run();
  // Stops accepting, tells every open SMTP session (a 421), and ends once they have
  // closed or limits::shutdown_grace has passed.
  void stop();
  // Reads the config file, certificate, key and secret again; applies what may change
  // while running, keeps the rest, and logs what changed, or why nothing did. Sessions in
  // flight keep going; a TLS session keeps the identity it began with.
  void reload();

 private:
  void open_witness();
  void make_services(const std::optional<std::string>& secret);
  void serve_listener(BoundListener& listener);
  // Once a second: refusal and repeated-log summaries, stress sweeps, memory given back.
  net::awaitable<void> tick();
  net::awaitable<void> drain_and_stop();
  void note_stress(const char* what, const ConnectionTable& table, bool& was);
  // At each admission: the peak of open connections that tick() gives memory back after.
  void note_admitted();
  void bind_metrics();
  std::string scrape();

  Options options_;
  std::string hostname_;
  // State the sessions use is declared before the io_context: the io_context is
  // destroyed first, and with it every suspended session that refers to this state.
  SessionStore store_;
  std::shared_ptr<TlsIdentity> identity_;
  std::unique_ptr<PacketWitness> witness_;
  control::WitnessStatus witness_status_;
  std::unique_ptr<ConnectBackGate> connect_back_;
  std::unique_ptr<ConnectBackIo> connect_back_io_;
  std::optional<net::ssl::context> connect_back_tls_;
  std::unique_ptr<ControlService> control_;
  std::unique_ptr<SmtpContext> smtp_context_;
  Metrics metrics_;
  ConnectionTable mail_table_;
  ConnectionTable control_table_;
  bool mail_stressed_ = false;
  bool control_stressed_ = false;
  bool stopping_ = false;
  std::size_t peak_connections_ = 0;  // since memory was last given back
  net::io_context io_context_{1};
  std::vector<BoundListener> listeners_;
  std::optional<tcp::acceptor> metrics_acceptor_;  // --metrics
};

// The host name for the greeting: --hostname, else the system's, reduced to the
// characters a host name may have.
std::string greeting_hostname(const std::string& configured);

// The limits of each table, from the options.
ConnectionLimits connection_limits(const FairShareOptions& o);
SessionStore::Limits session_limits(const FairShareOptions& o);

}  // namespace egress25::reflector
