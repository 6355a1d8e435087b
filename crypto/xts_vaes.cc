#include "crypto/xts_vaes.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
// GCC 12's AVX-512 headers start masked operations from
// _mm512_undefined_*(), which -W(maybe-)uninitialized reports once inlined.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <cpuid.h>
#include <immintrin.h>
#define LUKSFS_HAVE_VAES_CODE 1
#endif

namespace luksfs::crypto {

namespace {

constexpr size_t kBlock = 16;
constexpr size_t kStretch = 512;  // bytes kept in registers: 8 zmm x 4 blocks
constexpr int kMaxRounds = 14;

}  // namespace

#if defined(LUKSFS_HAVE_VAES_CODE)

#define LUKSFS_TARGET_AESNI __attribute__((target("aes,sse4.1")))
#define LUKSFS_TARGET_VAES \
  __attribute__((target("avx512f,avx512vl,vaes,vpclmulqdq,aes")))

namespace {

// ---- Key expansion (FIPS 197 with AES-NI; Intel AES-NI white paper). ----

LUKSFS_TARGET_AESNI inline __m128i Fold(__m128i k, __m128i assist) {
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
  return _mm_xor_si128(k, assist);
}

#define LUKSFS_EXP128(i, rcon)                                              \
  rk[i] = Fold(rk[i - 1],                                                   \
               _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[i - 1], rcon), \
                                 0xff))

LUKSFS_TARGET_AESNI void Expand128(const uint8_t* key, __m128i* rk) {
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  LUKSFS_EXP128(1, 0x01);
  LUKSFS_EXP128(2, 0x02);
  LUKSFS_EXP128(3, 0x04);
  LUKSFS_EXP128(4, 0x08);
  LUKSFS_EXP128(5, 0x10);
  LUKSFS_EXP128(6, 0x20);
  LUKSFS_EXP128(7, 0x40);
  LUKSFS_EXP128(8, 0x80);
  LUKSFS_EXP128(9, 0x1b);
  LUKSFS_EXP128(10, 0x36);
}
#undef LUKSFS_EXP128

// Even round keys take RotWord+SubWord+Rcon of the previous odd one; odd
// round keys take SubWord only (AES-256's extra step).
#define LUKSFS_EXP256(i, rcon)                                                \
  rk[i] = Fold(rk[i - 2],                                                     \
               _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[i - 1], rcon),  \
                                 0xff));                                      \
  rk[i + 1] = Fold(rk[i - 1],                                                 \
                   _mm_shuffle_epi32(_mm_aeskeygenassist_si128(rk[i], 0x00), \
                                     0xaa))

LUKSFS_TARGET_AESNI void Expand256(const uint8_t* key, __m128i* rk) {
  rk[0] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  rk[1] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16));
  LUKSFS_EXP256(2, 0x01);
  LUKSFS_EXP256(4, 0x02);
  LUKSFS_EXP256(6, 0x04);
  LUKSFS_EXP256(8, 0x08);
  LUKSFS_EXP256(10, 0x10);
  LUKSFS_EXP256(12, 0x20);
  rk[14] = Fold(rk[12], _mm_shuffle_epi32(
                            _mm_aeskeygenassist_si128(rk[13], 0x40), 0xff));
}
#undef LUKSFS_EXP256

// Decryption schedule for the equivalent inverse cipher (AESDEC).
LUKSFS_TARGET_AESNI void InvertSchedule(const __m128i* enc, __m128i* dec,
                                        int rounds) {
  dec[0] = enc[rounds];
  for (int i = 1; i < rounds; ++i) dec[i] = _mm_aesimc_si128(enc[rounds - i]);
  dec[rounds] = enc[0];
}

LUKSFS_TARGET_AESNI void ExpandKeys(std::span<const uint8_t> key,
                                    uint8_t* out) {
  __m128i enc1[kMaxRounds + 1], dec1[kMaxRounds + 1], enc2[kMaxRounds + 1];
  const size_t half = key.size() / 2;
  const int rounds = half == 16 ? 10 : 14;
  if (half == 16) {
    Expand128(key.data(), enc1);
    Expand128(key.data() + half, enc2);
  } else {
    Expand256(key.data(), enc1);
    Expand256(key.data() + half, enc2);
  }
  InvertSchedule(enc1, dec1, rounds);
  const size_t n = (rounds + 1) * kBlock;
  std::memcpy(out, enc1, n);
  std::memcpy(out + n, dec1, n);
  std::memcpy(out + 2 * n, enc2, n);
  SecureWipe(enc1, sizeof enc1);
  SecureWipe(dec1, sizeof dec1);
  SecureWipe(enc2, sizeof enc2);
}

// ---- Data path. ----

// Each 128-bit lane of t multiplied by alpha^k in GF(2^128) (IEEE 1619
// little-endian convention), 1 <= k <= 63: shift the 128-bit lane left by
// k and fold the k bits shifted out of bit 127 back in times
// x^7 + x^2 + x + 1 (0x87), with a carry-less multiply.
LUKSFS_TARGET_VAES inline __m512i MulAlphaK(__m512i t, int k) {
  const __m512i poly = _mm512_set_epi64(0, 0x87, 0, 0x87, 0, 0x87, 0, 0x87);
  const __m512i shifted = _mm512_slli_epi64(t, static_cast<unsigned>(k));
  const __m512i out = _mm512_srli_epi64(t, static_cast<unsigned>(64 - k));
  // Swap the qwords of every lane: q1 <- bits out of q0 (carry into q1),
  // q0 <- bits out of q1 (past bit 127: to be reduced).
  const __m512i swapped = _mm512_shuffle_epi32(out, _MM_PERM_BADC);
  const __m512i reduced = _mm512_clmulepi64_epi128(swapped, poly, 0x00);
  const __m512i carry = _mm512_maskz_mov_epi64(0xAA, swapped);
  // shifted ^ reduced ^ carry in one instruction.
  return _mm512_ternarylogic_epi64(shifted, reduced, carry, 0x96);
}

// Lanes (t, t*a, t*a^2, t*a^3) from one 128-bit tweak.
LUKSFS_TARGET_VAES inline __m512i FirstLanes(__m128i t) {
  const __m512i b = _mm512_broadcast_i32x4(t);
  // Lane l multiplied by alpha^l: lane 0 stays, lanes 1..3 via MulAlphaK
  // with a per-lane blend (k differs per lane).
  const __m512i a1 = MulAlphaK(b, 1);
  const __m512i a2 = MulAlphaK(b, 2);
  const __m512i a3 = MulAlphaK(b, 3);
  __m512i r = _mm512_mask_mov_epi64(b, 0x0C, a1);
  r = _mm512_mask_mov_epi64(r, 0x30, a2);
  return _mm512_mask_mov_epi64(r, 0xC0, a3);
}

// Encrypts the initial tweak inputs of 4 units (masked: `units` of them)
// with key2, giving T_0 of each unit in consecutive lanes.
LUKSFS_TARGET_VAES inline __m512i InitialTweaks4(const uint8_t* ivs,
                                                 size_t units,
                                                 const __m512i* k2,
                                                 int rounds) {
  const __mmask8 m = static_cast<__mmask8>((1u << (2 * units)) - 1);
  __m512i x = _mm512_maskz_loadu_epi64(m, ivs);
  x = _mm512_xor_si512(x, k2[0]);
  for (int r = 1; r < rounds; ++r) x = _mm512_aesenc_epi128(x, k2[r]);
  return _mm512_aesenclast_epi128(x, k2[rounds]);
}

// One 512-byte stretch: 8 zmm of data, tweaks t0 * alpha^(4i + lane).
// Fully unrolled (rounds is a template argument) so that the eight data
// and eight tweak vectors stay in registers.
template <bool kEncrypt, int kRounds>
LUKSFS_TARGET_VAES inline void Stretch(const uint8_t* src, uint8_t* dst,
                                       __m512i t0, const __m512i* k) {
  __m512i t[8], x[8];
  t[0] = t0;
#pragma GCC unroll 8
  for (int i = 1; i < 8; ++i) t[i] = MulAlphaK(t0, 4 * i);
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    x[i] = _mm512_loadu_si512(src + 64 * i);
    x[i] = _mm512_ternarylogic_epi64(x[i], t[i], k[0], 0x96);
  }
#pragma GCC unroll 14
  for (int r = 1; r < kRounds; ++r) {
    const __m512i kr = k[r];
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) {
      x[i] = kEncrypt ? _mm512_aesenc_epi128(x[i], kr)
                      : _mm512_aesdec_epi128(x[i], kr);
    }
  }
  const __m512i kl = k[kRounds];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    x[i] = kEncrypt ? _mm512_aesenclast_epi128(x[i], kl)
                    : _mm512_aesdeclast_epi128(x[i], kl);
    _mm512_storeu_si512(dst + 64 * i, _mm512_xor_si512(x[i], t[i]));
  }
}

template <bool kEncrypt, int kRounds>
LUKSFS_TARGET_VAES void RunUnits(const uint8_t* keys, size_t unit_bytes,
                                 const uint8_t* ivs, size_t units,
                                 const uint8_t* in, uint8_t* out) {
  const size_t n = (kRounds + 1) * kBlock;
  const uint8_t* k1 = keys + (kEncrypt ? 0 : n);
  const uint8_t* k2 = keys + 2 * n;
  __m512i rk1[kRounds + 1], rk2[kRounds + 1];
#pragma GCC unroll 15
  for (int r = 0; r <= kRounds; ++r) {
    rk1[r] = _mm512_broadcast_i32x4(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(k1 + r * kBlock)));
    rk2[r] = _mm512_broadcast_i32x4(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(k2 + r * kBlock)));
  }
  const size_t stretches = unit_bytes / kStretch;
  alignas(64) __m128i t0[4];  // initial tweaks of 4 units; wiped at the end
  for (size_t u0 = 0; u0 < units; u0 += 4) {
    const size_t m = units - u0 < 4 ? units - u0 : 4;
    _mm512_store_si512(t0, InitialTweaks4(ivs + u0 * kBlock, m, rk2, kRounds));
    for (size_t u = 0; u < m; ++u) {
      const size_t base = (u0 + u) * unit_bytes;
      __m512i t = FirstLanes(t0[u]);
      for (size_t s = 0; s < stretches; ++s) {
        Stretch<kEncrypt, kRounds>(in + base + s * kStretch,
                                   out + base + s * kStretch, t, rk1);
        t = MulAlphaK(t, 32);
      }
    }
  }
  SecureWipe(t0, sizeof t0);
  SecureWipe(rk1, sizeof rk1);
  SecureWipe(rk2, sizeof rk2);
}

using RunFn = void (*)(const uint8_t*, size_t, const uint8_t*, size_t,
                       const uint8_t*, uint8_t*);

RunFn SelectRun(bool encrypt, int rounds) {
  if (rounds == 10) {
    return encrypt ? RunUnits<true, 10> : RunUnits<false, 10>;
  }
  return encrypt ? RunUnits<true, 14> : RunUnits<false, 14>;
}

// CPUID and XCR0 read directly (GCC's and clang's __builtin_cpu_supports
// do not agree on the feature names).
bool CpuHasVaes() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool aes = c & (1u << 25), osxsave = c & (1u << 27);
  if (!aes || !osxsave) return false;
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  // The OS saves SSE, AVX, opmask, ZMM_Hi256 and Hi16_ZMM state.
  if ((xcr0_lo & 0xE6) != 0xE6) return false;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool avx512f = b & (1u << 16), avx512vl = b & (1u << 31);
  const bool vaes = c & (1u << 9), vpclmulqdq = c & (1u << 10);
  return avx512f && avx512vl && vaes && vpclmulqdq;
}

}  // namespace

bool XtsVaes::Supported() {
  static const bool supported = [] {
    const char* force = std::getenv("LUKSFS_XTS");
    if (force != nullptr && std::strcmp(force, "portable") == 0) return false;
    return CpuHasVaes();
  }();
  return supported;
}

#else  // !LUKSFS_HAVE_VAES_CODE

bool XtsVaes::Supported() { return false; }

#endif

XtsVaes::XtsVaes(uint32_t unit_bytes, int rounds, SecureBuffer keys)
    : unit_bytes_(unit_bytes), rounds_(rounds), keys_(std::move(keys)) {}

Result<std::unique_ptr<XtsVaes>> XtsVaes::Create(std::span<const uint8_t> key,
                                                 uint32_t unit_bytes) {
  if ((key.size() != 32 && key.size() != 64) || unit_bytes == 0 ||
      unit_bytes % kStretch != 0) {
    return Status::InvalidArgument("XTS (VAES): bad key or unit size");
  }
  if (!Supported()) {
    return Status::NotSupported("XTS (VAES): this CPU lacks VAES/AVX-512");
  }
#if defined(LUKSFS_HAVE_VAES_CODE)
  const int rounds = key.size() == 32 ? 10 : 14;
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer keys,
                          SecureBuffer::Create(3 * (rounds + 1) * kBlock));
  ExpandKeys(key, keys.data());
  return std::unique_ptr<XtsVaes>(
      new XtsVaes(unit_bytes, rounds, std::move(keys)));
#else
  return Status::NotSupported("XTS (VAES): not built for this architecture");
#endif
}

Status XtsVaes::Run(bool encrypt, std::span<const uint8_t> ivs,
                    std::span<const uint8_t> in,
                    std::span<uint8_t> out) const {
  const size_t units = ivs.size() / kBlock;
  if (in.size() != out.size() || ivs.size() % kBlock != 0 ||
      in.size() != units * unit_bytes_) {
    return Status::InvalidArgument("XTS (VAES): size mismatch");
  }
#if defined(LUKSFS_HAVE_VAES_CODE)
  SelectRun(encrypt, rounds_)(keys_.data(), unit_bytes_, ivs.data(), units,
                             in.data(), out.data());
#endif
  return Status();
}

}  // namespace luksfs::crypto
