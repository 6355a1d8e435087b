// The VAES XTS path against the IEEE 1619 vectors and OpenSSL's own
// EVP_aes_*_xts, unit by unit, for every key size and LUKS sector size and
// for unit counts that exercise the 4-unit tweak batches and their tails.
#include "crypto/xts_vaes.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>

#include "crypto/test_util.h"

namespace luksfs::crypto {
namespace {

using testing::EvpXts;
using testing::ExpectXtsMatchesEvp;
using testing::Hex;
using testing::Random;
using testing::ToHex;

#define SKIP_WITHOUT_VAES()                                      \
  if (!XtsVaes::Supported()) GTEST_SKIP() << "CPU lacks VAES/AVX-512"

std::vector<uint8_t> Counting(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i);
  return v;
}

// IEEE 1619-2007 Annex B vector 4 (XTS-AES-128, data unit 0) and vector 5
// (the same key, data unit 1, whose plaintext is vector 4's ciphertext).
TEST(XtsVaesTest, Ieee1619Vectors4And5) {
  SKIP_WITHOUT_VAES();
  const auto key = Hex("27182818284590452353602874713526"
                       "31415926535897932384626433832795");
  auto x = XtsVaes::Create(key, 512);
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  const auto plain = Counting(512);
  std::vector<uint8_t> ivs(32, 0), two(1024), out(1024);
  ivs[16] = 1;
  // Unit 0 encrypts the counting bytes; unit 1 encrypts unit 0's output.
  std::memcpy(two.data(), plain.data(), 512);
  ASSERT_TRUE((*x)->Run(true, std::span(ivs).first(16),
                        std::span(two).first(512), std::span(out).first(512))
                  .ok());
  EXPECT_EQ(ToHex(out.data(), 32),
            "27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89c");
  EXPECT_EQ(ToHex(out.data() + 480, 32),
            "eb4a427d1923ce3ff262735779a418f20a282df920147beabe421ee5319d0568");
  std::memcpy(two.data() + 512, out.data(), 512);
  ASSERT_TRUE((*x)->Run(true, ivs, two, out).ok());
  EXPECT_EQ(ToHex(out.data() + 512, 32),
            "264d3ca8512194fec312c8c9891f279fefdd608d0c027b60483a3fa811d65ee5");
  ASSERT_TRUE((*x)->Run(false, ivs, out, out).ok());  // in place
  EXPECT_EQ(out, two);
}

// IEEE 1619-2007 vector 10: XTS-AES-256, data unit 0xff.
TEST(XtsVaesTest, Ieee1619Vector10Aes256) {
  SKIP_WITHOUT_VAES();
  const auto key = Hex(
      "2718281828459045235360287471352662497757247093699959574966967627"
      "3141592653589793238462643383279502884197169399375105820974944592");
  auto x = XtsVaes::Create(key, 512);
  ASSERT_TRUE(x.ok());
  const auto plain = Counting(512);
  std::vector<uint8_t> iv(16, 0), out(512);
  iv[0] = 0xff;
  ASSERT_TRUE((*x)->Run(true, iv, plain, out).ok());
  EXPECT_EQ(ToHex(out.data(), 32),
            "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b");
  EXPECT_EQ(ToHex(out.data() + 480, 32),
            "773dad38014bd2092fa755c824bb5e54c4f36ffda9fcea70b9c6e693e148c151");
}

struct Case {
  size_t key_bytes;
  uint32_t unit;
  size_t units;
};

class XtsVaesVsEvp : public ::testing::TestWithParam<Case> {};

TEST_P(XtsVaesVsEvp, EncryptAndDecryptMatchEvpPerUnit) {
  SKIP_WITHOUT_VAES();
  const Case c = GetParam();
  const auto key = Random(c.key_bytes);
  auto x = XtsVaes::Create(key, c.unit);
  ASSERT_TRUE(x.ok());
  ExpectXtsMatchesEvp(key, c.unit, c.units, [&](bool e, auto iv, auto in, auto out) {
    return (*x)->Run(e, iv, in, out);
  });
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, XtsVaesVsEvp,
    ::testing::Values(Case{32, 512, 1}, Case{64, 512, 1}, Case{64, 512, 2},
                      Case{32, 512, 3}, Case{64, 512, 4}, Case{64, 512, 5},
                      Case{64, 512, 203}, Case{32, 1024, 7},
                      Case{64, 2048, 9}, Case{32, 4096, 3},
                      Case{64, 4096, 66}, Case{64, 65536, 2}));

// All-ones IVs drive every tweak through the reduction on every step.
TEST(XtsVaesTest, CarryHeavyTweaksMatchEvp) {
  SKIP_WITHOUT_VAES();
  const auto key = Random(64);
  std::vector<uint8_t> ivs(16 * 6, 0xff);
  const auto plain = Random(4096 * 6);
  auto x = XtsVaes::Create(key, 4096);
  ASSERT_TRUE(x.ok());
  std::vector<uint8_t> enc(plain.size());
  ASSERT_TRUE((*x)->Run(true, ivs, plain, enc).ok());
  for (size_t u = 0; u < 6; ++u) {
    auto want = EvpXts(true, key, ivs.data() + 16 * u, plain.data() + u * 4096,
                       4096);
    ASSERT_EQ(0, std::memcmp(want.data(), enc.data() + u * 4096, 4096));
  }
}

TEST(XtsVaesTest, RejectsBadSizes) {
  EXPECT_FALSE(XtsVaes::Create(Random(48), 512).ok());
  EXPECT_FALSE(XtsVaes::Create(Random(64), 256).ok());
  EXPECT_FALSE(XtsVaes::Create(Random(64), 0).ok());
  SKIP_WITHOUT_VAES();
  auto x = XtsVaes::Create(Random(64), 512);
  ASSERT_TRUE(x.ok());
  std::vector<uint8_t> iv(16), data(1024), out(512);
  EXPECT_EQ((*x)->Run(true, iv, data, data).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ((*x)->Run(true, iv, std::span(data).first(512), out).code(),
            Status::Code::kOk);
  EXPECT_EQ((*x)->Run(true, iv, data, out).code(),
            Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace luksfs::crypto
