// The reflector's TLS identity: a certificate and key loaded or made at start, its
// server context, and the SHA-256 fingerprint the control service advertises.
#include "tls_identity.hpp"

#include "hex.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace egress25::reflector {

namespace {

struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct X509ExtFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};

bool add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  std::unique_ptr<X509_EXTENSION, X509ExtFree> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

}  // namespace

std::string openssl_error_text() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

TlsIdentity::TlsIdentity() : context_(net::ssl::context::tls_server) {}

std::unique_ptr<TlsIdentity> TlsIdentity::load(const std::string& cert_file,
                                               const std::string& key_file, std::string& error) {
  std::unique_ptr<TlsIdentity> id(new TlsIdentity());
  boost::system::error_code ec;
  id->context_.use_certificate_chain_file(cert_file, ec);
  if (ec) {
    error = "cannot load certificate '" + cert_file + "': " + ec.message();
    return nullptr;
  }
  id->context_.use_private_key_file(key_file, net::ssl::context::pem, ec);
  if (ec) {
    error = "cannot load key '" + key_file + "': " + ec.message();
    return nullptr;
  }
  if (SSL_CTX_check_private_key(id->context_.native_handle()) != 1) {
    error = "key '" + key_file + "' does not match certificate '" + cert_file + "'";
    return nullptr;
  }
  if (!id->finish(error)) return nullptr;
  return id;
}

std::unique_ptr<TlsIdentity> TlsIdentity::generate(const std::string& hostname,
                                                   std::string& error) {
  std::unique_ptr<EVP_PKEY, EvpPkeyFree> key(EVP_EC_gen("P-256"));
  std::unique_ptr<X509, X509Free> cert(X509_new());
  if (!key || !cert) {
    error = "cannot make a TLS key: " + openssl_error_text();
    return nullptr;
  }
  unsigned char serial_bytes[16];
  bool ok = RAND_bytes(serial_bytes, sizeof serial_bytes) == 1;
  serial_bytes[0] &= 0x7f;  // RFC 5280 4.1.2.2: a positive serial of at most 20 octets
  BIGNUM* serial = ok ? BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr) : nullptr;
  ok = serial && BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) != nullptr;
  BN_free(serial);
  const std::string cn = hostname.substr(0, 64);  // RFC 5280: a CN is at most 64 characters
  ok = ok && X509_set_version(cert.get(), 2) == 1 &&
       X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
       X509_gmtime_adj(X509_getm_notAfter(cert.get()), 365L * 24 * 3600) != nullptr &&
       X509_set_pubkey(cert.get(), key.get()) == 1;
  X509_NAME* name = X509_get_subject_name(cert.get());
  ok = ok &&
       X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                  reinterpret_cast<const unsigned char*>("egress25-reflector"), -1,
                                  -1, 0) == 1 &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                  reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                  0) == 1 &&
       X509_set_issuer_name(cert.get(), name) == 1;
  const std::string san = "DNS:" + hostname;
  ok = ok && add_extension(cert.get(), NID_subject_alt_name, san.c_str()) &&
       add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
       X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  if (!ok) {
    error = "cannot make a self-signed certificate: " + openssl_error_text();
    return nullptr;
  }
  std::unique_ptr<TlsIdentity> id(new TlsIdentity());
  SSL_CTX* ctx = id->context_.native_handle();
  if (SSL_CTX_use_certificate(ctx, cert.get()) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, key.get()) != 1) {
    error = "cannot use the self-signed certificate: " + openssl_error_text();
    return nullptr;
  }
  if (!id->finish(error)) return nullptr;
  return id;
}

bool TlsIdentity::finish(std::string& error) {
  SSL_CTX* ctx = context_.native_handle();
  // TLS 1.2 and 1.3 only: what mail clients speak today, and what OpenSSL 3 allows at its
  // default security level anyway.
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  context_.set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::single_dh_use);
  X509* leaf = SSL_CTX_get0_certificate(ctx);
  if (!leaf) {
    error = "no certificate in the TLS context";
    return false;
  }
  unsigned char* der = nullptr;
  const int der_size = i2d_X509(leaf, &der);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  const bool ok = der_size > 0 && EVP_Digest(der, static_cast<std::size_t>(der_size), digest,
                                             &digest_size, EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) {
    error = "cannot compute the certificate fingerprint: " + openssl_error_text();
    return false;
  }
  fingerprint_ = to_hex(digest, digest_size);
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(leaf), subject, sizeof subject);
  subject_ = subject;
  return true;
}

}  // namespace egress25::reflector
