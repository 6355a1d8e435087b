// HttpClient: the REST KMS drivers' (Key Protect, Vault transit, IAM) view
// of the project's HTTP transport (common/http/http_transport.h), with the
// KMS rules: bounded responses, a short retry policy and certificate pins.
//
// - http and https only; redirects are not followed.
// - TLS: system CAs or HttpOptions::ca_file, peer and host verification on.
//   With a pinned fingerprint (SHA-1 or SHA-256 of the server certificate's
//   DER, hex, colons optional; cert_info.h) the leaf certificate must match
//   it and CA/host checks are replaced by the pin (as vCenter's
//   "thumbprint" trust works).
// - Bounded: responses over 1 MiB are refused (kCorruption); every attempt
//   has HttpOptions::timeout_ms (connect: at most 5 s of it).
// - Retries: connect errors, timeouts, HTTP 429 and 5xx other than 501 are
//   retried up to max_attempts in all, with a short backoff (100 ms, 200 ms,
//   ...: RetryPolicy::Kms); what still fails is returned as it came.
// - Secrets: the credential header is passed separately and wiped after
//   each request; request bodies are borrowed, not copied. Response bodies
//   are the caller's to wipe (WipeString).
//
// Errors of Send: those of HttpTransport::Send (kUnavailable unreachable,
// TLS handshake, timeout; kPermissionDenied certificate not trusted or pin
// mismatch; kInvalidArgument bad URL or ca_file; kCorruption response too
// large). HTTP error statuses are not errors here: the caller maps them.
//
// Thread-safety: one thread at a time per HttpClient (one kept-alive
// connection).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/http_transport.h"
#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs::kms {

inline constexpr size_t kMaxHttpResponseBytes = http::kDefaultMaxBody;

struct HttpOptions {
  std::string ca_file;      // "" = system CAs
  std::string fingerprint;  // "" = no pin
  int timeout_ms = 10000;   // per attempt, whole request
  int max_attempts = 3;     // >= 1
};

struct HttpResponse {
  long status = 0;   // HTTP status code
  std::string body;  // at most kMaxHttpResponseBytes
};

// Overwrites and clears a string that held a secret.
void WipeString(std::string& s);

class HttpClient {
 public:
  // Errors: kInvalidArgument (malformed fingerprint), kInternal (libsodium
  // init).
  static Result<std::unique_ptr<HttpClient>> Create(const HttpOptions& opts);
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `method` ("GET", "POST", "DELETE") to `url`. `headers` are
  // "Name: value" lines; `secret_header` (may be null) is one more such
  // line that carries a credential. `body` is sent for POST (may be empty).
  Result<HttpResponse> Send(std::string_view method, const std::string& url,
                            const std::vector<std::string>& headers,
                            const SecureBuffer* secret_header,
                            std::string_view body);

 private:
  HttpClient() : transport_(1) {}

  HttpOptions options_;
  std::vector<std::vector<uint8_t>> pins_;  // SHA-1 or SHA-256 each
  http::HttpTransport transport_;
};

}  // namespace luksfs::kms
