// PBKDF2-HMAC (RFC 8018 section 5.2) fast path for SHA-1, SHA-256 and
// SHA-512, the hashes LUKS keyslots and digests use.
//
// Why: OpenSSL's PKCS5_PBKDF2_HMAC re-enters HMAC/EVP for every iteration
// and computes the output blocks one after another. Here the HMAC inner
// and outer states are computed once from the key; each iteration is then
// exactly two compressions of a fixed padded block (the previous U and
// the constant padding), run directly by a kernel (sha_kernels.h); and the
// blocks of a multi-block output (a 512-bit XTS key from SHA-256 is two)
// run as independent interleaved chains.
//
// Kernels, chosen at run time:
//   sha-ni    x86 SHA extensions (SHA-1 and SHA-256, when CPUID says so);
//   openssl-block  the same loop over OpenSSL's one-block SHA*_Transform
//             (OpenSSL's assembly: AVX2 where there is no SHA-NI); the
//             default for SHA-512, and for SHA-1/SHA-256 without SHA-NI;
//   portable  C++ compressions (any CPU; only when forced: OpenSSL's
//             assembly compresses faster);
//   openssl   PKCS5_PBKDF2_HMAC (every other hash: sha224, sha384, sha3,
//             ripemd160, whirlpool...).
// LUKSFS_PBKDF2=auto|sha-ni|openssl-block|portable|openssl in the
// environment forces a choice for measurement and tests (read once per
// process; a kernel the CPU or hash cannot use falls back to the next one
// down the list).
//
// Thread-safety: reentrant. Secrets: the password is borrowed; the HMAC
// states and chaining values live in a SecureBuffer wiped before return;
// `out` is the caller's.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"

namespace luksfs::crypto {

enum class Pbkdf2Kernel { kOpenssl, kPortable, kShaNi, kOpensslBlock };

// "openssl", "portable", "sha-ni" or "openssl-block".
const char* Pbkdf2KernelName(Pbkdf2Kernel k);

// The kernel Pbkdf2() (kdf.h) uses for `hash` on this CPU, honouring
// LUKSFS_PBKDF2. kOpenssl for hashes without a fast path.
Pbkdf2Kernel Pbkdf2KernelFor(std::string_view hash);

// PBKDF2 with an explicit kernel (tests and benchmarks force each one).
// `kernel` must be usable for `hash` (kShaNi: sha1/sha256 and
// CpuHasShaNi(); kPortable, kOpensslBlock: sha1/sha256/sha512); kOpenssl
// is always usable.
// Errors: kNotSupported (hash unknown, or kernel unusable for it);
// kInvalidArgument (0 iterations, sizes beyond INT_MAX);
// kResourceExhausted (secure memory); kUnavailable when `cancel` was set
// (polled every 4096 iterations by the fast kernels; out is then garbage).
Status Pbkdf2With(Pbkdf2Kernel kernel, std::string_view hash,
                  std::span<const uint8_t> password,
                  std::span<const uint8_t> salt, uint32_t iterations,
                  std::span<uint8_t> out,
                  const std::atomic<bool>* cancel = nullptr);

}  // namespace luksfs::crypto
