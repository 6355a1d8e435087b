// Sector cipher: IEEE 1619 XTS vectors, the LUKS IV rules (512-byte IV
// units for every sector size, plain vs plain64, ESSIV), checked against
// published vectors and against OpenSSL EVP driven directly by the test.
#include "crypto/sector_cipher.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <cstring>

#include "crypto/test_util.h"

namespace luksfs::crypto {
namespace {

using testing::Hex;
using testing::Random;
using testing::ToHex;

std::vector<uint8_t> Counting(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i);
  return v;
}

// IEEE 1619-2007 Annex B, vector 4: XTS-AES-128, one 512-byte data unit.
TEST(SectorCipherTest, Ieee1619Vector4) {
  const auto key = Hex("27182818284590452353602874713526"
                       "31415926535897932384626433832795");
  const auto want = Hex(
      "27a7479befa1d476489f308cd4cfa6e2a96e4bbe3208ff25287dd3819616e89c"
      "c78cf7f5e543445f8333d8fa7f56000005279fa5d8b5e4ad40e736ddb4d35412"
      "328063fd2aab53e5ea1e0a9f332500a5df9487d07a5c92cc512c8866c7e860ce"
      "93fdf166a24912b422976146ae20ce846bb7dc9ba94a767aaef20c0d61ad0265"
      "5ea92dc4c4e41a8952c651d33174be51a10c421110e6d81588ede82103a252d8"
      "a750e8768defffed9122810aaeb99f9172af82b604dc4b8e51bcb08235a6f434"
      "1332e4ca60482a4ba1a03b3e65008fc5da76b70bf1690db4eae29c5f1badd03c"
      "5ccf2a55d705ddcd86d449511ceb7ec30bf12b1fa35b913f9f747a8afd1b130e"
      "94bff94effd01a91735ca1726acd0b197c4e5b03393697e126826fb6bbde8ecc"
      "1e08298516e2c9ed03ff3c1b7860f6de76d4cecd94c8119855ef5297ca67e9f3"
      "e7ff72b1e99785ca0a7e7720c5b36dc6d72cac9574c8cbbc2f801e23e56fd344"
      "b07f22154beba0f08ce8891e643ed995c94d9a69c9f1b5f499027a78572aeebd"
      "74d20cc39881c213ee770b1010e4bea718846977ae119f7a023ab58cca0ad752"
      "afe656bb3c17256a9f6e9bf19fdd5a38fc82bbe872c5539edb609ef4f79c203e"
      "bb140f2e583cb2ad15b4aa5b655016a8449277dbd477ef2c8d6c017db738b18d"
      "eb4a427d1923ce3ff262735779a418f20a282df920147beabe421ee5319d0568");
  auto c = SectorCipher::Create("aes-xts-plain64", key, 512);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto plain = Counting(512);
  std::vector<uint8_t> out(512);
  ASSERT_TRUE((*c)->Encrypt(0, plain, out).ok());
  EXPECT_EQ(ToHex(out), ToHex(want));
  ASSERT_TRUE((*c)->Decrypt(0, out, out).ok());  // in place
  EXPECT_EQ(out, plain);
}

// IEEE 1619-2007 vector 10: XTS-AES-256, data unit 0xff.
TEST(SectorCipherTest, Ieee1619Vector10Aes256) {
  const auto key = Hex(
      "2718281828459045235360287471352662497757247093699959574966967627"
      "3141592653589793238462643383279502884197169399375105820974944592");
  auto c = SectorCipher::Create("aes-xts-plain64", key, 512);
  ASSERT_TRUE(c.ok());
  auto plain = Counting(512);
  std::vector<uint8_t> out(512);
  ASSERT_TRUE((*c)->Encrypt(0xff, plain, out).ok());
  EXPECT_EQ(ToHex(out.data(), 32),
            "1c3b3a102f770386e4836c99e370cf9bea00803f5e482357a4ae12d414a3e63b");
}

// The reference: one unit with OpenSSL, IV given by the test.
std::vector<uint8_t> EvpUnit(const EVP_CIPHER* cipher,
                             const std::vector<uint8_t>& key,
                             const uint8_t iv[16], const uint8_t* in,
                             size_t n, bool enc) {
  std::vector<uint8_t> out(n);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0;
  EVP_CipherInit_ex2(ctx, cipher, key.data(), iv, enc ? 1 : 0, nullptr);
  EVP_CIPHER_CTX_set_padding(ctx, 0);
  EVP_CipherUpdate(ctx, out.data(), &len, in, static_cast<int>(n));
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

void Le64(uint8_t iv[16], uint64_t v) {
  std::memset(iv, 0, 16);
  for (int i = 0; i < 8; ++i) iv[i] = static_cast<uint8_t>(v >> (8 * i));
}

// LUKS2 with 4096-byte sectors: unit k of a run at IV s uses IV s + 8k.
TEST(SectorCipherTest, LargeSectorsCountIvIn512ByteUnits) {
  const auto key = Random(64);
  const auto plain = Random(3 * 4096);
  auto c = SectorCipher::Create("aes-xts-plain64", key, 4096);
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> out(plain.size());
  ASSERT_TRUE((*c)->Encrypt(40, plain, out).ok());
  for (int k = 0; k < 3; ++k) {
    uint8_t iv[16];
    Le64(iv, 40 + 8 * k);
    auto want = EvpUnit(EVP_aes_256_xts(), key, iv, plain.data() + k * 4096,
                        4096, true);
    EXPECT_EQ(0, std::memcmp(want.data(), out.data() + k * 4096, 4096))
        << "unit " << k;
  }
}

TEST(SectorCipherTest, PlainWrapsAt32BitsPlain64DoesNot) {
  const auto key = Random(32);
  const auto plain = Random(512);
  const uint64_t sector = (uint64_t{1} << 32) + 5;
  std::vector<uint8_t> a(512), b(512), c(512);
  ASSERT_TRUE((*SectorCipher::Create("aes-xts-plain", key, 512))
                  ->Encrypt(sector, plain, a)
                  .ok());
  ASSERT_TRUE((*SectorCipher::Create("aes-xts-plain", key, 512))
                  ->Encrypt(5, plain, b)
                  .ok());
  ASSERT_TRUE((*SectorCipher::Create("aes-xts-plain64", key, 512))
                  ->Encrypt(sector, plain, c)
                  .ok());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

// ESSIV: IV = AES-256-ECB_{sha256(key)}(le64(sector)), as dm-crypt.
TEST(SectorCipherTest, CbcEssivMatchesDmCryptDefinition) {
  const auto key = Random(16);  // AES-128 data cipher, AES-256 ESSIV cipher
  const auto plain = Random(2 * 512);
  auto c = SectorCipher::Create("aes-cbc-essiv:sha256", key, 512);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::vector<uint8_t> out(plain.size());
  ASSERT_TRUE((*c)->Encrypt(77, plain, out).ok());
  uint8_t salt[32];
  SHA256(key.data(), key.size(), salt);
  std::vector<uint8_t> salt_key(salt, salt + 32);
  for (int k = 0; k < 2; ++k) {
    uint8_t in[16], iv[16];
    Le64(in, 77 + k);
    auto e = EvpUnit(EVP_aes_256_ecb(), salt_key, nullptr, in, 16, true);
    std::memcpy(iv, e.data(), 16);
    auto want = EvpUnit(EVP_aes_128_cbc(), key, iv, plain.data() + k * 512,
                        512, true);
    EXPECT_EQ(0, std::memcmp(want.data(), out.data() + k * 512, 512));
  }
  std::vector<uint8_t> back(out.size());
  ASSERT_TRUE((*c)->Decrypt(77, out, back).ok());
  EXPECT_EQ(back, plain);
}

TEST(SectorCipherTest, CbcPlain64MatchesEvp) {
  const auto key = Random(32);
  const auto plain = Random(1024);
  auto c = SectorCipher::Create("aes-cbc-plain64", key, 1024);
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> out(1024);
  ASSERT_TRUE((*c)->Encrypt(9, plain, out).ok());
  uint8_t iv[16];
  Le64(iv, 9);
  EXPECT_EQ(out, EvpUnit(EVP_aes_256_cbc(), key, iv, plain.data(), 1024, true));
}

TEST(SectorCipherTest, RefusesWhatItCannotDo) {
  const auto k64 = Random(64), k24 = Random(24), k32 = Random(32);
  for (const char* spec :
       {"serpent-xts-plain64", "twofish-cbc-essiv:sha256", "aes-ecb",
        "aes-xts-essiv:sha256", "aes-ctr-plain64", "aes-xts-benbi",
        "aes-cbc-essiv:nohash", "aes", "cipher_null-ecb"}) {
    auto c = SectorCipher::Create(spec, k64, 512);
    EXPECT_EQ(c.status().code(), Status::Code::kNotSupported) << spec;
    EXPECT_NE(c.status().message().find(spec), std::string::npos) << spec;
  }
  EXPECT_EQ(SectorCipher::Create("aes-xts-plain64", k24, 512).status().code(),
            Status::Code::kNotSupported);
  EXPECT_EQ(SectorCipher::Create("aes-xts-plain64", k32, 3000).status().code(),
            Status::Code::kInvalidArgument);
  auto c = SectorCipher::Create("aes-xts-plain64", k32, 512);
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> odd(700);
  EXPECT_EQ((*c)->Decrypt(0, odd, odd).code(), Status::Code::kInvalidArgument);
}

// OpenSSL 3 refuses XTS encryption with equal key halves; decryption of
// such (hostile) images still works, and encryption reports it clearly.
TEST(SectorCipherTest, EqualXtsHalvesDecryptOnly) {
  std::vector<uint8_t> key(64, 0x42);
  auto c = SectorCipher::Create("aes-xts-plain64", key, 512);
  ASSERT_TRUE(c.ok());
  std::vector<uint8_t> buf(512, 1);
  EXPECT_TRUE((*c)->Decrypt(0, buf, buf).ok());
  EXPECT_EQ((*c)->Encrypt(0, buf, buf).code(), Status::Code::kNotSupported);
}

TEST(SectorCipherTest, CloneBehavesTheSame) {
  const auto key = Random(64);
  const auto plain = Random(4096);
  auto c = SectorCipher::Create("aes-xts-plain64", key, 512);
  ASSERT_TRUE(c.ok());
  auto d = (*c)->Clone();
  ASSERT_TRUE(d.ok());
  std::vector<uint8_t> a(4096), b(4096);
  ASSERT_TRUE((*c)->Encrypt(123, plain, a).ok());
  ASSERT_TRUE((*d)->Encrypt(123, plain, b).ok());
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace luksfs::crypto
