#include "crypto/xts_batch.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/secure_buffer.h"

namespace luksfs::crypto {

namespace {

constexpr size_t kBlock = 16;
constexpr size_t kScratchBytes = 32 * 1024;  // tweak stream per pass

#if defined(__SSE2__)
// t * alpha in GF(2^128), IEEE 1619 little-endian convention: shift left by
// one bit across the 128 bits, folding the carry out of bit 127 into 0x87.
inline __m128i GfDouble(__m128i t) {
  __m128i carry = _mm_srai_epi32(t, 31);       // each lane's top bit, spread
  carry = _mm_shuffle_epi32(carry, 0x93);      // lane i <- lane i-1 (3 -> 0)
  carry = _mm_and_si128(carry, _mm_set_epi32(1, 1, 1, 0x87));
  return _mm_xor_si128(_mm_slli_epi32(t, 1), carry);
}

// For `blocks` blocks: tw[j] = T_j, dst[j] = src[j] ^ T_j, T_0 = *t0.
inline void TweakXor(const uint8_t* t0, const uint8_t* src, uint8_t* dst,
                     uint8_t* tw, size_t blocks) {
  __m128i t = _mm_loadu_si128(reinterpret_cast<const __m128i*>(t0));
  for (size_t j = 0; j < blocks; ++j) {
    const size_t o = j * kBlock;
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + o));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + o), _mm_xor_si128(x, t));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tw + o), t);
    t = GfDouble(t);
  }
}

inline void XorInPlace(uint8_t* dst, const uint8_t* tw, size_t bytes) {
  for (size_t o = 0; o < bytes; o += kBlock) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(dst + o));
    __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(tw + o));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + o), _mm_xor_si128(x, y));
  }
}
#else
inline void TweakXor(const uint8_t* t0, const uint8_t* src, uint8_t* dst,
                     uint8_t* tw, size_t blocks) {
  uint64_t lo, hi;
  std::memcpy(&lo, t0, 8);
  std::memcpy(&hi, t0 + 8, 8);
  for (size_t j = 0; j < blocks; ++j) {
    const size_t o = j * kBlock;
    uint64_t x[2];
    std::memcpy(x, src + o, 16);
    x[0] ^= lo;
    x[1] ^= hi;
    std::memcpy(dst + o, x, 16);
    std::memcpy(tw + o, &lo, 8);
    std::memcpy(tw + o + 8, &hi, 8);
    const uint64_t carry = hi >> 63;
    hi = (hi << 1) | (lo >> 63);
    lo = (lo << 1) ^ (carry * 0x87);
  }
}

inline void XorInPlace(uint8_t* dst, const uint8_t* tw, size_t bytes) {
  for (size_t o = 0; o < bytes; o += 8) {
    uint64_t x, y;
    std::memcpy(&x, dst + o, 8);
    std::memcpy(&y, tw + o, 8);
    x ^= y;
    std::memcpy(dst + o, &x, 8);
  }
}
#endif

bool EcbInit(EVP_CIPHER_CTX** ctx, const EVP_CIPHER* c, const uint8_t* key,
             int enc) {
  *ctx = EVP_CIPHER_CTX_new();
  if (*ctx == nullptr ||
      EVP_CipherInit_ex2(*ctx, c, key, nullptr, enc, nullptr) != 1) {
    return false;
  }
  EVP_CIPHER_CTX_set_padding(*ctx, 0);
  return true;
}

bool Ecb(EVP_CIPHER_CTX* ctx, const uint8_t* in, uint8_t* out, size_t n) {
  int len = 0;
  return EVP_CipherUpdate(ctx, out, &len, in, static_cast<int>(n)) == 1 &&
         static_cast<size_t>(len) == n;
}

}  // namespace

XtsBatch::XtsBatch(uint32_t unit_bytes) : unit_bytes_(unit_bytes) {
  max_units_ = std::max<size_t>(1, kScratchBytes / unit_bytes);
  tweaks_.resize(max_units_ * unit_bytes);
  t0_.resize(max_units_ * kBlock);
}

XtsBatch::~XtsBatch() {
  EVP_CIPHER_CTX_free(k1_enc_);
  EVP_CIPHER_CTX_free(k1_dec_);
  EVP_CIPHER_CTX_free(k2_enc_);
  SecureWipe(tweaks_.data(), tweaks_.size());
  SecureWipe(t0_.data(), t0_.size());
}

Result<std::unique_ptr<XtsBatch>> XtsBatch::Create(std::span<const uint8_t> key,
                                                   uint32_t unit_bytes) {
  if ((key.size() != 32 && key.size() != 64) || unit_bytes < kBlock ||
      unit_bytes % kBlock != 0) {
    return Status::InvalidArgument("XTS batch: bad key or unit size");
  }
  const EVP_CIPHER* ecb =
      key.size() == 32 ? EVP_aes_128_ecb() : EVP_aes_256_ecb();
  const size_t half = key.size() / 2;
  std::unique_ptr<XtsBatch> b(new XtsBatch(unit_bytes));
  if (!EcbInit(&b->k1_enc_, ecb, key.data(), 1) ||
      !EcbInit(&b->k1_dec_, ecb, key.data(), 0) ||
      !EcbInit(&b->k2_enc_, ecb, key.data() + half, 1)) {
    return Status::Internal("OpenSSL AES-ECB setup failed");
  }
  return b;
}

Status XtsBatch::Run(bool encrypt, std::span<const uint8_t> ivs,
                     std::span<const uint8_t> in, std::span<uint8_t> out) {
  const size_t units = ivs.size() / kBlock;
  if (in.size() != out.size() || in.size() != units * unit_bytes_ ||
      ivs.size() % kBlock != 0) {
    return Status::InvalidArgument("XTS batch: size mismatch");
  }
  const size_t blocks_per_unit = unit_bytes_ / kBlock;
  EVP_CIPHER_CTX* k1 = encrypt ? k1_enc_ : k1_dec_;
  for (size_t u0 = 0; u0 < units; u0 += max_units_) {
    const size_t n = std::min(max_units_, units - u0);
    const size_t bytes = n * unit_bytes_;
    const uint8_t* src = in.data() + u0 * unit_bytes_;
    uint8_t* dst = out.data() + u0 * unit_bytes_;
    // 1. All initial tweaks in one ECB call with key2.
    if (!Ecb(k2_enc_, ivs.data() + u0 * kBlock, t0_.data(), n * kBlock)) {
      return Status::Internal("OpenSSL AES-ECB failed");
    }
    // 2. Per-block tweaks T_{j+1} = T_j * alpha, fused with dst = src ^ T;
    // 3. one ECB pass with key1 over every block; 4. dst ^= T again.
    for (size_t u = 0; u < n; ++u) {
      const size_t base = u * unit_bytes_;
      TweakXor(t0_.data() + u * kBlock, src + base, dst + base,
               tweaks_.data() + base, blocks_per_unit);
    }
    if (!Ecb(k1, dst, dst, bytes)) {
      return Status::Internal("OpenSSL AES-ECB failed");
    }
    XorInPlace(dst, tweaks_.data(), bytes);
  }
  return Status();
}

}  // namespace luksfs::crypto
