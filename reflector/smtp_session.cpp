// One SMTP connection on a mail port, plain with STARTTLS or implicit TLS: the same
// dialogue over a stream that may switch to TLS, recorded byte for byte.
#include "smtp_session.hpp"

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/ssl.hpp>
#include <memory>

#include "control_protocol.hpp"
#include "limits.hpp"
#include "listener.hpp"
#include "logging.hpp"
#include "metrics.hpp"
#include "smtp_reply_parser.hpp"
#include "smtp_server_dialogue.hpp"
#include "timed_io.hpp"
#include "transcript.hpp"

namespace egress25::reflector {

namespace {

using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

// Deadline for the last words: the 421 after an idle timeout, the TLS close_notify.
constexpr auto farewell_timeout = std::chrono::seconds(2);

// A byte stream that starts as plain TCP and may become TLS in the middle (STARTTLS):
// one type for both phases, so the dialogue code is the same for 25, 587 and 465.
class SmtpStream {
 public:
  SmtpStream(tcp::socket socket, net::ssl::context& context)
      : stream_(std::move(socket), context) {}

  bool tls() const { return tls_; }
  SSL* native() { return stream_.native_handle(); }
  tcp::socket& socket() { return stream_.next_layer(); }

  // nullopt on timeout.
  net::awaitable<std::optional<std::tuple<error_code, std::size_t>>> read_some(
      net::mutable_buffer buffer, std::chrono::steady_clock::duration timeout) {
    if (tls_)
      co_return co_await within(stream_.async_read_some(buffer, net::as_tuple(net::use_awaitable)),
                                timeout);
    co_return co_await within(socket().async_read_some(buffer, net::as_tuple(net::use_awaitable)),
                              timeout);
  }

  net::awaitable<std::optional<std::tuple<error_code, std::size_t>>> write(
      std::string_view bytes, std::chrono::steady_clock::duration timeout) {
    if (tls_)
      co_return co_await within(
          net::async_write(stream_, net::buffer(bytes), net::as_tuple(net::use_awaitable)),
          timeout);
    co_return co_await within(
        net::async_write(socket(), net::buffer(bytes), net::as_tuple(net::use_awaitable)), timeout);
  }

  net::awaitable<std::optional<std::tuple<error_code>>> handshake(
      std::chrono::steady_clock::duration timeout) {
    auto r = co_await within(
        stream_.async_handshake(net::ssl::stream_base::server, net::as_tuple(net::use_awaitable)),
        timeout);
    if (r && !std::get<0>(*r)) tls_ = true;
    co_return r;
  }

  net::awaitable<void> close() {
    if (tls_) {
      // close_notify, so the peer can tell our close from a truncation attack.
      co_await within(stream_.async_shutdown(net::as_tuple(net::use_awaitable)), farewell_timeout);
    }
    co_await lingering_close(socket());
  }

 private:
  net::ssl::stream<tcp::socket> stream_;
  bool tls_ = false;
};

std::string describe(const error_code& ec) {
  if (ec == net::error::eof) return "peer closed";
  if (ec == net::ssl::error::stream_truncated) return "peer closed (no TLS close_notify)";
  if (ec == net::error::connection_reset) return "reset by peer";
  return ec.message();
}

class SmtpSession {
 public:
  SmtpSession(tcp::socket socket, ServiceKind kind, SmtpContext& context)
      : context_(context),
        kind_(kind),
        record_(std::make_shared<ConnectionRecord>()),
        stream_(std::move(socket), context.identity.context()),
        dialogue_(make_config()) {}

  net::awaitable<void> run() {
    co_await serve();
    // The dialogue is over once the last reply is on its way: a REPORT from now on says
    // so, while the close (TLS close_notify, lingering FIN) takes its own seconds.
    record_->ended_unix_ms = unix_ms_now();
    record_->end_reason = end_reason_.empty() ? "closed" : end_reason_;
    context_.store.note_connection_end(ring_id_, record_->end_reason);
    co_await stream_.close();
    log_end();
  }

 private:
  SmtpServerDialogue::Config make_config() {
    error_code ec;
    const auto peer = stream_.socket().remote_endpoint(ec);
    const auto local = stream_.socket().local_endpoint(ec);
    ConnectionRecord& r = *record_;
    r.peer_address = unmapped(peer.address()).to_string();
    r.peer_port = peer.port();
    r.local_address = unmapped(local.address()).to_string();
    r.local_port = local.port();
    r.family = family_of(peer.address());
    r.kind = kind_;
    r.started_unix_ms = unix_ms_now();
    ring_id_ = context_.store.note_connection(r);
    peer_text_ = endpoint_text(peer);
    local_text_ = endpoint_text(local);
    return SmtpServerDialogue::Config{context_.hostname, r.peer_address,
                                      kind_ == ServiceKind::smtp};
  }

  PhaseTranscript& phase() {
    return stream_.tls() ? record_->transcript.tls : record_->transcript.plain;
  }

  net::awaitable<void> serve() {
    const auto deadline = std::chrono::steady_clock::now() + context_.session_lifetime;
    if (kind_ == ServiceKind::smtps && !co_await start_tls()) co_return;
    if (!co_await send(dialogue_.greeting())) co_return;
    std::array<char, 4096> buffer;
    for (;;) {
      if (!co_await answer_buffered_lines()) co_return;
      const auto left = deadline - std::chrono::steady_clock::now();
      const bool last_read = left < limits::smtp_idle_timeout;
      auto r = co_await stream_.read_some(
          net::buffer(buffer),
          last_read ? std::max(left, std::chrono::steady_clock::duration::zero())
                    : std::chrono::steady_clock::duration(limits::smtp_idle_timeout));
      if (!r) {
        end_reason_ = last_read ? "session time limit" : "idle timeout";
        // RFC 5321 4.5.3.2: a server that times out should say so with a 421.
        co_await send("421 4.4.2 " + context_.hostname + " " + end_reason_ + ", closing\r\n",
                      farewell_timeout);
        co_return;
      }
      const auto [ec, n] = *r;
      const std::string_view bytes(buffer.data(), n);
      if (n > 0) {
        phase().to_server.append(bytes);
        reader_.feed(bytes);
      }
      if (ec) {
        end_reason_ = describe(ec);
        co_return;
      }
    }
  }

  // Answers every whole line already read. False when the session is over.
  net::awaitable<bool> answer_buffered_lines() {
    for (;;) {
      auto line = reader_.next();
      if (line.status == smtp::LineReader::Status::need_more) co_return true;
      auto step = line.status == smtp::LineReader::Status::too_long ? dialogue_.on_line_too_long()
                                                                    : dialogue_.on_line(line.line);
      if (step.helo_name) {
        saw_name(*step.helo_name,
                 kind_ == ServiceKind::smtp && stream_.tls() ? "ehlo_after_starttls" : "ehlo");
      }
      if (!co_await send(step.reply)) co_return false;
      switch (step.next) {
        case SmtpServerDialogue::Next::read:
          break;
        case SmtpServerDialogue::Next::close:
          end_reason_ = step.end_reason;
          co_return false;
        case SmtpServerDialogue::Next::start_tls:
          // RFC 3207 5: plaintext that followed STARTTLS is an injection attempt (or a
          // client that cannot wait); it must not be read as if it came over TLS.
          if (auto dropped = reader_.discard_buffered(); dropped > 0)
            LOG(debug) << "smtp " << peer_text_ << ": dropped " << dropped
                       << " bytes sent after STARTTLS before the handshake";
          if (!co_await start_tls()) co_return false;
          break;
      }
    }
  }

  net::awaitable<bool> send(
      std::string bytes, std::chrono::steady_clock::duration timeout = limits::smtp_idle_timeout) {
    // Recorded before the write starts: a client that reads the reply and asks for a
    // REPORT at once finds these bytes in it.
    phase().to_client.append(bytes);
    auto r = co_await stream_.write(bytes, timeout);
    if (!r) {
      if (end_reason_.empty()) end_reason_ = "write timeout";
      co_return false;
    }
    if (auto ec = std::get<0>(*r)) {
      if (end_reason_.empty()) end_reason_ = describe(ec);
      co_return false;
    }
    co_return true;
  }

  net::awaitable<bool> start_tls() {
    auto r = co_await stream_.handshake(limits::tls_handshake_timeout);
    if (!r || std::get<0>(*r)) {
      if (context_.metrics) context_.metrics->tls_handshake_failed();
      end_reason_ = "tls failed: " + (r ? describe(std::get<0>(*r)) : std::string("timeout"));
      co_return false;
    }
    SSL* ssl = stream_.native();
    record_->tls_version = SSL_get_version(ssl);
    record_->tls_cipher = SSL_get_cipher_name(ssl);
    if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
      record_->tls_sni = printable(sni, 255);
      saw_name(sni, "sni");
    }
    dialogue_.on_tls_started();
    co_return true;
  }

  // A name the client gave (EHLO/HELO argument, SNI): if it carries the tag of a live
  // session, this connection is that session's evidence (the rules: SessionStore).
  void saw_name(std::string_view name, const char* where) {
    const auto outcome = context_.store.saw_name(name, where, ring_id_, record_, unix_ms_now());
    if (outcome == SessionStore::NameOutcome::attached && context_.metrics)
      context_.metrics->probe(record_->local_port, record_->family);
    if (outcome == SessionStore::NameOutcome::not_kept)
      LOG(warning) << "smtp " << peer_text_ << ": session of tag " << record_->probe_tag
                   << " holds too many connections; this one is not kept";
  }

  void log_end() {
    const ConnectionRecord& r = *record_;
    const auto& t = r.transcript;
    LOG(info) << "smtp " << peer_text_ << " -> " << local_text_ << " (" << to_string(kind_)
              << ") tag=" << (r.probe_tag.empty() ? "-" : r.probe_tag)
              << " tls=" << (r.tls_version.empty() ? "-" : r.tls_version)
              << " sni=" << (r.tls_sni.empty() ? "-" : r.tls_sni)
              << " in=" << t.plain.to_server.total + t.tls.to_server.total
              << "B out=" << t.plain.to_client.total + t.tls.to_client.total
              << "B ms=" << r.ended_unix_ms - r.started_unix_ms << " end=" << r.end_reason;
  }

  SmtpContext& context_;
  ServiceKind kind_;
  std::shared_ptr<ConnectionRecord> record_;
  std::uint64_t ring_id_ = 0;
  std::string peer_text_;
  std::string local_text_;
  SmtpStream stream_;
  SmtpServerDialogue dialogue_;
  smtp::LineReader reader_;
  std::string end_reason_;
};

}  // namespace

net::awaitable<void> run_smtp_session(tcp::socket socket, ServiceKind kind, SmtpContext& context) {
  SmtpSession session(std::move(socket), kind, context);
  co_await session.run();
}

}  // namespace egress25::reflector
