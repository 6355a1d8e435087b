// HttpTransport: the project's one HTTP client, over libcurl easy handles
// from a CurlPool (kept-alive connections are reused). Every network client
// of luksfs sends through it: the REST KMS drivers (kms-client/http_client.h)
// and S3 (fs/storage/s3_client.h). Callers keep their protocol (JSON,
// SigV4, XML) and their retry numbers; setup, TLS, error mapping and the
// retry loop live here, once.
//
// Fixed rules: http and https only, redirects never followed, no
// "Expect: 100-continue", User-Agent "luksfs", TCP keep-alive, paths sent
// as given (no dot-segment squashing). TLS peer and host verification are
// on unless a leaf_check (pin) replaces them.
//
// Errors of SendOnce/Send (messages start with Request::what):
//   kInvalidArgument  malformed URL, unsupported scheme, unusable CA file;
//   kPermissionDenied server certificate not trusted, or leaf_check refused;
//   kUnavailable      cannot connect, resolve, TLS handshake failure,
//                     timeout, stall, connection reset (these are the
//                     retryable ones: "WHAT: unreachable: ..."), or another
//                     libcurl failure;
//   kCorruption       body over max_body without truncate_body;
//   kIOError EIO      body_writer or body_reader aborted;
//   kNotSupported     leaf_check with a libcurl not built on OpenSSL;
//   kInternal / kResourceExhausted  libcurl setup failures.
// An HTTP error status is not an error here: the Response carries it.
//
// Secrets: Request::secret_header is copied into locked memory, and every
// copy (libcurl's header list included) is wiped after the attempt.
// Response bodies of attempts that are retried are wiped; the final one is
// the caller's to wipe when it holds a secret. Nothing is logged here.
//
// Thread-safety: SendOnce and Send may be called from any number of threads
// at once (each attempt leases its own handle).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "common/http/curl_pool.h"
#include "common/http/http_request.h"
#include "common/result.h"
#include "common/retry_policy.h"

namespace luksfs::http {

// How Send retries: the policy is the caller's.
struct RetryRules {
  RetryPolicy policy;  // how many retries, and the wait before each
  // Whether a response is worth another try; empty = RetryableHttpStatus.
  std::function<bool(const Response&)> retry_response;
  // Called before every attempt (e.g. to sign the request again with a
  // fresh date, or to reset a body writer's state); an error ends Send.
  std::function<Status(Request&)> before_attempt;
  // Called before the wait of retry number `retry` (0 = the first), with
  // the attempt that failed (logging, counting).
  std::function<void(const Result<Response>& failed, unsigned retry)> on_retry;
};

// How a Send ended.
struct SendInfo {
  unsigned attempts = 0;   // attempts made, >= 1 once anything was sent
  bool exhausted = false;  // the last attempt was retryable: retries ran out
};

class HttpTransport {
 public:
  // Keeps up to `max_idle_handles` idle libcurl handles (connections).
  explicit HttpTransport(size_t max_idle_handles = 16);
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // One attempt. *retryable tells whether a failure is transient.
  Result<Response> SendOnce(const Request& req, bool* retryable);

  // Attempts `req` until it succeeds with a response that is not
  // retryable, fails for good, or rules.policy.max_retries retries ran out;
  // then returns the last attempt's result (a retryable HTTP status is then
  // returned as a Response, with info->exhausted set).
  Result<Response> Send(Request& req, const RetryRules& rules,
                        SendInfo* info = nullptr);

  // Attempts that reached libcurl's perform, for tests and debug logs.
  uint64_t requests_sent() const { return requests_.load(); }

 private:
  CurlPool pool_;
  std::atomic<uint64_t> requests_{0};
};

}  // namespace luksfs::http
