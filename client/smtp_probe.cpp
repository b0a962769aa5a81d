// One SMTP probe: connect, banner, EHLO, STARTTLS, TLS, EHLO, QUIT, keeping every byte.
#include "smtp_probe.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/log/trivial.hpp>
#include <memory>
#include <optional>

#include "control_client.hpp"
#include "control_protocol.hpp"
#include "deadline.hpp"
#include "hex.hpp"
#include "icmp_error_queue.hpp"
#include "limits.hpp"
#include "mail_stream.hpp"
#include "smtp_client_dialogue.hpp"
#include "smtp_reply_parser.hpp"

namespace egress25::client {
namespace {

using net::ip::tcp;

// The negotiated TLS parameters and the peer's leaf certificate: SHA-256 of its DER
// (what the reflector pins over the control connection) and its subject.
void record_tls(SSL* ssl, ClientProbe& probe) {
  probe.tls_version = SSL_get_version(ssl);
  if (const char* cipher = SSL_get_cipher_name(ssl)) probe.tls_cipher = cipher;
  std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(ssl), X509_free);
  if (!cert) return;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned length = 0;
  if (X509_digest(cert.get(), EVP_sha256(), digest.data(), &length) == 1)
    probe.peer_cert_sha256 = to_hex(digest.data(), length);
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (bio &&
      X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert.get()), 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    long size = BIO_get_mem_data(bio.get(), &data);
    if (data && size > 0) probe.peer_cert_subject.assign(data, static_cast<std::size_t>(size));
  }
}

// Turns a failed connect into the outcome the classifier reads. An ICMP error queued on
// the socket decides first: it names who answered (ICMP port unreachable also surfaces
// as ECONNREFUSED, and a soft ICMP error as a timeout).
void record_connect_failure(ClientProbe& probe, int fd, Family family,
                            const boost::system::error_code& ec, bool timed_out,
                            std::chrono::milliseconds timeout) {
  probe.icmp = read_error_queue(fd, family);
  probe.connect_error =
      timed_out ? "no answer within " + std::to_string(timeout.count()) + " ms" : error_text(ec);
  if (probe.icmp) {
    probe.connect = ConnectOutcome::icmp_error;
  } else if (timed_out || ec == net::error::timed_out) {
    probe.connect = ConnectOutcome::timed_out;
    probe.syn_left_host = syn_left_host(fd);
  } else if (ec == net::error::connection_refused || ec == net::error::connection_reset) {
    probe.connect = ConnectOutcome::refused;
  } else {
    // No route, no address of this family, this host's own firewall (EPERM): nothing
    // left this host, or nothing told us otherwise.
    probe.connect = ConnectOutcome::local_error;
  }
}

class ProbeRun {
 public:
  ProbeRun(ProbeSpec spec, io::MailStream& stream, net::ssl::context& tls)
      : spec_(std::move(spec)), stream_(stream), tls_(tls) {}

  // One way to connect: the probe's own connect, when it was not started early beside
  // the control connection, is started the same way now.
  net::awaitable<void> run(ClientProbe& probe) {
    // Named, not a co_await inside the call: GCC 12 mishandles temporaries around one.
    const auto executor = co_await net::this_coro::executor;
    if (!spec_.early) spec_.early = start_early_connect(executor, spec_.address, spec_.port);
    if (co_await take_connect(probe)) co_await converse_connected(probe);
  }

  void set_budget_end(steady_clock::time_point end) { budget_end_ = end; }

 private:
  // The connect's outcome, waited for until connect_timeout after its SYN; true when it
  // connected and the socket is now this probe's.
  net::awaitable<bool> take_connect(ClientProbe& probe) {
    auto& early = *spec_.early;
    early.taken = true;
    if (!early.setup_error.empty()) {
      probe.connect = ConnectOutcome::local_error;
      probe.connect_error = early.setup_error;
      co_return false;
    }
    const auto connect_deadline = early.started + spec_.connect_timeout;
    if (!early.done) co_await before(connect_deadline, early.finished.async_wait(as_result));
    const Family family = probe.family;
    if (!early.done) {
      probe.connect_ms = ms_since(early.started);
      record_connect_failure(probe, early.socket.native_handle(), family, {}, true,
                             spec_.connect_timeout);
      abandon(early);
      co_return false;
    }
    probe.connect_ms = early.connect_ms;
    if (early.error) {
      record_connect_failure(probe, early.socket.native_handle(), family, early.error, false,
                             spec_.connect_timeout);
      abandon(early);
      co_return false;
    }
    stream_.socket() = std::move(early.socket);
    co_return true;
  }

  net::awaitable<void> converse_connected(ClientProbe& probe) {
    auto& socket = stream_.socket();
    boost::system::error_code ec;
    probe.connect = ConnectOutcome::connected;
    if (spec_.on_connected) spec_.on_connected();
    // Every command is one small write answered before the next: Nagle would hold the
    // TLS handshake's last flight behind a delayed ACK (40 ms on Linux).
    socket.set_option(tcp::no_delay(true), ec);
    if (auto local = socket.local_endpoint(ec); !ec)
      probe.local_address = local.address().to_string();

    co_await converse(probe);
  }

  // The reflector's probes carry their tag in EHLO and SNI; a destination's get the
  // neutral name instead, so no third party learns the session's token or probe id.
  std::string ehlo_name() const {
    return spec_.ehlo_name.empty() ? control::probe_hostname(spec_.probe_tag) : spec_.ehlo_name;
  }

  steady_clock::time_point deadline(std::chrono::milliseconds step) const {
    return std::min(steady_clock::now() + step, budget_end_);
  }

  // What the dialogue learned, and how it ended.
  static void record_facts(ClientProbe& probe, const smtp::ClientDialogue::Facts& facts) {
    probe.banner_code = facts.banner_code;
    probe.banner = facts.banner;
    probe.starttls_advertised = facts.starttls_advertised;
    probe.starttls_reply_code = facts.starttls_reply_code;
    probe.tls_attempted = facts.tls_attempted;
    probe.tls_completed = facts.tls_completed;
    probe.tls_error = facts.tls_error;
    probe.end = facts.end;
    probe.end_detail = facts.end_detail;
  }

  // Carries out what the sans-io dialogue asks until it says close; every result, a
  // failure included, goes back to it, and it decides what the failure means.
  net::awaitable<void> converse(ClientProbe& probe) {
    // A destination (a third party's server) is owed the wait for the reply to QUIT; the
    // reflector records its 221 itself.
    smtp::ClientDialogue::Options options{spec_.kind, ehlo_name(), !spec_.ehlo_name.empty()};
    smtp::ClientDialogue dialogue(std::move(options), probe.transcript);
    auto action = dialogue.resume(smtp::Event::start());
    while (!action.done()) {
      switch (action.kind) {
        case smtp::Action::Kind::read:
          action = co_await read(dialogue, action.tls);
          break;
        case smtp::Action::Kind::write:
          action = co_await write(dialogue, action);
          break;
        case smtp::Action::Kind::start_tls:
          action = co_await handshake(dialogue, probe);
          break;
        case smtp::Action::Kind::close:
          break;
      }
    }
    record_facts(probe, dialogue.facts());
  }

  net::awaitable<smtp::Action> read(smtp::ClientDialogue& dialogue, bool tls) {
    auto op = stream_.async_read_some(tls, net::buffer(buffer_), as_result);
    auto got = co_await before(deadline(spec_.step_timeout), std::move(op));
    if (!got) co_return dialogue.resume(smtp::Event::timed_out(spec_.step_timeout));
    auto [ec, n] = *got;
    if (!ec) co_return dialogue.resume(smtp::Event::received(std::string_view(buffer_.data(), n)));
    if (n > 0) {
      // Bytes and an error at once: the bytes first; the error if it still matters.
      auto next = dialogue.resume(smtp::Event::received(std::string_view(buffer_.data(), n)));
      if (next.kind != smtp::Action::Kind::read) co_return next;
    }
    co_return dialogue.resume(io::failure_event(ec, error_text(ec)));
  }

  net::awaitable<smtp::Action> write(smtp::ClientDialogue& dialogue, const smtp::Action& action) {
    auto op = stream_.async_write(action.tls, net::buffer(action.bytes), as_result);
    auto written = co_await before(deadline(spec_.step_timeout), std::move(op));
    if (!written) co_return dialogue.resume(smtp::Event::timed_out(spec_.step_timeout));
    if (auto [ec, n] = *written; ec)
      co_return dialogue.resume(io::failure_event(ec, error_text(ec)));
    co_return dialogue.resume(smtp::Event::written());
  }

  net::awaitable<smtp::Action> handshake(smtp::ClientDialogue& dialogue, ClientProbe& probe) {
    const std::string hostname = ehlo_name();
    stream_.start_tls(tls_, hostname);
    auto handshake_timeout = std::min<std::chrono::milliseconds>(
        spec_.step_timeout,
        std::chrono::duration_cast<std::chrono::milliseconds>(limits::tls_handshake_timeout));
    auto shaken =
        co_await before(deadline(handshake_timeout),
                        stream_.async_handshake(net::ssl::stream_base::client, as_result));
    if (!shaken) co_return dialogue.resume(smtp::Event::timed_out(handshake_timeout));
    if (auto [ec] = *shaken; ec)
      co_return dialogue.resume(smtp::Event::tls_failed(ec, error_text(ec)));
    record_tls(stream_.ssl(), probe);
    co_return dialogue.resume(smtp::Event::tls_up());
  }

  ProbeSpec spec_;
  io::MailStream& stream_;
  net::ssl::context& tls_;
  std::array<char, 4096> buffer_;
  steady_clock::time_point budget_end_ = steady_clock::time_point::max();
};

}  // namespace

net::ssl::context make_probe_tls_context() {
  net::ssl::context context(net::ssl::context::tls_client);
  // No verification: the reflector's certificate is self-signed and pinned by its
  // fingerprint over the control connection; a mismatch is evidence, not an error.
  context.set_verify_mode(net::ssl::verify_none);
  SSL_CTX_set_min_proto_version(context.native_handle(), TLS1_2_VERSION);
  return context;
}

net::awaitable<ClientProbe> run_smtp_probe(ProbeSpec spec, net::ssl::context& tls) {
  ClientProbe probe;
  probe.host = spec.host;
  probe.address = spec.address.to_string();
  probe.port = spec.port;
  probe.kind = spec.kind;
  probe.family = spec.address.is_v4() ? Family::ipv4 : Family::ipv6;
  probe.probe_tag = spec.probe_tag;

  // An early connect's probe began with its SYN.
  const auto start = spec.early ? spec.early->started : steady_clock::now();
  const auto executor = co_await net::this_coro::executor;
  tcp::socket socket(executor);
  io::MailStream stream(std::move(socket));
  ProbeRun run(spec, stream, tls);
  run.set_budget_end(start + spec.budget);
  co_await run.run(probe);

  boost::system::error_code ignored;
  stream.socket().shutdown(net::socket_base::shutdown_both, ignored);
  stream.socket().close(ignored);
  probe.elapsed_ms = ms_since(start);
  BOOST_LOG_TRIVIAL(debug) << "probe " << probe.address << " port " << probe.port << ": connect "
                           << to_string(probe.connect) << ", end " << to_string(probe.end)
                           << (probe.end_detail.empty() ? "" : " (" + probe.end_detail + ")");
  co_return probe;
}

}  // namespace egress25::client
