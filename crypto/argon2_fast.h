// Argon2i / Argon2id version 0x13 (RFC 9106) with an AVX2 block fill.
//
// Why: Debian's libargon2 (which cryptsetup also uses) is the portable
// reference build, with no SSE or AVX code; LUKS2's default keyslot is
// Argon2id calibrated to about 2 s, so every LUKS2 unlock pays the gap.
// This computes the same function with the compression G's BLAKE2b-based
// permutation P in AVX2 (four 64-bit words per instruction), lanes on
// `threads` threads synchronised at every slice.
//
// H0 and the variable-length hash H' use libsodium's BLAKE2b; everything
// else (indexing, reference sets, the fill) is written here after RFC 9106
// sections 3.2-3.5. Verified against the RFC 9106 test vectors and against
// libargon2 on random parameters (argon2_fast_test.cc).
//
// Used only when the CPU and OS support AVX2 (Argon2FastSupported());
// compiled per function with target attributes. LUKSFS_ARGON2=libargon2
// in the environment forces the libargon2 path (Argon2() in kdf.h).
//
// Memory: memory_kib KiB (rounded down to 4*lanes blocks), from mmap with
// MADV_HUGEPAGE and MADV_DONTDUMP when 4 MiB or more (else the heap),
// zeroed (sodium_memzero) before it is freed; it holds key-derived
// material. Not mlock()ed (up to 1 GiB; mount's mlockall covers it). The caller bounds memory_kib (--max-kdf-memory).
//
// Thread-safety: reentrant. Secrets: the password is borrowed; H0 and
// the final block are wiped before return.
#pragma once

#include <cstdint>
#include <span>

#include "common/status.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

// True when the AVX2 code may run on this CPU and OS (cached).
bool Argon2FastSupported();

// Whether Argon2() (kdf.h) uses this code: Argon2FastSupported() and
// LUKSFS_ARGON2 is not "libargon2".
bool Argon2FastChosen();

// Same contract as Argon2() in kdf.h (lanes = cpus; threads only change
// speed). Errors: kInvalidArgument (parameters outside RFC 9106 limits,
// the same ones libargon2 refuses: memory < 8*lanes KiB, time < 1, lanes
// 1..2^24-1, output 4..2^32-1 bytes, salt >= 8 bytes), kNotSupported
// (!Argon2FastSupported()), kResourceExhausted (allocation).
Status Argon2Fast(KdfType type, std::span<const uint8_t> password,
                  std::span<const uint8_t> salt, uint32_t time,
                  uint32_t memory_kib, uint32_t lanes, uint32_t threads,
                  std::span<uint8_t> out);

// Same, with secret key K and associated data X (the RFC test vectors use
// them; LUKS2 does not).
Status Argon2FastKeyed(KdfType type, std::span<const uint8_t> password,
                       std::span<const uint8_t> salt,
                       std::span<const uint8_t> secret,
                       std::span<const uint8_t> ad, uint32_t time,
                       uint32_t memory_kib, uint32_t lanes, uint32_t threads,
                       std::span<uint8_t> out);

}  // namespace luksfs::crypto
