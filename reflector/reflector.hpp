// The reflector daemon: start-up in the order privilege requires (bind, open the packet
// witness, drop privileges), then serving every listener until SIGINT/SIGTERM.
#pragma once

#include <boost/asio.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control_session.hpp"
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
  // Serves until SIGINT or SIGTERM (or stop()).
  void run();
  void stop();

 private:
  void serve_listener(BoundListener& listener);
  net::awaitable<void> flush_refusal_log();
  void bind_metrics();
  std::string scrape();

  Options options_;
  std::string hostname_;
  // State the sessions use is declared before the io_context: the io_context is
  // destroyed first, and with it every suspended session that refers to this state.
  SessionStore store_;
  std::unique_ptr<TlsIdentity> identity_;
  std::unique_ptr<PacketWitness> witness_;
  control::WitnessStatus witness_status_;
  std::unique_ptr<ControlService> control_;
  std::unique_ptr<SmtpContext> smtp_context_;
  Metrics metrics_;
  ConnectionLimiter mail_limiter_;
  ConnectionLimiter control_limiter_;
  net::io_context io_context_{1};
  std::vector<BoundListener> listeners_;
  std::optional<tcp::acceptor> metrics_acceptor_;  // --metrics
};

// The host name for the greeting: --hostname, else the system's, reduced to the
// characters a host name may have.
std::string greeting_hostname(const std::string& configured);

}  // namespace egress25::reflector
