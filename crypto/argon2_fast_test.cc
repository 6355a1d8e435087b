// Argon2 AVX2 fill: RFC 9106 test vectors, and libargon2 (argon2_ctx) on
// random parameters.
#include "crypto/argon2_fast.h"

#include <argon2.h>
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "crypto/test_util.h"

namespace luksfs::crypto {
namespace {

using testing::ToHex;

std::vector<uint8_t> Libargon2(KdfType type, const std::vector<uint8_t>& pw,
                               const std::vector<uint8_t>& salt,
                               const std::vector<uint8_t>& secret,
                               const std::vector<uint8_t>& ad, uint32_t t,
                               uint32_t m, uint32_t lanes, size_t n) {
  std::vector<uint8_t> out(n);
  std::vector<uint8_t> p = pw, s = salt, k = secret, x = ad;
  p.reserve(1), s.reserve(1), k.reserve(1), x.reserve(1);
  argon2_context ctx{};
  ctx.out = out.data();
  ctx.outlen = static_cast<uint32_t>(n);
  ctx.pwd = p.data();
  ctx.pwdlen = static_cast<uint32_t>(p.size());
  ctx.salt = s.data();
  ctx.saltlen = static_cast<uint32_t>(s.size());
  ctx.secret = k.empty() ? nullptr : k.data();
  ctx.secretlen = static_cast<uint32_t>(k.size());
  ctx.ad = x.empty() ? nullptr : x.data();
  ctx.adlen = static_cast<uint32_t>(x.size());
  ctx.t_cost = t;
  ctx.m_cost = m;
  ctx.lanes = lanes;
  ctx.threads = lanes;
  ctx.version = ARGON2_VERSION_13;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  EXPECT_EQ(argon2_ctx(&ctx, type == KdfType::kArgon2i ? Argon2_i : Argon2_id),
            ARGON2_OK);
  return out;
}

TEST(Argon2FastTest, Rfc9106Vectors) {
  if (!Argon2FastSupported()) GTEST_SKIP() << "no AVX2";
  // RFC 9106 sections 5.2 and 5.3: t=3, m=32 KiB, p=4, 32-byte tag.
  const std::vector<uint8_t> pw(32, 0x01), salt(16, 0x02), secret(8, 0x03),
      ad(12, 0x04);
  struct Case {
    KdfType type;
    const char* tag;
  };
  for (const Case c :
       {Case{KdfType::kArgon2i,
             "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8"},
        Case{KdfType::kArgon2id,
             "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"}}) {
    std::vector<uint8_t> out(32);
    ASSERT_TRUE(
        Argon2FastKeyed(c.type, pw, salt, secret, ad, 3, 32, 4, 4, out).ok());
    EXPECT_EQ(ToHex(out), c.tag);
    EXPECT_EQ(ToHex(Libargon2(c.type, pw, salt, secret, ad, 3, 32, 4, 32)),
              c.tag);
  }
}

TEST(Argon2FastTest, RandomParametersMatchLibargon2) {
  if (!Argon2FastSupported()) GTEST_SKIP() << "no AVX2";
  std::mt19937_64 rng(9106);
  for (int i = 0; i < 40; ++i) {
    const KdfType type = i % 2 ? KdfType::kArgon2i : KdfType::kArgon2id;
    const uint32_t lanes = 1 + rng() % 8;
    const uint32_t time = 1 + rng() % 4;
    // Log-uniform memory from 8 KiB * lanes to 64 MiB (a few large ones).
    const double lo = std::log2(8.0 * lanes), hi = i % 8 == 0 ? 16.0 : 12.0;
    const uint32_t mem = static_cast<uint32_t>(std::exp2(
        lo + (hi - lo) * std::uniform_real_distribution<double>(0, 1)(rng)));
    std::vector<uint8_t> pw(rng() % 100), salt(8 + rng() % 40);
    for (auto& b : pw) b = static_cast<uint8_t>(rng());
    for (auto& b : salt) b = static_cast<uint8_t>(rng());
    const size_t n = 4 + rng() % 125;
    std::vector<uint8_t> got(n);
    const uint32_t threads = 1 + rng() % 4;
    ASSERT_TRUE(
        Argon2Fast(type, pw, salt, time, mem, lanes, threads, got).ok());
    EXPECT_EQ(ToHex(got), ToHex(Libargon2(type, pw, salt, {}, {}, time, mem,
                                          lanes, n)))
        << "case " << i << " lanes " << lanes << " t " << time << " m " << mem
        << " out " << n;
  }
  // The top of the range: 64 MiB, 4 lanes.
  std::vector<uint8_t> pw = {'p'}, salt(16, 7), got(64);
  ASSERT_TRUE(Argon2Fast(KdfType::kArgon2id, pw, salt, 1, 65536, 4, 4, got).ok());
  EXPECT_EQ(ToHex(got),
            ToHex(Libargon2(KdfType::kArgon2id, pw, salt, {}, {}, 1, 65536, 4, 64)));
}

TEST(Argon2FastTest, RejectsWhatLibargon2Refuses) {
  if (!Argon2FastSupported()) GTEST_SKIP() << "no AVX2";
  std::vector<uint8_t> pw = {'p'}, salt(16, 1), shortsalt(4, 1), out(32);
  EXPECT_EQ(Argon2Fast(KdfType::kArgon2id, pw, salt, 1, 31, 4, 1, out).code(),
            Status::Code::kInvalidArgument);  // memory < 8 * lanes
  EXPECT_EQ(Argon2Fast(KdfType::kArgon2id, pw, salt, 0, 64, 1, 1, out).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(Argon2Fast(KdfType::kArgon2id, pw, salt, 1, 64, 0, 1, out).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(Argon2Fast(KdfType::kArgon2id, pw, shortsalt, 1, 64, 1, 1, out).code(),
            Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace luksfs::crypto
