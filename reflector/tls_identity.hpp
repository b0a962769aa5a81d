// The reflector's TLS identity: a certificate and key loaded or made at start, its
// server context, and the SHA-256 fingerprint the control service advertises.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

namespace egress25::reflector {

namespace net = boost::asio;

class TlsIdentity {
 public:
  // Loads a PEM certificate chain and key. nullptr with `error` on failure.
  static std::unique_ptr<TlsIdentity> load(const std::string& cert_file,
                                           const std::string& key_file, std::string& error);
  // Makes a fresh EC P-256 key and a self-signed certificate for `hostname`.
  static std::unique_ptr<TlsIdentity> generate(const std::string& hostname, std::string& error);

  net::ssl::context& context() { return context_; }
  // SHA-256 of the leaf certificate's DER encoding, lower-case hex.
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& subject() const { return subject_; }

 private:
  TlsIdentity();
  bool finish(std::string& error);  // common server settings, fingerprint

  net::ssl::context context_;
  std::string fingerprint_;
  std::string subject_;
};

// The last OpenSSL error as one sentence (and the error queue cleared).
std::string openssl_error_text();

}  // namespace egress25::reflector
