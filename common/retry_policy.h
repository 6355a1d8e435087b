// RetryPolicy: when and how long to wait before trying a request again, the
// one rule for every network client of the project (KMS REST over
// kms-client/http_client, S3 over fs/storage/s3_client). Each caller picks
// its numbers; the shape is shared: exponential backoff from `base`, capped
// at `cap`, optionally jittered to [d/2, d] so that parallel clients spread.
//
// Thread-safety: Delay() may be called from any thread (thread-local RNG).
#pragma once

#include <chrono>

namespace luksfs {

struct RetryPolicy {
  unsigned max_retries = 2;  // tries after the first one
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{5000};
  bool jitter = false;

  // The wait before retry number `retry` (0 = the first retry):
  // min(cap, base * 2^retry), jittered when `jitter`.
  std::chrono::milliseconds Delay(unsigned retry) const;

  // KMS calls: 3 tries in all, 100 ms then 200 ms (interactive commands).
  static RetryPolicy Kms() { return {2, std::chrono::milliseconds(100),
                                     std::chrono::milliseconds(1000), false}; }
  // S3 requests: `retries` retries, 200 ms doubling to 5 s, jittered.
  static RetryPolicy S3(unsigned retries) {
    return {retries, std::chrono::milliseconds(200),
            std::chrono::milliseconds(5000), true};
  }
};

// HTTP statuses worth a retry, for every client: 429 and 5xx except 501
// (Not Implemented does not get better).
bool RetryableHttpStatus(long status);

}  // namespace luksfs
