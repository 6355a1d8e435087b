// SHA-1 and SHA-256 compressions with the x86 SHA extensions (Intel SHA
// Extensions white paper, 2013: sha1rnds4/sha1nexte/sha1msg1/sha1msg2 and
// sha256rnds2/sha256msg1/sha256msg2), one or two chains in lockstep.
//
// Each function carries its own target attribute, so the rest of the
// binary is built for the baseline ISA and runs on CPUs without SHA;
// callers check CpuHasShaNi() first.
#include "crypto/sha_kernels.h"

#include <cstdlib>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define LUKSFS_HAVE_SHANI_CODE 1
#endif

namespace luksfs::crypto::sha {

#if defined(LUKSFS_HAVE_SHANI_CODE)

#define LUKSFS_TARGET_SHANI __attribute__((target("sha,sse4.1,ssse3")))

namespace {

alignas(16) constexpr uint32_t kK256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// SHA-256, N chains. The state is held as ABEF / CDGH (the layout
// sha256rnds2 works on); message words are already integers, so they load
// without a byte shuffle.
template <int N>
LUKSFS_TARGET_SHANI inline void Sha256NiN(uint32_t* const* st,
                                          const uint32_t* const* w) {
  __m128i s0[N], s1[N], save0[N], save1[N], m[N][4];
  for (int i = 0; i < N; ++i) {
    __m128i abcd = _mm_loadu_si128(reinterpret_cast<const __m128i*>(st[i]));
    __m128i efgh =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(st[i] + 4));
    abcd = _mm_shuffle_epi32(abcd, 0xB1);           // CDAB
    efgh = _mm_shuffle_epi32(efgh, 0x1B);           // EFGH
    s0[i] = _mm_alignr_epi8(abcd, efgh, 8);         // ABEF
    s1[i] = _mm_blend_epi16(efgh, abcd, 0xF0);      // CDGH
    save0[i] = s0[i];
    save1[i] = s1[i];
    for (int j = 0; j < 4; ++j) {
      m[i][j] =
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i] + 4 * j));
    }
  }
#pragma GCC unroll 16
  for (int g = 0; g < 16; ++g) {
    const __m128i k =
        _mm_load_si128(reinterpret_cast<const __m128i*>(kK256 + 4 * g));
#pragma GCC unroll 2
    for (int i = 0; i < N; ++i) {
      __m128i msg = _mm_add_epi32(m[i][g & 3], k);
      s1[i] = _mm_sha256rnds2_epu32(s1[i], s0[i], msg);
      if (g >= 3 && g <= 14) {
        const __m128i t = _mm_alignr_epi8(m[i][g & 3], m[i][(g - 1) & 3], 4);
        __m128i& next = m[i][(g + 1) & 3];
        next = _mm_sha256msg2_epu32(_mm_add_epi32(next, t), m[i][g & 3]);
      }
      msg = _mm_shuffle_epi32(msg, 0x0E);
      s0[i] = _mm_sha256rnds2_epu32(s0[i], s1[i], msg);
      if (g >= 1 && g <= 12) {
        __m128i& prev = m[i][(g - 1) & 3];
        prev = _mm_sha256msg1_epu32(prev, m[i][g & 3]);
      }
    }
  }
  for (int i = 0; i < N; ++i) {
    s0[i] = _mm_add_epi32(s0[i], save0[i]);
    s1[i] = _mm_add_epi32(s1[i], save1[i]);
    const __m128i feba = _mm_shuffle_epi32(s0[i], 0x1B);
    const __m128i dchg = _mm_shuffle_epi32(s1[i], 0xB1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(st[i]),
                     _mm_blend_epi16(feba, dchg, 0xF0));  // DCBA
    _mm_storeu_si128(reinterpret_cast<__m128i*>(st[i] + 4),
                     _mm_alignr_epi8(dchg, feba, 8));     // HGFE
  }
}

// SHA-1, N chains. ABCD lives reversed in one register, E in the top lane
// of another; the message words are reversed within each 128-bit group
// (sha1rnds4 wants W[t] in the high lane).
template <int N>
LUKSFS_TARGET_SHANI inline void Sha1NiN(uint32_t* const* st,
                                        const uint32_t* const* w) {
  __m128i abcd[N], e0[N], e1[N], save_abcd[N], save_e[N], m[N][4];
  for (int i = 0; i < N; ++i) {
    abcd[i] = _mm_shuffle_epi32(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(st[i])), 0x1B);
    e0[i] = _mm_set_epi32(static_cast<int>(st[i][4]), 0, 0, 0);
    e1[i] = _mm_setzero_si128();
    save_abcd[i] = abcd[i];
    save_e[i] = e0[i];
    for (int j = 0; j < 4; ++j) {
      m[i][j] = _mm_shuffle_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(w[i] + 4 * j)),
          0x1B);
    }
  }
#pragma GCC unroll 20
  for (int g = 0; g < 20; ++g) {
#pragma GCC unroll 2
    for (int i = 0; i < N; ++i) {
      __m128i& cur = (g & 1) ? e1[i] : e0[i];
      __m128i& other = (g & 1) ? e0[i] : e1[i];
      if (g == 0) {
        cur = _mm_add_epi32(cur, m[i][0]);
      } else {
        cur = _mm_sha1nexte_epu32(cur, m[i][g & 3]);
      }
      other = abcd[i];
      if (g >= 3 && g <= 18) {
        __m128i& next = m[i][(g + 1) & 3];
        next = _mm_sha1msg2_epu32(next, m[i][g & 3]);
      }
      // The round-function selector must be an immediate.
      switch (g / 5) {
        case 0: abcd[i] = _mm_sha1rnds4_epu32(abcd[i], cur, 0); break;
        case 1: abcd[i] = _mm_sha1rnds4_epu32(abcd[i], cur, 1); break;
        case 2: abcd[i] = _mm_sha1rnds4_epu32(abcd[i], cur, 2); break;
        default: abcd[i] = _mm_sha1rnds4_epu32(abcd[i], cur, 3); break;
      }
      if (g >= 1 && g <= 16) {
        __m128i& prev = m[i][(g - 1) & 3];
        prev = _mm_sha1msg1_epu32(prev, m[i][g & 3]);
      }
      if (g >= 2 && g <= 17) {
        __m128i& prev2 = m[i][(g - 2) & 3];
        prev2 = _mm_xor_si128(prev2, m[i][g & 3]);
      }
    }
  }
  for (int i = 0; i < N; ++i) {
    // After group 19 (odd), e0 holds the ABCD that entered it.
    e0[i] = _mm_sha1nexte_epu32(e0[i], save_e[i]);
    abcd[i] = _mm_add_epi32(abcd[i], save_abcd[i]);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(st[i]),
                     _mm_shuffle_epi32(abcd[i], 0x1B));
    st[i][4] = static_cast<uint32_t>(_mm_extract_epi32(e0[i], 3));
  }
}

LUKSFS_TARGET_SHANI void Sha256Ni1(uint32_t* const* st,
                                   const uint32_t* const* w) {
  Sha256NiN<1>(st, w);
}
LUKSFS_TARGET_SHANI void Sha256Ni2(uint32_t* const* st,
                                   const uint32_t* const* w) {
  Sha256NiN<2>(st, w);
}
LUKSFS_TARGET_SHANI void Sha1Ni1(uint32_t* const* st,
                                 const uint32_t* const* w) {
  Sha1NiN<1>(st, w);
}
LUKSFS_TARGET_SHANI void Sha1Ni2(uint32_t* const* st,
                                 const uint32_t* const* w) {
  Sha1NiN<2>(st, w);
}

bool CpuSha() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool ssse3 = c & (1u << 9), sse41 = c & (1u << 19);
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool sha = b & (1u << 29);
  return ssse3 && sse41 && sha;
}

}  // namespace

bool CpuHasShaNi() {
  static const bool has = CpuSha();
  return has;
}

void Sha1ShaNi(uint32_t* const* st, const uint32_t* const* w, int n) {
  if (n == 2) return Sha1Ni2(st, w);
  Sha1Ni1(st, w);
}

void Sha256ShaNi(uint32_t* const* st, const uint32_t* const* w, int n) {
  if (n == 2) return Sha256Ni2(st, w);
  Sha256Ni1(st, w);
}

#else  // !LUKSFS_HAVE_SHANI_CODE

bool CpuHasShaNi() { return false; }
void Sha1ShaNi(uint32_t* const* st, const uint32_t* const* w, int n) {
  Sha1Portable(st, w, n);
}
void Sha256ShaNi(uint32_t* const* st, const uint32_t* const* w, int n) {
  Sha256Portable(st, w, n);
}

#endif

}  // namespace luksfs::crypto::sha
