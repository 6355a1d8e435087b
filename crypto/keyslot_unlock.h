// Keyslot unlock: passphrase -> verified volume key.
//
// Tries the header's keyslots in cryptsetup's order (priority 2 "prefer",
// then 1 "normal"; priority 0 only when chosen explicitly), each through its
// KDF, keyslot decryption (512-byte sectors, IVs from 0), AF merge and the
// digest check (constant-time). Resource bounds in UnlockLimits stop a
// hostile header from asking for gigabytes of Argon2 memory or hours of
// PBKDF2; such slots are skipped with a clear reason.
//
// Without `only_slot`, slots are tried as ordered parallel trials
// (keyslot_trials.h) on limits.kdf_threads cores: `read` may then be called
// from several threads at once. The slot reported is still the one a
// one-by-one loop in the order above (cryptsetup's) would open.
//
// Thread-safety: reentrant. Secrets: the passphrase is borrowed; every
// intermediate (derived key, key material) lives in a SecureBuffer and is
// wiped before return. The returned volume key is the caller's.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

// The default total KDF time budget of one unlock, seconds (--max-kdf-time).
inline constexpr double kDefaultMaxKdfSeconds = 60;

struct UnlockLimits {
  uint64_t max_kdf_memory_kib = 1048576;   // Argon2 memory cap, KiB (1 GiB)
  uint32_t max_pbkdf2_iterations = 1u << 28;
  // The digest's PBKDF2 iterations. cryptsetup benchmarks the digest to
  // 1/8 s when it formats (at least 1000): well under a million with SHA-NI.
  uint32_t max_digest_iterations = 1u << 24;
  // Total KDF time of one unlock, seconds (--max-kdf-time); 0: unbounded.
  // Each slot's KDF and digest are estimated first (crypto/kdf_cost.h) and
  // refused when the estimate exceeds what is left; the unlock also stops
  // between slots once the budget is spent. cryptsetup sizes a slot to ~2 s
  // on the machine that formats it, so real images stay far below 60 s.
  double max_kdf_seconds = kDefaultMaxKdfSeconds;
  uint64_t max_argon2_work = 1ull << 30;   // time * memory_kib cap
  uint32_t max_argon2_cpus = 64;
  uint32_t kdf_threads = 0;                // 0: online CPUs (speed only)
};

struct UnlockedKey {
  int keyslot = -1;
  SecureBuffer volume_key;
};

// Errors:
//   kPermissionDenied  no keyslot opened with this passphrase (wrong secret),
//                      also when the time budget ran out after some slots
//                      were tried (the message says so);
//   kNotFound          `only_slot` is not an active keyslot;
//   kResourceExhausted a slot or its digest exceeded `limits`, or its KDF was
//                      estimated to exceed the time budget left, and none
//                      opened (the message names the slot or digest, the
//                      value and the limit);
//   kCorruption/kIOError from reading the keyslot area.
Result<UnlockedKey> UnlockKeyslot(const LuksHeader& header, const ReadFn& read,
                                  std::span<const uint8_t> passphrase,
                                  std::optional<int> only_slot,
                                  const UnlockLimits& limits);

// Whether `volume_key` matches the digest that covers data segment 0.
// Errors: kPermissionDenied on mismatch; kResourceExhausted when the digest
// asks for more than UnlockLimits::max_digest_iterations.
Status VerifyVolumeKey(const LuksHeader& header,
                       std::span<const uint8_t> volume_key);

}  // namespace luksfs::crypto
