// Mutual-TLS client connections (OpenSSL) for the KMIP driver.
//
// TlsClient holds the SSL_CTX: TLS >= 1.2, the client certificate and key,
// and the server trust: either a CA bundle (ca_file, or the system CAs when
// empty) with host name / IP address checking, or, when a pin is set, the
// pin alone (the vCenter "thumbprint" model: any chain, but the server's
// leaf certificate DER must hash to the pin, SHA-1 or SHA-256).
//
// Connect() walks an ordered list of endpoints and returns the first one
// that completes TCP and TLS (failover). Each attempt is bounded by the
// timeout; reads and writes take an absolute deadline. SIGPIPE is blocked
// around socket writes, so a peer that hung up yields an error, not a
// signal.
//
// Errors:
//   kInvalidArgument  unreadable/mismatched client certificate or key, CA
//                     file, malformed fingerprint (the message names it)
//   kPermissionDenied the server's certificate is not trusted by the CA file
//                     or does not match the pin, or the server refused ours
//                     (TLS alert) — the message says which
//   kUnavailable      name resolution, connect, timeout, connection closed
//
// Thread-safety: a TlsClient may be shared by threads once created (it is
// not modified); a TlsConnection is used by one thread at a time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace luksfs::kms {

using Deadline = std::chrono::steady_clock::time_point;

struct Endpoint {
  std::string host;  // DNS name or IP literal (no brackets)
  uint16_t port = 0;
  // "host:port", "[v6]:port".
  std::string ToString() const;
};

struct TlsOptions {
  std::string ca_file;                 // PEM; "" = system CAs
  // Pinned certificates: each SHA-1 (20) or SHA-256 (32 bytes); a server
  // is trusted if its leaf matches any. Empty = CA mode.
  std::vector<std::vector<uint8_t>> pins;
  std::string client_cert_file;        // PEM chain; "" = no client cert
  std::string client_key_file;         // PEM; "" = key in the cert file
  int timeout_ms = 10000;              // per connect attempt
};

// Parses a certificate fingerprint: SHA-1 (40 hex digits, vCenter's
// thumbprint) or SHA-256 (64), optional ':' separators, either case, and
// optionally the whole line `openssl x509 -fingerprint -noout [-sha256]`
// prints ("SHA1 Fingerprint=7B:D9:..."; the named algorithm must match the
// length). Returns the 20 or 32 digest bytes. Errors: kInvalidArgument.
Result<std::vector<uint8_t>> ParseFingerprint(std::string_view text);
// A list of those separated by ',' (one per server of a cluster).
Result<std::vector<std::vector<uint8_t>>> ParseFingerprints(
    std::string_view text);

// "AB:CD:..." for messages.
std::string FormatFingerprint(std::span<const uint8_t> digest);

class TlsConnection {
 public:
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Writes all of `data` or fails (kUnavailable, kPermissionDenied).
  Status WriteAll(std::span<const uint8_t> data, Deadline deadline);
  // Reads exactly out.size() bytes or fails (kUnavailable on EOF/timeout).
  Status ReadExact(std::span<uint8_t> out, Deadline deadline);

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  friend class TlsClient;
  TlsConnection(Endpoint endpoint, UniqueFd fd, SSL* ssl)
      : endpoint_(std::move(endpoint)), fd_(std::move(fd)), ssl_(ssl) {}

  Endpoint endpoint_;
  UniqueFd fd_;  // closed after ~TlsConnection's SSL_free
  SSL* ssl_;  // owned
};

class TlsClient {
 public:
  // Loads certificates and trust. Errors: kInvalidArgument naming the file.
  static Result<std::unique_ptr<TlsClient>> Create(const TlsOptions& options);
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // The first endpoint that accepts TCP and completes a trusted TLS
  // handshake. When all fail: kPermissionDenied if any failed on trust or a
  // TLS alert, else kUnavailable; the message lists each endpoint's error.
  Result<std::unique_ptr<TlsConnection>> Connect(
      const std::vector<Endpoint>& endpoints) const;

  // The DER certificate `endpoint` presents, without trusting it (for
  // `luksfs kms trust`, which shows it to the operator). The handshake may
  // then fail (a server that wants a client certificate we lack): the
  // certificate is returned if it was received. Errors: kUnavailable.
  Result<std::vector<uint8_t>> FetchCertificate(const Endpoint& endpoint) const;

 private:
  TlsClient(SSL_CTX* ctx, TlsOptions options)
      : ctx_(ctx), options_(std::move(options)) {}
  Result<std::unique_ptr<TlsConnection>> ConnectOne(
      const Endpoint& endpoint) const;
  // TCP connect and TLS handshake with `endpoint`, checked against the
  // trust settings when `trust` (else nothing is verified: FetchCertificate).
  // The handshake's outcome goes to *handshake; the connection is returned
  // either way so that the caller can inspect it. Errors: TcpConnect's,
  // kInternal.
  Result<std::unique_ptr<TlsConnection>> Handshake(const Endpoint& endpoint,
                                                   bool trust,
                                                   Status* handshake) const;

  SSL_CTX* ctx_;  // owned
  TlsOptions options_;
};

}  // namespace luksfs::kms
