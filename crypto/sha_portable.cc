// Portable SHA-1/SHA-256/SHA-512 compressions (FIPS 180-4 sections 6.1.2,
// 6.2.2, 6.4.2). The templates can run N chains in lockstep, but in scalar
// code two or four chains measured 20-50% SLOWER per block than one on
// x86-64 (16 general registers: the second chain's state and schedule
// spill), so the exported functions run the chains one after another.
#include "crypto/sha_kernels.h"

#include <cstring>

namespace luksfs::crypto::sha {

const uint32_t kSha1Init[5] = {0x67452301, 0xefcdab89, 0x98badcfe,
                               0x10325476, 0xc3d2e1f0};
const uint32_t kSha256Init[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                 0xa54ff53a, 0x510e527f, 0x9b05688c,
                                 0x1f83d9ab, 0x5be0cd19};
const uint64_t kSha512Init[8] = {
    0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL,
    0xa54ff53a5f1d36f1ULL, 0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL,
    0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};

namespace {

constexpr uint32_t kK256[64] = {
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

constexpr uint64_t kK512[80] = {
    0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL,
    0xe9b5dba58189dbbcULL, 0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL,
    0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL, 0xd807aa98a3030242ULL,
    0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
    0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL,
    0xc19bf174cf692694ULL, 0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL,
    0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL, 0x2de92c6f592b0275ULL,
    0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
    0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL,
    0xbf597fc7beef0ee4ULL, 0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
    0x06ca6351e003826fULL, 0x142929670a0e6e70ULL, 0x27b70a8546d22ffcULL,
    0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
    0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL,
    0x92722c851482353bULL, 0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL,
    0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL, 0xd192e819d6ef5218ULL,
    0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
    0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL,
    0x34b0bcb5e19b48a8ULL, 0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL,
    0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL, 0x748f82ee5defb2fcULL,
    0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
    0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL,
    0xc67178f2e372532bULL, 0xca273eceea26619cULL, 0xd186b8c721c0c207ULL,
    0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL, 0x06f067aa72176fbaULL,
    0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
    0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL,
    0x431d67c49c100d4cULL, 0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL,
    0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL};

template <typename T>
constexpr T Rotr(T x, int n) {
  return (x >> n) | (x << (sizeof(T) * 8 - n));
}

// SHA-256 and SHA-512 share one compression (FIPS 180-4 sections 6.2.2
// and 6.4.2): they differ only in word size, round count, constants and
// rotation amounts, all compile-time constants of these traits.
struct Sha256Traits {
  using Word = uint32_t;
  static constexpr int kRounds = 64;
  static constexpr const Word* kK = kK256;
  static constexpr int kSig0[3] = {7, 18, 3};    // sigma0: rotr, rotr, shr
  static constexpr int kSig1[3] = {17, 19, 10};  // sigma1
  static constexpr int kSum0[3] = {2, 13, 22};   // Sigma0: three rotr
  static constexpr int kSum1[3] = {6, 11, 25};   // Sigma1
};
struct Sha512Traits {
  using Word = uint64_t;
  static constexpr int kRounds = 80;
  static constexpr const Word* kK = kK512;
  static constexpr int kSig0[3] = {1, 8, 7};
  static constexpr int kSig1[3] = {19, 61, 6};
  static constexpr int kSum0[3] = {28, 34, 39};
  static constexpr int kSum1[3] = {14, 18, 41};
};

// The working variables a..h of chain i live in v[i][0..8) and are
// renamed rather than moved: in round t, "a" is slot (0 - t) mod 8, "b"
// slot (1 - t) mod 8, and so on. With the round loop unrolled every index
// is a constant, so the compiler keeps them in registers without copies.
template <typename H, int N>
void Sha2N(typename H::Word* const* st, const typename H::Word* const* msg) {
  using W = typename H::Word;
  W w[N][16], v[N][8];
  for (int i = 0; i < N; ++i) {
    std::memcpy(w[i], msg[i], sizeof(w[i]));
    std::memcpy(v[i], st[i], sizeof(v[i]));
  }
#pragma GCC unroll 80
  for (int t = 0; t < H::kRounds; ++t) {
#pragma GCC unroll 4
    for (int i = 0; i < N; ++i) {
      W wt;
      if (t < 16) {
        wt = w[i][t];
      } else {
        const W w15 = w[i][(t - 15) & 15], w2 = w[i][(t - 2) & 15];
        const W s0 = Rotr(w15, H::kSig0[0]) ^ Rotr(w15, H::kSig0[1]) ^
                     (w15 >> H::kSig0[2]);
        const W s1 = Rotr(w2, H::kSig1[0]) ^ Rotr(w2, H::kSig1[1]) ^
                     (w2 >> H::kSig1[2]);
        wt = w[i][t & 15] += s0 + s1 + w[i][(t - 7) & 15];
      }
      W& a = v[i][(8 - t % 8) % 8];
      const W b = v[i][(9 - t % 8) % 8], c = v[i][(10 - t % 8) % 8];
      W& d = v[i][(11 - t % 8) % 8];
      const W e = v[i][(12 - t % 8) % 8], f = v[i][(13 - t % 8) % 8];
      const W g = v[i][(14 - t % 8) % 8];
      W& h = v[i][(15 - t % 8) % 8];
      const W t1 = h +
                   (Rotr(e, H::kSum1[0]) ^ Rotr(e, H::kSum1[1]) ^
                    Rotr(e, H::kSum1[2])) +
                   ((e & f) ^ (~e & g)) + H::kK[t] + wt;
      const W t2 = (Rotr(a, H::kSum0[0]) ^ Rotr(a, H::kSum0[1]) ^
                    Rotr(a, H::kSum0[2])) +
                   ((a & b) ^ (a & c) ^ (b & c));
      d += t1;
      h = t1 + t2;  // the next round's "a"
    }
  }
  for (int i = 0; i < N; ++i) {
    for (int j = 0; j < 8; ++j) st[i][j] += v[i][j];
  }
}

// Same renaming with five slots: "a" is slot (0 - t) mod 5.
template <int N>
void Sha1N(uint32_t* const* st, const uint32_t* const* msg) {
  uint32_t w[N][16], v[N][5];
  for (int i = 0; i < N; ++i) {
    std::memcpy(w[i], msg[i], sizeof(w[i]));
    std::memcpy(v[i], st[i], sizeof(v[i]));
  }
#pragma GCC unroll 80
  for (int t = 0; t < 80; ++t) {
#pragma GCC unroll 4
    for (int i = 0; i < N; ++i) {
      uint32_t wt;
      if (t < 16) {
        wt = w[i][t];
      } else {
        const uint32_t x = w[i][(t - 3) & 15] ^ w[i][(t - 8) & 15] ^
                           w[i][(t - 14) & 15] ^ w[i][t & 15];
        wt = w[i][t & 15] = (x << 1) | (x >> 31);
      }
      const uint32_t a = v[i][(5 - t % 5) % 5];
      uint32_t& b = v[i][(6 - t % 5) % 5];
      const uint32_t c = v[i][(7 - t % 5) % 5], d = v[i][(8 - t % 5) % 5];
      uint32_t& e = v[i][(9 - t % 5) % 5];
      uint32_t fk;
      if (t < 20) {
        fk = ((b & c) | (~b & d)) + 0x5a827999;
      } else if (t < 40) {
        fk = (b ^ c ^ d) + 0x6ed9eba1;
      } else if (t < 60) {
        fk = ((b & c) | (b & d) | (c & d)) + 0x8f1bbcdc;
      } else {
        fk = (b ^ c ^ d) + 0xca62c1d6;
      }
      e += ((a << 5) | (a >> 27)) + fk + wt;  // the next round's "a"
      b = (b << 30) | (b >> 2);               // the next round's "c"
    }
  }
  for (int i = 0; i < N; ++i) {
    for (int j = 0; j < 5; ++j) st[i][j] += v[i][j];
  }
}

}  // namespace

void Sha1Portable(uint32_t* const* st, const uint32_t* const* w, int n) {
  for (int i = 0; i < n; ++i) Sha1N<1>(st + i, w + i);
}

void Sha256Portable(uint32_t* const* st, const uint32_t* const* w, int n) {
  for (int i = 0; i < n; ++i) Sha2N<Sha256Traits, 1>(st + i, w + i);
}

void Sha512Portable(uint64_t* const* st, const uint64_t* const* w, int n) {
  for (int i = 0; i < n; ++i) Sha2N<Sha512Traits, 1>(st + i, w + i);
}

}  // namespace luksfs::crypto::sha
