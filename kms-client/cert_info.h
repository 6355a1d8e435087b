// Server certificate thumbprints and descriptions, for pinning (vCenter
// trusts a KMS by the SHA-1 thumbprint `openssl x509 -fingerprint -noout`
// prints) and for `luksfs kms trust`.
//
// A pin is 20 bytes (SHA-1) or 32 bytes (SHA-256) of the DER encoding of
// the server's leaf certificate; ParseFingerprint (tls_connection.h) makes
// one from text.
//
// Thread-safety: pure functions. Nothing here is secret.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

typedef struct x509_st X509;

namespace luksfs::kms {

struct CertInfo {
  std::string subject;     // one line, RFC 2253 order ("CN=host,O=...")
  std::string issuer;
  std::string not_before;  // "2026-12-01T20:34:30Z"
  std::string not_after;
  std::vector<uint8_t> sha1;    // of the DER certificate
  std::vector<uint8_t> sha256;
};

// Errors: kCorruption when the certificate cannot be encoded or hashed.
Result<CertInfo> DescribeCertificate(X509* cert);
// The same from DER bytes. Errors: kCorruption (not a certificate).
Result<CertInfo> DescribeCertificateDer(std::span<const uint8_t> der);

// The line `openssl x509 -fingerprint -noout [-sha256]` prints for the
// digest: "SHA1 Fingerprint=7B:D9:..." (20 bytes) or "sha256
// Fingerprint=..." (32 bytes).
std::string FingerprintLine(std::span<const uint8_t> digest);

// Whether `cert` hashes to `pin` (SHA-1 or SHA-256 by the pin's size).
// Errors: kInvalidArgument for another pin size, kCorruption on a hash
// failure.
Result<bool> PinMatches(X509* cert, std::span<const uint8_t> pin);

// Whether `cert` matches any of `pins`.
Result<bool> PinsMatch(X509* cert,
                       const std::vector<std::vector<uint8_t>>& pins);
// FingerprintLine of each pin, joined by ", ".
std::string FingerprintLines(const std::vector<std::vector<uint8_t>>& pins);

// "SHA1 Fingerprint=..., sha256 Fingerprint=..." of `cert`, for messages.
std::string PresentedFingerprints(X509* cert);

}  // namespace luksfs::kms
