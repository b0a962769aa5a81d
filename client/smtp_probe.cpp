// One SMTP probe: connect, banner, EHLO, STARTTLS, TLS, EHLO, QUIT, keeping every byte.
#include "smtp_probe.hpp"

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/log/trivial.hpp>
#include <memory>
#include <optional>

#include "control_client.hpp"
#include "control_protocol.hpp"
#include "deadline.hpp"
#include "icmp_error_queue.hpp"
#include "limits.hpp"
#include "smtp_client_dialogue.hpp"
#include "smtp_reply_parser.hpp"

namespace egress25::client {
namespace {

using net::ip::tcp;
using Stream = net::ssl::stream<tcp::socket>;

// A dialogue is banner, EHLO, STARTTLS, handshake, EHLO, QUIT: a dozen actions. More
// than this means the dialogue logic is looping, and the probe stops.
constexpr int max_dialogue_actions = 64;

std::string hex(const unsigned char* data, unsigned length) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned i = 0; i < length; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

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
    probe.peer_cert_sha256 = hex(digest.data(), length);
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
  } else if (ec == net::error::connection_refused || ec == net::error::connection_reset) {
    probe.connect = ConnectOutcome::refused;
  } else {
    // No route, no address of this family, this host's own firewall (EPERM): nothing
    // left this host, or nothing told us otherwise.
    probe.connect = ConnectOutcome::local_error;
  }
}

DialogueEnd end_for(const boost::system::error_code& ec) {
  if (ec == net::error::connection_reset || ec == net::error::broken_pipe)
    return DialogueEnd::reset;
  if (ec == net::error::timed_out) return DialogueEnd::timed_out;
  return DialogueEnd::closed_early;  // eof, TLS stream truncated, ...
}

class ProbeRun {
 public:
  ProbeRun(ProbeSpec spec, Stream& stream) : spec_(std::move(spec)), stream_(stream) {}

  net::awaitable<void> run(ClientProbe& probe) {
    auto& socket = stream_.next_layer();
    const Family family = probe.family;
    const tcp::endpoint endpoint(spec_.address, spec_.port);
    boost::system::error_code ec;
    socket.open(endpoint.protocol(), ec);
    if (ec) {
      probe.connect = ConnectOutcome::local_error;
      probe.connect_error = error_text(ec);
      co_return;
    }
    std::string queue_error;
    if (!enable_error_queue(socket.native_handle(), family, queue_error))
      BOOST_LOG_TRIVIAL(debug) << "probe " << spec_.port
                               << ": no ICMP error queue: " << queue_error;

    const auto connect_start = steady_clock::now();
    auto connected =
        co_await before(deadline(spec_.connect_timeout), socket.async_connect(endpoint, as_result));
    probe.connect_ms = ms_since(connect_start);
    if (!connected || std::get<0>(*connected)) {
      record_connect_failure(probe, socket.native_handle(), family,
                             connected ? std::get<0>(*connected) : boost::system::error_code{},
                             !connected, spec_.connect_timeout);
      co_return;
    }
    probe.connect = ConnectOutcome::connected;
    if (spec_.on_connected) spec_.on_connected();
    // Every command is one small write answered before the next: Nagle would hold the
    // TLS handshake's last flight behind a delayed ACK (40 ms on Linux).
    socket.set_option(tcp::no_delay(true), ec);
    if (auto local = socket.local_endpoint(ec); !ec)
      probe.local_address = local.address().to_string();

    dialogue_.emplace(smtp::ClientDialogue::Options{spec_.kind, ehlo_name()});
    co_await converse(probe, *dialogue_);
    record_facts(probe, dialogue_->facts());
  }

 private:
  // The reflector's probes carry their tag in EHLO and SNI; a destination's get the
  // neutral name instead, so no third party learns the session's token or probe id.
  std::string ehlo_name() const {
    return spec_.ehlo_name.empty() ? control::probe_hostname(spec_.probe_tag) : spec_.ehlo_name;
  }

  steady_clock::time_point deadline(std::chrono::milliseconds step) const {
    return std::min(steady_clock::now() + step, budget_end_);
  }

  PhaseTranscript& phase(ClientProbe& probe) {
    return tls_up_ ? probe.transcript.tls : probe.transcript.plain;
  }

  void fail(ClientProbe& probe, DialogueEnd end, std::string detail) {
    if (probe.end != DialogueEnd::none) return;  // the first failure is the one that counts
    probe.end = end;
    probe.end_detail =
        probe.end_detail.empty() ? std::move(detail) : detail + "; " + probe.end_detail;
  }

  // What the dialogue learned, and how it ended when no I/O failure ended it first.
  static void record_facts(ClientProbe& probe, const smtp::ClientDialogue::Facts& facts) {
    probe.banner_code = facts.banner_code;
    probe.banner = facts.banner;
    probe.starttls_advertised = facts.starttls_advertised;
    probe.starttls_reply_code = facts.starttls_reply_code;
    if (probe.end != DialogueEnd::none) return;
    if (facts.completed) {
      probe.end = DialogueEnd::completed;
    } else {
      // The dialogue stopped on its own: an answer it could not go on from.
      probe.end = DialogueEnd::protocol_error;
      std::string why =
          facts.stopped_because.empty() ? "the dialogue did not finish" : facts.stopped_because;
      probe.end_detail = probe.end_detail.empty() ? why : why + "; " + probe.end_detail;
    }
  }

  // Drives the sans-io dialogue over the socket until it says close or I/O fails.
  net::awaitable<void> converse(ClientProbe& probe, smtp::ClientDialogue& dialogue) {
    const std::string hostname = ehlo_name();
    smtp::ReplyParser parser;
    auto action = dialogue.start();
    std::array<char, 4096> buffer;
    for (int count = 0; count < max_dialogue_actions; ++count) {
      if (action.step == smtp::ClientDialogue::Step::close) break;
      if (action.step == smtp::ClientDialogue::Step::write) {
        // Kept before it is sent, so a write cut short still shows what we meant to send.
        phase(probe).to_server.append(action.bytes);
        auto op =
            tls_up_ ? net::async_write(stream_, net::buffer(action.bytes), as_result)
                    : net::async_write(stream_.next_layer(), net::buffer(action.bytes), as_result);
        auto written = co_await before(deadline(spec_.step_timeout), std::move(op));
        if (!written) co_return fail(probe, DialogueEnd::timed_out, "sending timed out");
        if (auto [ec, n] = *written; ec)
          co_return fail(probe, end_for(ec), "sending failed: " + error_text(ec));
        action = dialogue.on_written();
        continue;
      }
      if (action.step == smtp::ClientDialogue::Step::read_reply) {
        auto result = parser.next();
        if (result.status == smtp::ReplyParser::Status::error)
          co_return fail(probe, DialogueEnd::protocol_error, result.error);
        if (result.status == smtp::ReplyParser::Status::reply) {
          action = dialogue.on_reply(result.reply);
          continue;
        }
        auto op = tls_up_ ? stream_.async_read_some(net::buffer(buffer), as_result)
                          : stream_.next_layer().async_read_some(net::buffer(buffer), as_result);
        auto got = co_await before(deadline(spec_.step_timeout), std::move(op));
        if (!got)
          co_return fail(probe, DialogueEnd::timed_out,
                         "no reply within " + std::to_string(spec_.step_timeout.count()) + " ms");
        auto [ec, n] = *got;
        if (n > 0) {
          phase(probe).to_client.append(std::string_view(buffer.data(), n));
          parser.feed(std::string_view(buffer.data(), n));
        }
        if (ec) {
          if (ec == net::error::eof || ec == net::ssl::error::stream_truncated)
            co_return fail(probe, DialogueEnd::closed_early,
                           "the server closed the connection before the dialogue was over");
          co_return fail(probe, end_for(ec), "receiving failed: " + error_text(ec));
        }
        continue;
      }
      // start_tls
      if (parser.buffered() > 0) {
        // RFC 3207 5: anything sent before the handshake must be discarded; a server
        // (or a middlebox) that sends it is noted.
        probe.end_detail = std::to_string(parser.buffered()) +
                           " bytes arrived after the reply to STARTTLS and were discarded";
      }
      parser = smtp::ReplyParser{};
      probe.tls_attempted = true;
      SSL_set_tlsext_host_name(stream_.native_handle(), hostname.c_str());
      auto handshake_timeout = std::min<std::chrono::milliseconds>(
          spec_.step_timeout,
          std::chrono::duration_cast<std::chrono::milliseconds>(limits::tls_handshake_timeout));
      auto shaken = co_await before(deadline(handshake_timeout),
                                    stream_.async_handshake(Stream::client, as_result));
      if (!shaken) {
        probe.tls_error =
            "no TLS handshake within " + std::to_string(handshake_timeout.count()) + " ms";
        dialogue.on_tls_failed(probe.tls_error);
        co_return fail(probe, DialogueEnd::timed_out, probe.tls_error);
      }
      if (auto [ec] = *shaken; ec) {
        probe.tls_error = error_text(ec);
        dialogue.on_tls_failed(probe.tls_error);
        // The connection's TLS state is broken either way: stop here.
        co_return fail(probe, DialogueEnd::tls_failed, probe.tls_error);
      }
      tls_up_ = true;
      probe.tls_completed = true;
      record_tls(stream_.native_handle(), probe);
      action = dialogue.on_tls_established();
    }
  }

 public:
  void set_budget_end(steady_clock::time_point end) { budget_end_ = end; }

 private:
  ProbeSpec spec_;
  Stream& stream_;
  std::optional<smtp::ClientDialogue> dialogue_;
  bool tls_up_ = false;
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

  const auto start = steady_clock::now();
  Stream stream(co_await net::this_coro::executor, tls);
  ProbeRun run(spec, stream);
  run.set_budget_end(start + spec.budget);
  co_await run.run(probe);

  boost::system::error_code ignored;
  stream.next_layer().shutdown(net::socket_base::shutdown_both, ignored);
  stream.next_layer().close(ignored);
  probe.elapsed_ms = ms_since(start);
  BOOST_LOG_TRIVIAL(debug) << "probe " << probe.address << " port " << probe.port << ": connect "
                           << to_string(probe.connect) << ", end " << to_string(probe.end)
                           << (probe.end_detail.empty() ? "" : " (" + probe.end_detail + ")");
  co_return probe;
}

}  // namespace egress25::client
