// XtsVaes: AES-XTS (IEEE 1619, no ciphertext stealing) written directly in
// VAES + AVX-512 intrinsics, four AES blocks per instruction.
//
// Why: OpenSSL 3.0's XTS uses 128-bit AES-NI and re-initialises per data
// unit; XtsBatch (xts_batch.h) removes the re-init but pays extra passes
// over memory. This keeps a whole 512-byte stretch (32 blocks) of a unit in
// eight zmm registers: the 32 tweaks are derived from the unit's initial
// tweak by independent multiplications by alpha^k (VPCLMULQDQ folds the
// carry), XORed in, run through 10 or 14 VAES rounds, and XORed out, with
// one load and one store per byte.
//
// Used only when the CPU and OS support AVX512F, AVX512VL, VAES and
// VPCLMULQDQ (Supported()); the code is compiled for those targets per
// function, so the binary still runs on older CPUs (SectorCipher falls back
// to XtsBatch / OpenSSL there).
//
// Verified against the IEEE 1619 vectors and OpenSSL's EVP_aes_*_xts for
// every unit size and key size (xts_vaes_test.cc).
// Thread-safety: Run() is const and may be called from several threads at
// once; instances are immutable after Create().
// Secrets: the expanded round keys (key1 encrypt + decrypt, key2 encrypt)
// live in a SecureBuffer (sodium_malloc: locked, guarded, wiped on free).
// Key-derived values do pass through vector registers and may be spilled
// to the stack by the compiler, as with any AES implementation in C.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs::crypto {

class XtsVaes {
 public:
  // True when this CPU and OS can run the VAES code. Cached; thread-safe.
  // LUKSFS_XTS=portable in the environment forces false (to measure or
  // test the fallback).
  static bool Supported();

  // key = key1 || key2, 32 (AES-128) or 64 (AES-256) bytes.
  // unit_bytes: a multiple of 512 (LUKS sector sizes 512..4096).
  // Errors: kInvalidArgument (sizes), kNotSupported (!Supported()),
  // kResourceExhausted (secure memory).
  static Result<std::unique_ptr<XtsVaes>> Create(std::span<const uint8_t> key,
                                                 uint32_t unit_bytes);
  XtsVaes(const XtsVaes&) = delete;
  XtsVaes& operator=(const XtsVaes&) = delete;

  // Processes in.size()/unit_bytes units; unit k uses the 16-byte initial
  // tweak input ivs[16k .. 16k+16). in and out may be the same memory
  // (exactly, not partially overlapping).
  // Errors: kInvalidArgument when in.size() != out.size() or
  // in.size() != unit_bytes * ivs.size()/16.
  Status Run(bool encrypt, std::span<const uint8_t> ivs,
             std::span<const uint8_t> in, std::span<uint8_t> out) const;

  uint32_t unit_bytes() const { return unit_bytes_; }

 private:
  XtsVaes(uint32_t unit_bytes, int rounds, SecureBuffer keys);

  const uint32_t unit_bytes_;
  const int rounds_;  // 10 (AES-128) or 14 (AES-256)
  // Three schedules of (rounds_ + 1) 16-byte round keys each: key1
  // encryption, key1 decryption (equivalent inverse cipher), key2
  // encryption.
  SecureBuffer keys_;
};

}  // namespace luksfs::crypto
