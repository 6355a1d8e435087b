#include "crypto/kdf_cost.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "crypto/kdf.h"

namespace luksfs::crypto {

namespace {

using Clock = std::chrono::steady_clock;

// Measured rates. Lock rule: mu guards both maps; a measurement runs under
// it (a few ms, once per kind and process).
std::mutex mu;
std::map<std::string, double, std::less<>> pbkdf2_per_s;  // iterations / s
std::map<KdfType, double> argon2_per_s;                    // KiB-passes / s / thread

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

Result<double> Pbkdf2Rate(std::string_view hash) {
  std::lock_guard<std::mutex> l(mu);
  if (auto it = pbkdf2_per_s.find(hash); it != pbkdf2_per_s.end()) {
    return it->second;
  }
  const uint8_t pw[8] = {}, salt[32] = {};
  uint8_t out[32];
  // A first call pays OpenSSL's digest fetch and set-up: not timed.
  LUKSFS_RETURN_IF_ERROR(Pbkdf2(hash, pw, salt, 1, out));
  // Double the count until a run takes 4 ms (timer resolution and HMAC
  // set-up are then small against it); keep the fastest of three runs at
  // that count, so a preempted run does not make the estimate high.
  uint32_t n = 1024;
  double took = 0;
  for (;;) {
    const Clock::time_point t0 = Clock::now();
    LUKSFS_RETURN_IF_ERROR(Pbkdf2(hash, pw, salt, n, out));
    took = Seconds(t0);
    if (took >= 0.004 || n >= (1u << 22)) break;
    n *= 2;
  }
  for (int i = 0; i < 2; ++i) {
    const Clock::time_point t0 = Clock::now();
    LUKSFS_RETURN_IF_ERROR(Pbkdf2(hash, pw, salt, n, out));
    took = std::min(took, Seconds(t0));
  }
  const double rate = n / std::max(took, 1e-9);
  pbkdf2_per_s.emplace(std::string(hash), rate);
  return rate;
}

Result<double> Argon2Rate(KdfType type) {
  std::lock_guard<std::mutex> l(mu);
  if (auto it = argon2_per_s.find(type); it != argon2_per_s.end()) {
    return it->second;
  }
  const uint8_t pw[8] = {}, salt[32] = {};
  uint8_t out[32];
  constexpr uint32_t kMemKib = 4096;
  // The fastest of three runs (the first also pays page faults).
  double took = 1e9;
  for (int i = 0; i < 3; ++i) {
    const Clock::time_point t0 = Clock::now();
    LUKSFS_RETURN_IF_ERROR(Argon2(type, pw, salt, 1, kMemKib, 1, 1, out));
    took = std::min(took, Seconds(t0));
  }
  const double rate = kMemKib / std::max(took, 1e-9);
  argon2_per_s.emplace(type, rate);
  return rate;
}

}  // namespace

Result<double> Pbkdf2Seconds(std::string_view hash, uint64_t iterations) {
  LUKSFS_ASSIGN_OR_RETURN(double rate, Pbkdf2Rate(hash));
  return static_cast<double>(iterations) / rate;
}

Result<double> KdfSeconds(const KdfParams& kdf, uint32_t threads) {
  if (kdf.type == KdfType::kPbkdf2) {
    return Pbkdf2Seconds(kdf.hash, kdf.iterations);
  }
  LUKSFS_ASSIGN_OR_RETURN(double rate, Argon2Rate(kdf.type));
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const uint32_t parallel = std::max(1u, std::min(threads, kdf.cpus));
  return static_cast<double>(kdf.iterations) * kdf.memory_kib /
         (rate * parallel);
}

}  // namespace luksfs::crypto
