// The one byte stream of an SMTP connection, client's or reflector's: plain TCP that may
// become TLS in the middle (STARTTLS) or from the start (implicit TLS, port 465).
//
// Which layer a read or write goes through is the dialogue's to say (Action::tls, as
// Boost.MySQL's use_ssl): the stream holds no TLS state of its own beyond whether the TLS
// layer exists. The TLS layer is made when the handshake starts, over a reference to the
// socket, so a connection that never does TLS never pays for it (an OpenSSL object and
// Asio's two 17 KiB record buffers) and the socket never moves. Deadlines are the
// caller's: every operation takes a completion token, so it races a timer like any Asio
// operation.
//
// Header-only: egress25_common opens no socket and does not link OpenSSL; the client and
// the reflector, which do, include this.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>
#include <utility>

#include "dialogue_io.hpp"

namespace egress25::io {

namespace net = boost::asio;

class MailStream {
 public:
  using tcp = net::ip::tcp;
  using TlsLayer = net::ssl::stream<tcp::socket&>;

  explicit MailStream(tcp::socket socket) : socket_(std::move(socket)) {}
  MailStream(const MailStream&) = delete;
  MailStream& operator=(const MailStream&) = delete;

  // The TCP connection under whatever layer: for connect, options, addresses, close.
  tcp::socket& socket() { return socket_; }
  // The TLS session once a handshake has begun; nullptr before.
  SSL* ssl() { return tls_ ? tls_->native_handle() : nullptr; }

  // Makes the TLS layer; a client names the server it expects (SNI), a server passes
  // "". Called once, before async_handshake.
  void start_tls(net::ssl::context& context, const std::string& server_name = {}) {
    tls_ = std::make_unique<TlsLayer>(socket_, context);
    if (!server_name.empty()) SSL_set_tlsext_host_name(tls_->native_handle(), server_name.c_str());
  }

  template <typename Token>
  auto async_handshake(net::ssl::stream_base::handshake_type type, Token&& token) {
    return tls_->async_handshake(type, std::forward<Token>(token));
  }
  template <typename Buffer, typename Token>
  auto async_read_some(bool tls, const Buffer& buffer, Token&& token) {
    if (tls) return tls_->async_read_some(buffer, std::forward<Token>(token));
    return socket_.async_read_some(buffer, std::forward<Token>(token));
  }
  // The whole buffer, or an error.
  template <typename Buffer, typename Token>
  auto async_write(bool tls, const Buffer& buffer, Token&& token) {
    if (tls) return net::async_write(*tls_, buffer, std::forward<Token>(token));
    return net::async_write(socket_, buffer, std::forward<Token>(token));
  }
  // TLS close_notify, so the peer can tell our close from a truncation attack.
  template <typename Token>
  auto async_shutdown_tls(Token&& token) {
    return tls_->async_shutdown(std::forward<Token>(token));
  }

 private:
  tcp::socket socket_;
  std::unique_ptr<TlsLayer> tls_;
};

// A failed read or write as a dialogue hears it: the peer's end of the stream (a FIN,
// or TLS ended without close_notify) or an error, said in `words`.
inline smtp::Event failure_event(const boost::system::error_code& ec, std::string words) {
  if (ec == net::error::eof) return smtp::Event::peer_closed();
  if (ec == net::ssl::error::stream_truncated) return smtp::Event::peer_closed(true);
  return smtp::Event::io_error(ec, std::move(words));
}

}  // namespace egress25::io
