// S3Client: the S3 requests luksfs needs, over one bucket, signed with
// SigV4 (sigv4.h) and sent through the project's HTTP transport
// (common/http/http_transport.h), which pools connections.
//
// Retries: 5xx, 429, connection failures, resets and timeouts are retried
// up to max_retries times with exponential backoff and full jitter (base
// 200 ms, cap 5 s; RetryPolicy::S3, run by HttpTransport::Send), signed
// afresh for every attempt. 400 RequestTimeout is retried too. Uploads are
// re-sent from their start.
// Errors (messages start with the request, e.g. "GET bytes=0-9: ", and name
// the bucket and key where it matters; the caller adds the s3:// name):
//   404 -> kNotFound ("no such object" / "no such bucket");
//   403 -> kIOError EACCES ("access denied");
//   412 -> kIOError ESTALE ("object changed since mount");
//   other failures, and exhausted retries -> kIOError EIO.
// Thread-safety: every method may be called concurrently.
// Secrets: the secret key and session token stay in SecureBuffers and are
// never logged; the token travels as the transport's secret header, wiped
// after each attempt.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/http/http_transport.h"
#include "fs/storage/s3_uri.h"
#include "fs/storage/sigv4.h"

namespace luksfs::fs {

struct S3ClientConfig {
  S3Endpoint endpoint;
  std::string region;
  std::string bucket;
  std::string ca_file;          // "" = system CAs
  unsigned max_retries = 8;
  long connect_timeout_s = 10;
  long stall_timeout_s = 30;    // abort a transfer slower than 1 KiB/s this long
};

struct S3ObjectInfo {
  uint64_t size = 0;
  std::string etag;  // with its quotes, as the server sent it
};

class S3Client {
 public:
  S3Client(S3ClientConfig config, S3Credentials creds);
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  const std::string& bucket() const { return cfg_.bucket; }
  std::string Describe(const std::string& key) const {
    return "s3://" + cfg_.bucket + "/" + key;
  }

  Result<S3ObjectInfo> Head(const std::string& key);

  // Reads exactly dst.size() bytes at `offset`. With a non-empty if_match
  // the server refuses (412) if the object's ETag changed.
  Status GetRange(const std::string& key, uint64_t offset,
                  std::span<uint8_t> dst, const std::string& if_match);

  // Streaming GET of bytes [offset, offset + length): every byte is given
  // to `sink` once, in order, as it arrives (chunks of any size). A failed
  // attempt (connection failure, reset, stall, 5xx, short body) is resumed
  // from the first byte not yet delivered, up to max_retries times with the
  // same backoff as every request. When `sink` returns false the transfer
  // is abandoned (its connection is closed) and kUnavailable "... abandoned"
  // is returned. Other errors as GetRange; bytes delivered before an error
  // are correct (If-Match holds on every attempt).
  // Thread-safety: as every method; `sink` runs on the calling thread.
  Status GetStream(const std::string& key, uint64_t offset, uint64_t length,
                   const std::string& if_match,
                   const std::function<bool(std::span<const uint8_t>)>& sink);

  // Single PUT of a whole object; returns the new ETag (may be empty).
  Result<std::string> Put(const std::string& key, std::span<const uint8_t> data);

  // Conditional single PUT: with if_none_match_any the server refuses
  // (412, kIOError ESTALE) if the key exists ("If-None-Match: *"); with a
  // non-empty if_match, if its ETag is another. Returns the new ETag.
  Result<std::string> PutIf(const std::string& key,
                            std::span<const uint8_t> data,
                            const std::string& if_match,
                            bool if_none_match_any);

  // The whole of a small object (at most max_bytes), with its ETag.
  // kNotFound if it does not exist; kResourceExhausted if too large.
  Result<std::pair<std::string, std::string>> GetSmall(const std::string& key,
                                                       size_t max_bytes);

  // DELETE of an object; a missing object is not an error.
  Status Delete(const std::string& key);

  Result<std::string> CreateMultipartUpload(const std::string& key);
  // Part numbers are 1..10000. Both return the part's ETag.
  Result<std::string> UploadPart(const std::string& key,
                                 const std::string& upload_id, int part,
                                 std::span<const uint8_t> data);
  // Copies bytes [first, last] of src_key (this bucket) into the part.
  Result<std::string> UploadPartCopy(const std::string& key,
                                     const std::string& upload_id, int part,
                                     const std::string& src_key, uint64_t first,
                                     uint64_t last, const std::string& if_match);
  // etags[i] belongs to part i + 1.
  Status CompleteMultipartUpload(const std::string& key,
                                 const std::string& upload_id,
                                 const std::vector<std::string>& etags);
  Status AbortMultipartUpload(const std::string& key,
                              const std::string& upload_id);

  // Requests sent (including retries), for tests and debug logs.
  uint64_t requests_sent() const { return transport_.requests_sent(); }
  uint64_t retries() const { return retries_.load(); }

  // Where the client sends its requests (for messages).
  const S3Endpoint& endpoint() const { return cfg_.endpoint; }

 private:
  struct Call;
  struct Response;
  // Sends `call`, retrying transient failures. A non-2xx final answer is
  // returned as a Response (status set), a transport failure as a Status.
  Result<Response> Perform(const Call& call);
  // Signs `call` with the current time into req (a fresh signature for
  // every attempt); the session token goes into *token_line.
  Status Sign(const Call& call, http::Request& req, SecureBuffer* token_line) const;
  Status HttpError(const Call& call, const Response& r) const;

  const S3ClientConfig cfg_;
  const S3Credentials creds_;
  http::HttpTransport transport_;
  std::atomic<uint64_t> retries_{0};
};

// The one way to build a client for an object named by an s3:// location
// and the S3 options: region, endpoint (path-style or virtual host) and
// credentials resolved from opts and `env`. Errors: those of
// ResolveEndpoint and LoadS3Credentials.
Result<std::unique_ptr<S3Client>> OpenS3Client(const S3Location& loc,
                                               const S3Options& opts,
                                               const EnvFn& env);

}  // namespace luksfs::fs
