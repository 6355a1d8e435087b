// Picks keyslot KDF costs for a target unlock time on this machine, as
// cryptsetup's luksFormat does (--iter-time, default 2000 ms).
//
// PBKDF2: iterations doubled until a run takes >= 20 ms, then scaled
// linearly to the target; at least 1000. Argon2i/id: the time cost is at
// least 4 and the memory at most `max_memory_kib`; one probe run (time 4,
// memory min(max, 64 MiB)) gives the cost of one time*KiB unit, and both
// are scaled from it: first the time cost at the full memory, and if even
// time 4 at full memory is too slow, the memory (down to 32 KiB).
//
// Thread-safety: reentrant. It runs the KDF on a fixed dummy password, so
// no secret is involved. Takes a few hundred ms for PBKDF2 and about one
// probe run plus nothing else for Argon2.
#pragma once

#include <cstdint>
#include <string>

#include "common/result.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

struct KdfBenchTarget {
  KdfType type = KdfType::kArgon2id;
  std::string hash = "sha256";      // pbkdf2 only
  uint32_t target_ms = 2000;
  uint32_t max_memory_kib = 1048576;  // argon2 only
  uint32_t parallel = 4;              // argon2 lanes
  uint32_t key_bytes = 64;            // KDF output length
};

// The KDF parameters (no salt). Errors: those of Pbkdf2/Argon2.
Result<KdfParams> BenchmarkKdf(const KdfBenchTarget& target);

// PBKDF2 iterations for `ms` milliseconds (at least 1000), for digests.
Result<uint32_t> BenchmarkPbkdf2(const std::string& hash, uint32_t ms,
                                 uint32_t key_bytes);

}  // namespace luksfs::crypto
