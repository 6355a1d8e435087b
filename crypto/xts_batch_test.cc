// The batched XTS path against OpenSSL's own EVP_aes_*_xts and the IEEE
// 1619 vectors with 32-byte data units.
#include "crypto/xts_batch.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>


#include "crypto/test_util.h"

namespace luksfs::crypto {
namespace {

using testing::ExpectXtsMatchesEvp;
using testing::Hex;
using testing::Random;
using testing::ToHex;

TEST(XtsBatchTest, Ieee1619Vectors2And3) {
  struct V {
    const char* key;
    const char* ctx;
  } vectors[] = {
      {"11111111111111111111111111111111"
       "22222222222222222222222222222222",
       "c454185e6a16936e39334038acef838bfb186fff7480adc4289382ecd6d394f0"},
      {"fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0"
       "22222222222222222222222222222222",
       "af85336b597afc1a900b2eb21ec949d292df4c047e0b21532186a5971a227a89"},
  };
  for (const V& v : vectors) {
    auto b = XtsBatch::Create(Hex(v.key), 32);
    ASSERT_TRUE(b.ok());
    std::vector<uint8_t> iv(16, 0), data(32, 0x44), out(32);
    for (int i = 0; i < 5; ++i) iv[i] = 0x33;  // data unit 0x3333333333
    ASSERT_TRUE((*b)->Run(true, iv, data, out).ok());
    EXPECT_EQ(ToHex(out), v.ctx);
    ASSERT_TRUE((*b)->Run(false, iv, out, out).ok());
    EXPECT_EQ(out, data);
  }
}

struct Case {
  size_t key_bytes;
  uint32_t unit;
  size_t units;
};

class XtsBatchVsEvp : public ::testing::TestWithParam<Case> {};

TEST_P(XtsBatchVsEvp, EncryptAndDecryptMatchEvpPerUnit) {
  const Case c = GetParam();
  const auto key = Random(c.key_bytes);
  auto b = XtsBatch::Create(key, c.unit);
  ASSERT_TRUE(b.ok());
  ExpectXtsMatchesEvp(key, c.unit, c.units, [&](bool e, auto iv, auto in, auto out) {
    return (*b)->Run(e, iv, in, out);
  });
}

INSTANTIATE_TEST_SUITE_P(
    Sizes, XtsBatchVsEvp,
    ::testing::Values(Case{32, 512, 1}, Case{64, 512, 200}, Case{32, 4096, 3},
                      Case{64, 4096, 20}, Case{64, 1024, 65},
                      Case{64, 2048, 17}, Case{64, 32768, 2},
                      Case{64, 65536, 2}));

TEST(XtsBatchTest, RejectsBadSizes) {
  EXPECT_FALSE(XtsBatch::Create(Random(48), 512).ok());
  EXPECT_FALSE(XtsBatch::Create(Random(64), 500).ok());
  auto b = XtsBatch::Create(Random(64), 512);
  ASSERT_TRUE(b.ok());
  std::vector<uint8_t> iv(16), data(1024);
  EXPECT_EQ((*b)->Run(true, iv, data, data).code(),
            Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace luksfs::crypto
