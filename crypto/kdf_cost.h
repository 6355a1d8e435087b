// KdfCost: how long a keyslot's KDF (and its digest's PBKDF2) will take on
// this machine, estimated BEFORE running it, so an unlock can refuse a
// header whose KDF work exceeds its time budget instead of spending it.
//
// The estimate divides the work a header asks for by a rate measured once
// per process and KDF kind: PBKDF2 iterations per second for each hash
// (a few ms of PBKDF2) and Argon2 KiB-passes per second per thread (one
// pass over 4 MiB), each the fastest of three runs. Argon2 is assumed to
// use min(lanes, threads) threads fully, so the estimate leans low: a slot
// refused by it would have taken at least that long.
//
// Thread-safety: the rates are measured once under a mutex; all functions
// are safe from any thread. Errors: an unknown hash, as Pbkdf2's.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/result.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

// Seconds `iterations` of PBKDF2-`hash` take here.
Result<double> Pbkdf2Seconds(std::string_view hash, uint64_t iterations);

// Seconds the keyslot's KDF takes here, using up to `threads` threads for
// Argon2 (0: online CPUs).
Result<double> KdfSeconds(const KdfParams& kdf, uint32_t threads);

}  // namespace luksfs::crypto
