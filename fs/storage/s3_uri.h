// s3://bucket/key URIs, the S3 connection options, and credentials.
//
// Thread-safety: plain values and pure functions, except LoadS3Credentials,
// which reads the process environment and a file.
// Errors: kInvalidArgument for a malformed URI or option; kNotFound when no
// credentials can be found; kIOError for an unreadable credentials file.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs::fs {

struct S3Location {
  std::string bucket;
  std::string key;  // without the leading '/'
};

// True when `image` starts with "s3://".
bool IsS3Uri(std::string_view image);

// Parses "s3://bucket/key". The bucket must be 3..63 characters of
// [a-z0-9.-] (dots, capitals and '_' are accepted for S3-compatible servers);
// the key must be non-empty and at most 1024 bytes.
Result<S3Location> ParseS3Uri(std::string_view uri);

enum class S3Addressing { kAuto, kPathStyle, kVirtualHost };

// Everything about how to reach the bucket, from the command line. Empty
// fields fall back to the environment (see LoadS3Credentials/ResolveRegion).
struct S3Options {
  std::string endpoint;      // "https://host[:port]"; "" = AWS for the region
  std::string region;        // "" = AWS_REGION, AWS_DEFAULT_REGION, us-east-1
  S3Addressing addressing = S3Addressing::kAuto;  // auto: virtual-host for
                                                  // AWS, path-style otherwise
  std::string ca_file;       // PEM bundle; "" = the system CAs
  std::string cache_dir;     // write-back area; "" = /var/tmp
  uint64_t cache_mib = 256;  // in-memory ciphertext block cache
  uint64_t read_ahead_kib = 16384; // sequential read-ahead; 0 = off
  // Sequential read-ahead as one streaming GET per this many MiB of the
  // object; 0 = parallel ranged GETs instead (S3Storage).
  uint64_t stream_window_mib = 256;
  uint64_t commit_interval_s = 30; // background commit; 0 = only on fsync/unmount
  unsigned max_retries = 8;        // per request, on 5xx/timeouts/resets
  unsigned parallel = 4;           // GETs / part uploads in flight per request
};

struct S3Credentials {
  std::string access_key_id;  // not secret; may appear in messages
  SecureBuffer secret_key;
  SecureBuffer session_token;  // empty when none
};

// Looks up an environment variable ("" or nullopt when unset). Injected for
// tests; the daemon passes getenv.
using EnvFn = std::function<std::optional<std::string>(const char*)>;
EnvFn ProcessEnv();

// AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the
// profile AWS_PROFILE (default "default") of AWS_SHARED_CREDENTIALS_FILE
// (default $HOME/.aws/credentials).
Result<S3Credentials> LoadS3Credentials(const EnvFn& env);

// Parses the INI text of a credentials file for `profile`. Exposed for tests.
Result<S3Credentials> ParseCredentialsFile(std::string_view text,
                                           std::string_view profile);

// opts.region, else AWS_REGION, AWS_DEFAULT_REGION, else "us-east-1".
std::string ResolveRegion(const S3Options& opts, const EnvFn& env);

// Where requests go: scheme://host[:port] and whether the bucket is in the
// host name. Validates the endpoint.
struct S3Endpoint {
  std::string scheme;    // "http" or "https"
  std::string host;      // as sent in Host: "host" or "host:port"
  bool virtual_host = false;
};
Result<S3Endpoint> ResolveEndpoint(const S3Options& opts,
                                   const std::string& region,
                                   const std::string& bucket);

}  // namespace luksfs::fs
