// SHA-1, SHA-256 and SHA-512 compression functions (FIPS 180-4), several
// independent chains per call, for the PBKDF2 fast path (pbkdf2_fast.h).
//
// Interface: the message block is given as WORDS (already big-endian
// decoded: w[0] is the first 32- or 64-bit word of the block), 16 per
// block, so a caller that builds blocks from digests never byte-swaps. A
// call compresses `n` independent (state, block) pairs: st[i] is updated
// in place with block w[i]. Interleaving the chains in one loop lets an
// out-of-order core overlap their dependency chains.
//
// Kernels:
//   portable  plain C++, any CPU (any n; the chains run one after another,
//             see sha_portable.cc for why);
//   sha-ni    x86 SHA extensions (sha1rnds4, sha256rnds2...), compiled per
//             function with target attributes so the binary still runs on
//             CPUs without them (n = 1 or 2). SHA-1 and SHA-256 only.
//   openssl-block  OpenSSL's one-block SHA*_Transform (its own assembly,
//             AVX2 or SHA-NI by CPU), any n, chains in turn.
// CpuHasShaNi() says whether the sha-ni kernels may be called.
//
// Thread-safety: all functions are reentrant. Secrets: states and blocks
// are the caller's; the kernels keep no copies beyond registers and their
// own stack frame.
#pragma once

#include <cstddef>
#include <cstdint>

namespace luksfs::crypto::sha {

// Initial hash values (FIPS 180-4 section 5.3).
extern const uint32_t kSha1Init[5];
extern const uint32_t kSha256Init[8];
extern const uint64_t kSha512Init[8];

// Portable kernels. REQUIRES: n >= 1.
void Sha1Portable(uint32_t* const* st, const uint32_t* const* w, int n);
void Sha256Portable(uint32_t* const* st, const uint32_t* const* w, int n);
void Sha512Portable(uint64_t* const* st, const uint64_t* const* w, int n);

// OpenSSL-block kernels (sha_openssl.cc). REQUIRES: n >= 1.
void Sha1Openssl(uint32_t* const* st, const uint32_t* const* w, int n);
void Sha256Openssl(uint32_t* const* st, const uint32_t* const* w, int n);
void Sha512Openssl(uint64_t* const* st, const uint64_t* const* w, int n);

// True when the CPU has SHA, SSE4.1 and SSSE3 (cached, thread-safe).
bool CpuHasShaNi();

// SHA-NI kernels. REQUIRES: CpuHasShaNi(), n in {1, 2}.
void Sha1ShaNi(uint32_t* const* st, const uint32_t* const* w, int n);
void Sha256ShaNi(uint32_t* const* st, const uint32_t* const* w, int n);

}  // namespace luksfs::crypto::sha
