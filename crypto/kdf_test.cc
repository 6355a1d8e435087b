// Known-answer tests for PBKDF2 (RFC 6070 and the sha256/sha512 vectors
// every implementation publishes) and Argon2 (the reference
// implementation's vectors, confirmed with the argon2(1) CLI).
#include "crypto/kdf.h"

#include <gtest/gtest.h>

#include "crypto/test_util.h"

namespace luksfs::crypto {
namespace {

using testing::Bytes;
using testing::ToHex;

std::string Pbkdf2Hex(const std::string& hash, const std::string& pw,
                      const std::string& salt, uint32_t iter, size_t n) {
  std::vector<uint8_t> out(n);
  Status s = Pbkdf2(hash, Bytes(pw), Bytes(salt), iter, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ToHex(out);
}

TEST(Pbkdf2Test, Rfc6070Sha1) {
  EXPECT_EQ(Pbkdf2Hex("sha1", "password", "salt", 1, 20),
            "0c60c80f961f0e71f3a9b524af6012062fe037a6");
  EXPECT_EQ(Pbkdf2Hex("sha1", "password", "salt", 4096, 20),
            "4b007901b765489abead49d926f721d065a429c1");
  EXPECT_EQ(Pbkdf2Hex("sha1", "passwordPASSWORDpassword",
                      "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, 25),
            "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038");
}

TEST(Pbkdf2Test, Sha256AndSha512) {
  EXPECT_EQ(Pbkdf2Hex("sha256", "password", "salt", 1, 32),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
  EXPECT_EQ(Pbkdf2Hex("sha256", "password", "salt", 4096, 32),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
  EXPECT_EQ(Pbkdf2Hex("sha512", "password", "salt", 1, 64),
            "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
            "c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce");
}

TEST(Pbkdf2Test, EmptyPasswordWorks) {
  std::vector<uint8_t> out(20);
  EXPECT_TRUE(Pbkdf2("sha256", {}, Bytes("salt"), 2, out).ok());
}

TEST(Pbkdf2Test, RejectsUnknownHashAndZeroIterations) {
  std::vector<uint8_t> out(20);
  EXPECT_EQ(Pbkdf2("md4", Bytes("p"), Bytes("s"), 10, out).code(),
            Status::Code::kNotSupported);
  EXPECT_EQ(Pbkdf2("sha256", Bytes("p"), Bytes("s"), 0, out).code(),
            Status::Code::kInvalidArgument);
}

std::string Argon2Hex(KdfType t, const std::string& salt, uint32_t time,
                      uint32_t mem, uint32_t lanes, uint32_t threads,
                      size_t n) {
  std::vector<uint8_t> out(n);
  Status s = Argon2(t, Bytes("password"), Bytes(salt), time, mem, lanes,
                    threads, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ToHex(out);
}

TEST(Argon2Test, ReferenceVectors) {
  EXPECT_EQ(Argon2Hex(KdfType::kArgon2i, "somesalt", 2, 65536, 1, 1, 32),
            "c1628832147d9720c5bd1cfd61367078729f6dfb6f8fea9ff98158e0d7816ed0");
  EXPECT_EQ(Argon2Hex(KdfType::kArgon2id, "somesalt", 2, 65536, 1, 1, 32),
            "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7");
}

// LUKS2's "cpus" is the lane count: it changes the key. Threads do not.
TEST(Argon2Test, LanesAreKdfInputThreadsAreNot) {
  const std::string want =
      "1a9677b0afe81fda7b548895e7a1bfeb8668ffc19a530e37e088a668fab1c02a";
  EXPECT_EQ(Argon2Hex(KdfType::kArgon2id, "somesalt", 2, 65536, 4, 1, 32), want);
  EXPECT_EQ(Argon2Hex(KdfType::kArgon2id, "somesalt", 2, 65536, 4, 4, 32), want);
  EXPECT_NE(Argon2Hex(KdfType::kArgon2id, "somesalt", 2, 65536, 2, 2, 32), want);
}

// A LUKS2-shaped call: 32-byte salt, 64-byte key, two lanes.
TEST(Argon2Test, Luks2ShapedParameters) {
  EXPECT_EQ(Argon2Hex(KdfType::kArgon2i, "somesaltsomesaltsomesaltsomesalt", 3,
                      4096, 2, 2, 64),
            "e99f98d66f0d6dc732af63e17cba3aa7c7b82be5b135ce47438a609297cd0235"
            "a0c5d35c51c99b2b18ee9900c84fdcc115b62129300a2ba8389691476032ed16");
}

TEST(Argon2Test, RejectsBadParameters) {
  std::vector<uint8_t> out(32);
  EXPECT_FALSE(Argon2(KdfType::kArgon2id, Bytes("p"), Bytes("short"), 1, 64, 1,
                      1, out)
                   .ok());  // salt under 8 bytes
  EXPECT_FALSE(Argon2(KdfType::kPbkdf2, Bytes("p"), Bytes("somesalt"), 1, 64,
                      1, 1, out)
                   .ok());
}

}  // namespace
}  // namespace luksfs::crypto
