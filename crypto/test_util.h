// Helpers for crypto/ unit tests.
#pragma once

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace luksfs::crypto::testing {

inline std::vector<uint8_t> Hex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return out;
}

inline std::string ToHex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

inline std::string ToHex(const std::vector<uint8_t>& v) {
  return ToHex(v.data(), v.size());
}

inline std::vector<uint8_t> Bytes(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

// n bytes from OpenSSL's CSPRNG.
inline std::vector<uint8_t> Random(size_t n) {
  std::vector<uint8_t> v(n);
  RAND_bytes(v.data(), static_cast<int>(n));
  return v;
}

// The reference XTS: OpenSSL's EVP_aes_{128,256}_xts (by key size) over one
// data unit of n bytes with the 16-byte tweak input iv.
inline std::vector<uint8_t> EvpXts(bool enc, const std::vector<uint8_t>& key,
                                   const uint8_t* iv, const uint8_t* in,
                                   size_t n) {
  std::vector<uint8_t> out(n);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  EXPECT_EQ(1, EVP_CipherInit_ex2(ctx,
                                  key.size() == 32 ? EVP_aes_128_xts()
                                                   : EVP_aes_256_xts(),
                                  key.data(), iv, enc ? 1 : 0, nullptr));
  EXPECT_EQ(1, EVP_CipherUpdate(ctx, out.data(), &len, in,
                                static_cast<int>(n)));
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

// Checks an XTS kernel against EvpXts: `units` random units of `unit`
// bytes with random tweak inputs are encrypted by run(encrypt, ivs, in, out)
// (a kernel's Run) and compared unit by unit with OpenSSL; then decrypted
// out of place and in place back to the plaintext.
template <typename RunFn>
void ExpectXtsMatchesEvp(const std::vector<uint8_t>& key, uint32_t unit,
                         size_t units, RunFn run) {
  const auto ivs_v = Random(16 * units);
  const auto plain = Random(unit * units);
  std::vector<uint8_t> enc(plain.size()), dec(plain.size());
  // Spans, so that run's parameters may be `auto`.
  const std::span<const uint8_t> ivs(ivs_v);
  ASSERT_TRUE(run(true, ivs, std::span<const uint8_t>(plain),
                  std::span<uint8_t>(enc))
                  .ok());
  for (size_t u = 0; u < units; ++u) {
    auto want =
        EvpXts(true, key, ivs.data() + 16 * u, plain.data() + u * unit, unit);
    ASSERT_EQ(want, std::vector<uint8_t>(enc.begin() + u * unit,
                                         enc.begin() + (u + 1) * unit))
        << "unit " << u;
  }
  ASSERT_TRUE(run(false, ivs, std::span<const uint8_t>(enc),
                  std::span<uint8_t>(dec))
                  .ok());
  EXPECT_EQ(dec, plain);
  ASSERT_TRUE(run(false, ivs, std::span<const uint8_t>(enc),
                  std::span<uint8_t>(enc))
                  .ok());  // in place
  EXPECT_EQ(enc, plain);
}

}  // namespace luksfs::crypto::testing
