// One SMTP connection on a mail port, plain with STARTTLS or implicit TLS: the same
// dialogue over a stream that may switch to TLS, recorded byte for byte.
#include "smtp_session.hpp"

#include <openssl/ssl.h>

#include <array>
#include <boost/asio/ssl.hpp>
#include <memory>

#include "control_protocol.hpp"
#include "end_reason.hpp"
#include "io_deadline.hpp"
#include "limits.hpp"
#include "listener.hpp"
#include "logging.hpp"
#include "mail_stream.hpp"
#include "metrics.hpp"
#include "smtp_reply_parser.hpp"
#include "smtp_server_dialogue.hpp"
#include "timed_io.hpp"
#include "transcript.hpp"

namespace egress25::reflector {

namespace {

using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

// Plain reads go into one buffer the whole thread shares (see SessionStream::read_some),
// so an idle connection holds no read buffer at all.
constexpr std::size_t read_size = limits::session_read_size;
thread_local std::array<char, read_size> shared_read_buffer;

// The session's waits on the one stream type client and reflector share (MailStream:
// plain TCP that may become TLS; which layer each read and write goes through is the
// dialogue's to say): each with its deadline, and memory spent when data arrives, not
// per connection. MailStream makes its TLS layer only when the handshake starts, and a
// plain read waits for readability with no buffer, then reads into the thread's shared
// buffer and hands the bytes over before anything else runs.
class SessionStream {
 public:
  // Non-blocking from the start, once: read_some's plain reads are synchronous reads that
  // must not block, and asio sets the flag with a system call each time it is asked.
  explicit SessionStream(tcp::socket socket)
      : stream_(std::move(socket)), deadline_(stream_.socket().get_executor()) {
    error_code ec;
    stream_.socket().non_blocking(true, ec);
  }

  SSL* ssl() { return stream_.ssl(); }
  tcp::socket& socket() { return stream_.socket(); }

  // The bytes read (valid until the next co_await), or nullopt on timeout.
  net::awaitable<std::optional<std::tuple<error_code, std::string_view>>> read_some(
      bool tls, Clock::duration timeout) {
    if (tls) {
      if (!tls_buffer_) tls_buffer_ = std::make_unique<std::array<char, read_size>>();
      auto r = co_await deadline_.run(socket(),
                                      stream_.async_read_some(true, net::buffer(*tls_buffer_),
                                                              net::as_tuple(net::use_awaitable)),
                                      timeout);
      if (!r) co_return std::nullopt;
      co_return std::tuple{std::get<0>(*r), std::string_view(tls_buffer_->data(), std::get<1>(*r))};
    }
    for (;;) {
      auto ready = co_await readable(timeout);
      if (!ready) co_return std::nullopt;
      if (*ready) co_return std::tuple{*ready, std::string_view()};
      error_code ec;
      const auto n = socket().read_some(net::buffer(shared_read_buffer), ec);
      if (ec == net::error::would_block || ec == net::error::try_again) continue;
      co_return std::tuple{ec, std::string_view(shared_read_buffer.data(), n)};
    }
  }

  // Waits until the socket has bytes (or an end) to read: nullopt on timeout, else how
  // the wait ended (an error when the socket was cancelled or closed under it).
  net::awaitable<std::optional<error_code>> readable(Clock::duration timeout) {
    deadline_.arm(socket(), timeout);
    auto [ec] =
        co_await socket().async_wait(tcp::socket::wait_read, net::as_tuple(net::use_awaitable));
    if (deadline_.disarm()) co_return std::nullopt;
    co_return ec;
  }

  net::awaitable<std::optional<std::tuple<error_code, std::size_t>>> write(
      bool tls, std::string_view bytes, Clock::duration timeout) {
    return deadline_.run(
        socket(), stream_.async_write(tls, net::buffer(bytes), net::as_tuple(net::use_awaitable)),
        timeout);
  }

  net::awaitable<std::optional<std::tuple<error_code>>> handshake(net::ssl::context& context,
                                                                  Clock::duration timeout) {
    stream_.start_tls(context);
    return deadline_.run(
        socket(),
        stream_.async_handshake(net::ssl::stream_base::server, net::as_tuple(net::use_awaitable)),
        timeout);
  }

  // `peer_done`: the peer ended the dialogue (QUIT, answered).
  net::awaitable<void> close(bool tls, bool peer_done) {
    if (tls) {
      // close_notify, so the peer can tell our close from a truncation attack.
      co_await deadline_.run(socket(),
                             stream_.async_shutdown_tls(net::as_tuple(net::use_awaitable)),
                             limits::smtp_farewell_timeout);
    }
    // After QUIT the peer sends nothing more, and with nothing unread a close sends its
    // FIN behind the last reply, never a reset: nothing to linger for. The lingering
    // close's shutdown, wait and read were a sixth of a session's system calls.
    error_code ec;
    if (peer_done && socket().available(ec) == 0 && !ec) {
      socket().close(ec);
      co_return;
    }
    co_await lingering_close(socket(), deadline_);
  }

 private:
  io::MailStream stream_;
  Deadline deadline_;
  std::unique_ptr<std::array<char, read_size>> tls_buffer_;
};

std::string describe(const error_code& ec) {
  if (ec == net::error::eof) return "peer closed";
  if (ec == net::ssl::error::stream_truncated) return "peer closed (no TLS close_notify)";
  if (ec == net::error::connection_reset) return "reset by peer";
  return ec.message();
}

std::string end_reason_for(CloseReason why) {
  switch (why) {
    case CloseReason::shed:
      return std::string(end_reason::shed);
    case CloseReason::stress:
      return std::string(end_reason::stress);
    case CloseReason::shutdown:
      return std::string(end_reason::shutdown);
  }
  return "closed";
}

// A failed read or write as the dialogue hears it, in the words the record keeps.
smtp::Event failure_event(const error_code& ec) {
  return io::failure_event(ec, describe(ec));
}

std::chrono::milliseconds in_ms(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

class SmtpSession {
 public:
  SmtpSession(tcp::socket socket, ServiceKind kind, SmtpContext& context,
              std::optional<ConnectionTable::Slot> slot)
      : context_(context),
        identity_(context.identity),
        kind_(kind),
        record_(std::make_shared<ConnectionRecord>()),
        stream_(std::move(socket)),
        dialogue_(make_config(), record_->transcript),
        slot_(std::move(slot)) {}

  net::awaitable<void> run() {
    if (slot_) slot_->on_close([this](CloseReason why) { told_to_close(why); });
    co_await serve();
    // The dialogue is over once the last reply is on its way: a REPORT from now on says
    // so, while the close (TLS close_notify, lingering FIN) takes its own seconds.
    record_->ended_unix_ms = unix_ms_now();
    record_->end_reason = dialogue_.end_reason().empty() ? "closed" : dialogue_.end_reason();
    context_.store.note_connection_end(ring_id_, record_->end_reason);
    if (closed_by_table_) {
      error_code ec;
      stream_.socket().close(ec);
    } else {
      co_await stream_.close(dialogue_.tls_active(), record_->end_reason == "quit");
    }
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
    prefix_ = source_keys(peer.address(), {}).prefix;
    return SmtpServerDialogue::Config{context_.hostname, r.peer_address, kind_};
  }

  // The table wants this connection gone. Made room for someone (shed) or under stress:
  // a 421 if one can be said at once (plaintext, between commands), then closed now,
  // spending nothing more on it. At shutdown: the pending I/O is cancelled, and the
  // dialogue says its 421 like any other reply before the ordinary close.
  void told_to_close(CloseReason why) {
    closing_ = why;
    error_code ec;
    if (why == CloseReason::shutdown) {
      stream_.socket().cancel(ec);
      return;
    }
    closed_by_table_ = true;
    // No plaintext on implicit TLS (the peer expects a handshake), inside TLS or in its
    // handshake, or across a reply on its way.
    const bool plain =
        kind_ == ServiceKind::smtp && !dialogue_.tls_active() && dialogue_.waiting_for_command();
    say_and_close(stream_.socket(), plain ? closing_reply(why, context_.hostname) : std::string());
  }

  // The session ends for the table's reason; at shutdown the socket is still ours and
  // the dialogue may say a 421 on it.
  smtp::Action stop() {
    const std::string farewell =
        closed_by_table_ ? std::string() : closing_reply(*closing_, context_.hostname);
    return dialogue_.stop(farewell, end_reason_for(*closing_));
  }

  // Carries out the dialogue's actions until it says close. Every result goes back to
  // it: what a failure means is the dialogue's to say.
  net::awaitable<void> serve() {
    const io::SessionClock clock{Clock::now(), context_.session_lifetime,
                                 limits::smtp_idle_timeout};
    auto action = dialogue_.resume(smtp::Event::start());
    while (!action.done()) {
      switch (action.kind) {
        case smtp::Action::Kind::read:
          action = co_await read(action.tls, clock);
          break;
        case smtp::Action::Kind::write:
          if (const auto& name = dialogue_.name_seen()) saw_name(name->name, name->where);
          action = co_await write(action);
          break;
        case smtp::Action::Kind::start_tls:
          action = co_await start_tls();
          break;
        case smtp::Action::Kind::close:
          break;
      }
    }
  }

  net::awaitable<smtp::Action> read(bool tls, const io::SessionClock& clock) {
    // Until it shows a live session's tag, a connection has untagged_lifetime in all.
    const auto tag_deadline = clock.started + context_.untagged_lifetime;
    const bool tag_due = record_->probe_tag.empty() && tag_deadline < clock.end();
    const auto wait = clock.next_wait(tag_due ? tag_deadline : clock.end(), Clock::now());
    auto r = co_await stream_.read_some(tls, wait.timeout);
    if (closing_) co_return stop();
    if (!r) {
      const std::string_view why = !wait.last ? end_reason::idle_timeout
                                   : tag_due  ? end_reason::no_tag_in_time
                                              : end_reason::session_time_limit;
      co_return dialogue_.resume(smtp::Event::timed_out(in_ms(wait.timeout), std::string(why)));
    }
    const auto [ec, bytes] = *r;
    if (!bytes.empty() && slot_) slot_->note_active(steady_ms_now());
    if (!ec) co_return dialogue_.resume(smtp::Event::received(bytes));
    if (!bytes.empty()) {
      // Bytes and an error at once: the bytes first; the error if it still matters.
      auto next = dialogue_.resume(smtp::Event::received(bytes));
      if (next.kind != smtp::Action::Kind::read) co_return next;
    }
    co_return dialogue_.resume(failure_event(ec));
  }

  net::awaitable<smtp::Action> write(const smtp::Action& action) {
    const Clock::duration timeout = action.farewell ? Clock::duration(limits::smtp_farewell_timeout)
                                                    : Clock::duration(limits::smtp_idle_timeout);
    auto r = co_await stream_.write(action.tls, action.bytes, timeout);
    if (closing_) co_return stop();
    if (!r) co_return dialogue_.resume(smtp::Event::timed_out(in_ms(timeout)));
    if (auto ec = std::get<0>(*r)) co_return dialogue_.resume(failure_event(ec));
    co_return dialogue_.resume(smtp::Event::written());
  }

  net::awaitable<smtp::Action> start_tls() {
    if (auto dropped = dialogue_.discarded_at_starttls(); dropped > 0)
      LOG_EVERY(debug, "notes of bytes sent after STARTTLS")
          << "smtp " << peer_text_ << ": dropped " << dropped
          << " bytes sent after STARTTLS before the handshake";
    const auto timeout = in_ms(limits::tls_handshake_timeout);
    // Reading the handshake is the peer's to start: a silent peer waits with no TLS
    // state (see SessionStream) until its ClientHello is there.
    if (kind_ == ServiceKind::smtps) {
      const auto ready = co_await stream_.readable(limits::tls_handshake_timeout);
      if (closing_) co_return stop();
      if (!ready) co_return dialogue_.resume(smtp::Event::timed_out(timeout));
      if (*ready) co_return dialogue_.resume(smtp::Event::tls_failed(*ready, describe(*ready)));
      if (slot_) slot_->note_active(steady_ms_now());
    }
    auto r = co_await stream_.handshake(identity_->context(), limits::tls_handshake_timeout);
    if (closing_) co_return stop();
    if (!r || std::get<0>(*r)) {
      if (context_.metrics) context_.metrics->tls_handshake_failed();
      if (!r) co_return dialogue_.resume(smtp::Event::timed_out(timeout));
      const auto ec = std::get<0>(*r);
      co_return dialogue_.resume(smtp::Event::tls_failed(ec, describe(ec)));
    }
    SSL* ssl = stream_.ssl();
    record_->tls_version = SSL_get_version(ssl);
    record_->tls_cipher = SSL_get_cipher_name(ssl);
    if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
      record_->tls_sni = printable(sni, 255);
      saw_name(sni, "sni");
    }
    co_return dialogue_.resume(smtp::Event::tls_up());
  }

  // A name the client gave (EHLO/HELO argument, SNI): if it carries the tag of a live
  // session, this connection is that session's evidence (the rules: SessionStore).
  void saw_name(std::string_view name, std::string_view where) {
    const auto outcome = context_.store.saw_name(name, where, ring_id_, record_, unix_ms_now());
    if (outcome == SessionStore::NameOutcome::attached && context_.metrics)
      context_.metrics->probe(record_->local_port, record_->family);
    if (outcome == SessionStore::NameOutcome::attached ||
        outcome == SessionStore::NameOutcome::seen_again) {
      if (slot_) slot_->note_useful();
    }
    if (outcome == SessionStore::NameOutcome::not_kept)
      LOG_EVERY(warning, "connections over their session's cap")
          << "smtp " << peer_text_ << ": session of tag " << record_->probe_tag
          << " holds too many connections; this one is not kept";
  }

  void log_end() {
    const ConnectionRecord& r = *record_;
    const auto& t = r.transcript;
    LOG_EVERY(info, "smtp connections from " + prefix_)
        << "smtp " << peer_text_ << " -> " << local_text_ << " (" << to_string(kind_)
        << ") tag=" << (r.probe_tag.empty() ? "-" : r.probe_tag)
        << " tls=" << (r.tls_version.empty() ? "-" : r.tls_version)
        << " sni=" << (r.tls_sni.empty() ? "-" : r.tls_sni)
        << " in=" << t.plain.to_server.total + t.tls.to_server.total
        << "B out=" << t.plain.to_client.total + t.tls.to_client.total
        << "B ms=" << r.ended_unix_ms - r.started_unix_ms << " end=" << r.end_reason;
  }

  SmtpContext& context_;
  std::shared_ptr<TlsIdentity> identity_;
  ServiceKind kind_;
  std::shared_ptr<ConnectionRecord> record_;
  std::uint64_t ring_id_ = 0;
  std::string peer_text_;
  std::string local_text_;
  std::string prefix_;
  SessionStream stream_;
  SmtpServerDialogue dialogue_;
  std::optional<ConnectionTable::Slot> slot_;
  std::optional<CloseReason> closing_;
  bool closed_by_table_ = false;  // the socket is closed already: no farewell, no linger
};

}  // namespace

std::string closing_reply(CloseReason why, std::string_view hostname) {
  const std::string head = std::string(hostname) + " " + std::string(SmtpServerDialogue::identity);
  switch (why) {
    case CloseReason::shed:
      return "421 4.7.0 " + head + " busy: idle connection closed to serve others\r\n";
    case CloseReason::stress:
      return "421 4.7.0 " + head + " busy: connection closed under load\r\n";
    case CloseReason::shutdown:
      return "421 4.3.2 " + head + " shutting down, closing\r\n";
  }
  return {};
}

net::awaitable<void> run_smtp_session(tcp::socket socket, ServiceKind kind, SmtpContext& context,
                                      std::optional<ConnectionTable::Slot> slot) {
  SmtpSession session(std::move(socket), kind, context, std::move(slot));
  co_await session.run();
}

}  // namespace egress25::reflector
