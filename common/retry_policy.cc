#include "common/retry_policy.h"

#include <algorithm>
#include <cstdint>
#include <random>

namespace luksfs {

std::chrono::milliseconds RetryPolicy::Delay(unsigned retry) const {
  const uint64_t base_ms = uint64_t(base.count());
  const uint64_t cap_ms = uint64_t(cap.count());
  const uint64_t d = std::min<uint64_t>(cap_ms, base_ms << std::min(retry, 20u));
  if (!jitter || d < 2) return std::chrono::milliseconds(d);
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::uniform_int_distribution<uint64_t> dist(d / 2, d);
  return std::chrono::milliseconds(dist(rng));
}

bool RetryableHttpStatus(long status) {
  return status == 429 || (status >= 500 && status <= 599 && status != 501);
}

}  // namespace luksfs
