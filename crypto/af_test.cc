#include "crypto/af.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace luksfs::crypto {
namespace {

// An independent, literal transcription of cryptsetup's diffuse() for the
// test: H(be32(i) || block) per digest-sized block, the last one truncated.
std::vector<uint8_t> ReferenceDiffuse(const std::vector<uint8_t>& in,
                                      const EVP_MD* md) {
  const size_t ds = EVP_MD_get_size(md);
  std::vector<uint8_t> out;
  for (size_t i = 0; i * ds < in.size(); ++i) {
    const size_t n = std::min(ds, in.size() - i * ds);
    std::vector<uint8_t> msg = {uint8_t(i >> 24), uint8_t(i >> 16),
                                uint8_t(i >> 8), uint8_t(i)};
    msg.insert(msg.end(), in.begin() + i * ds, in.begin() + i * ds + n);
    uint8_t h[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    EVP_Digest(msg.data(), msg.size(), h, &hl, md, nullptr);
    out.insert(out.end(), h, h + n);
  }
  return out;
}

std::vector<uint8_t> ReferenceMerge(const std::vector<uint8_t>& material,
                                    size_t b, uint32_t stripes,
                                    const EVP_MD* md) {
  std::vector<uint8_t> d(b, 0);
  for (uint32_t s = 0; s + 1 < stripes; ++s) {
    for (size_t i = 0; i < b; ++i) d[i] ^= material[s * b + i];
    d = ReferenceDiffuse(d, md);
  }
  for (size_t i = 0; i < b; ++i) d[i] ^= material[(stripes - 1) * b + i];
  return d;
}

struct Case {
  const char* hash;
  size_t key_bytes;
};

class AfTest : public ::testing::TestWithParam<Case> {};

TEST_P(AfTest, MergeMatchesReferenceAndInvertsSplit) {
  const Case c = GetParam();
  const uint32_t stripes = 4000;
  std::vector<uint8_t> key(c.key_bytes);
  RAND_bytes(key.data(), static_cast<int>(key.size()));
  std::vector<uint8_t> material(AfSplitSize(c.key_bytes, stripes));
  ASSERT_TRUE(AfSplit(key, stripes, c.hash, material).ok());
  std::vector<uint8_t> merged(c.key_bytes);
  ASSERT_TRUE(AfMerge(material, stripes, c.hash, merged).ok());
  EXPECT_EQ(merged, key);
  EXPECT_EQ(merged, ReferenceMerge(material, c.key_bytes, stripes,
                                   EVP_get_digestbyname(c.hash)));
  material[c.key_bytes * 17] ^= 1;  // one flipped bit destroys the key
  ASSERT_TRUE(AfMerge(material, stripes, c.hash, merged).ok());
  EXPECT_NE(merged, key);
}

INSTANTIATE_TEST_SUITE_P(Hashes, AfTest,
                         ::testing::Values(Case{"sha1", 32}, Case{"sha256", 64},
                                           Case{"sha512", 64},
                                           Case{"sha256", 24},
                                           Case{"sha1", 16}));

TEST(AfSizeTest, MatchesCryptsetupLayout) {
  EXPECT_EQ(AfSplitSize(64, 4000), 256000u);   // 500 sectors
  EXPECT_EQ(AfSplitSize(32, 4000), 128000u);   // 250 sectors
  EXPECT_EQ(AfSplitSize(24, 4000), 96256u);    // 188 sectors (rounded up)
}

TEST(AfErrorsTest, RejectsShortMaterialAndUnknownHash) {
  std::vector<uint8_t> key(32), material(100);
  EXPECT_EQ(AfMerge(material, 4000, "sha256", key).code(),
            Status::Code::kInvalidArgument);
  std::vector<uint8_t> big(AfSplitSize(32, 4000));
  EXPECT_EQ(AfMerge(big, 4000, "nohash", key).code(),
            Status::Code::kNotSupported);
}

}  // namespace
}  // namespace luksfs::crypto
