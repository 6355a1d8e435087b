#include "crypto/kdf_bench.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "crypto/kdf.h"

namespace luksfs::crypto {

namespace {

constexpr uint32_t kMinPbkdf2Iterations = 1000;
constexpr uint32_t kMinArgon2Time = 4;
constexpr uint32_t kMinArgon2MemoryKib = 32;
constexpr uint32_t kProbeMemoryKib = 65536;

double Ms(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - since)
      .count();
}

}  // namespace

Result<uint32_t> BenchmarkPbkdf2(const std::string& hash, uint32_t ms,
                                 uint32_t key_bytes) {
  const uint8_t pw[] = "luksfs-benchmark";
  std::vector<uint8_t> salt(32, 0x42), out(std::max<uint32_t>(key_bytes, 1));
  uint32_t n = 1000;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    LUKSFS_RETURN_IF_ERROR(Pbkdf2(hash, pw, salt, n, out));
    double took = Ms(t0);
    if (took >= 20 || n >= (1u << 30)) {
      // The fastest of three runs: other load only ever slows a run down.
      for (int i = 0; i < 2; ++i) {
        t0 = std::chrono::steady_clock::now();
        LUKSFS_RETURN_IF_ERROR(Pbkdf2(hash, pw, salt, n, out));
        took = std::min(took, Ms(t0));
      }
      const double want = n * (ms / std::max(took, 0.001));
      return static_cast<uint32_t>(std::clamp<double>(
          want, kMinPbkdf2Iterations, double{UINT32_MAX}));
    }
    n *= 2;
  }
}

Result<KdfParams> BenchmarkKdf(const KdfBenchTarget& t) {
  KdfParams p;
  p.type = t.type;
  if (t.type == KdfType::kPbkdf2) {
    p.hash = t.hash;
    LUKSFS_ASSIGN_OR_RETURN(p.iterations,
                            BenchmarkPbkdf2(t.hash, t.target_ms, t.key_bytes));
    return p;
  }
  p.cpus = std::max<uint32_t>(1, t.parallel);
  const uint32_t max_mem = std::max(t.max_memory_kib, kMinArgon2MemoryKib);
  const uint32_t probe_mem =
      std::max(std::min(max_mem, kProbeMemoryKib), 8 * p.cpus);
  const uint8_t pw[] = "luksfs-benchmark";
  std::vector<uint8_t> salt(32, 0x42), out(std::max<uint32_t>(t.key_bytes, 1));
  const uint32_t threads = std::max(1u, std::thread::hardware_concurrency());
  const auto t0 = std::chrono::steady_clock::now();
  LUKSFS_RETURN_IF_ERROR(Argon2(t.type, pw, salt, kMinArgon2Time, probe_mem,
                                p.cpus, threads, out));
  // Milliseconds per (time cost x KiB).
  const double unit = std::max(Ms(t0), 0.001) / (double{kMinArgon2Time} * probe_mem);
  const double at_full = unit * kMinArgon2Time * max_mem;
  if (at_full <= t.target_ms) {
    p.memory_kib = max_mem;
    p.iterations = static_cast<uint32_t>(std::clamp<double>(
        t.target_ms / (unit * max_mem), kMinArgon2Time, 1u << 20));
  } else {
    p.iterations = kMinArgon2Time;
    p.memory_kib = static_cast<uint32_t>(std::clamp<double>(
        t.target_ms / (unit * kMinArgon2Time),
        std::max(kMinArgon2MemoryKib, 8 * p.cpus), max_mem));
  }
  return p;
}

}  // namespace luksfs::crypto
