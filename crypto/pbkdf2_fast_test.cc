// PBKDF2 fast path: every kernel against the published vectors (RFC 6070
// for SHA-1; the widely published SHA-256/SHA-512 ones) and against
// OpenSSL's PKCS5_PBKDF2_HMAC on random inputs.
#include "crypto/pbkdf2_fast.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <random>
#include <string>
#include <vector>

#include "crypto/hash.h"
#include "crypto/sha_kernels.h"
#include "crypto/test_util.h"

namespace luksfs::crypto {
namespace {

using testing::Bytes;
using testing::ToHex;

std::vector<Pbkdf2Kernel> KernelsFor(const std::string& hash) {
  std::vector<Pbkdf2Kernel> k = {Pbkdf2Kernel::kOpenssl,
                                 Pbkdf2Kernel::kPortable,
                                 Pbkdf2Kernel::kOpensslBlock};
  if (hash != "sha512" && sha::CpuHasShaNi()) {
    k.push_back(Pbkdf2Kernel::kShaNi);
  }
  return k;
}

std::string Hex(Pbkdf2Kernel k, const std::string& hash, const std::string& pw,
                const std::string& salt, uint32_t iter, size_t n) {
  std::vector<uint8_t> out(n);
  Status s = Pbkdf2With(k, hash, Bytes(pw), Bytes(salt), iter, out);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ToHex(out);
}

struct Vector {
  const char* hash;
  const char* pw;
  size_t pw_len;  // for the vector with an embedded NUL
  const char* salt;
  size_t salt_len;
  uint32_t iter;
  const char* hex;
};

const Vector kVectors[] = {
    // RFC 6070.
    {"sha1", "password", 8, "salt", 4, 1,
     "0c60c80f961f0e71f3a9b524af6012062fe037a6"},
    {"sha1", "password", 8, "salt", 4, 2,
     "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"},
    {"sha1", "password", 8, "salt", 4, 4096,
     "4b007901b765489abead49d926f721d065a429c1"},
    {"sha1", "passwordPASSWORDpassword", 24,
     "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096,
     "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"},
    {"sha1", "pass\0word", 9, "sa\0lt", 5, 4096,
     "56fa6aa75548099dcc37d7f03425e0c3"},
    // SHA-256.
    {"sha256", "password", 8, "salt", 4, 1,
     "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"},
    {"sha256", "password", 8, "salt", 4, 2,
     "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"},
    {"sha256", "password", 8, "salt", 4, 4096,
     "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
    {"sha256", "passwordPASSWORDpassword", 24,
     "saltSALTsaltSALTsaltSALTsaltSALTsalt", 36, 4096,
     "348c89dbcbd32b2f32d814b8116e84cf2b17347ebc1800181c4e2a1fb8dd53e1c635518c"
     "7dac47e9"},
    // SHA-512.
    {"sha512", "password", 8, "salt", 4, 1,
     "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252"
     "c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce"},
    {"sha512", "password", 8, "salt", 4, 2,
     "e1d9c16aa681708a45f5c7c4e215ceb66e011a2e9f0040713f18aefdb866d53c"
     "f76cab2868a39b9f7840edce4fef5a82be67335c77a6068e04112754f27ccf4e"},
    {"sha512", "password", 8, "salt", 4, 4096,
     "d197b1b33db0143e018b12f3d1d1479e6cdebdcc97c5c0f87f6902e072f457b5"
     "143f30602641b3d55cd335988cb36b84376060ecd532e039b742a239434af2d5"},
};

TEST(Pbkdf2FastTest, PublishedVectorsEveryKernel) {
  for (const Vector& v : kVectors) {
    const std::string pw(v.pw, v.pw_len), salt(v.salt, v.salt_len);
    const size_t n = std::string(v.hex).size() / 2;
    for (Pbkdf2Kernel k : KernelsFor(v.hash)) {
      EXPECT_EQ(Hex(k, v.hash, pw, salt, v.iter, n), v.hex)
          << v.hash << " iter " << v.iter << " kernel "
          << Pbkdf2KernelName(k);
    }
  }
}

TEST(Pbkdf2FastTest, RandomInputsMatchOpenssl) {
  std::mt19937_64 rng(20261201);
  int cases = 0;
  for (const std::string hash : {"sha1", "sha256", "sha512"}) {
    const EVP_MD* md = LookupHash(hash).value();
    for (int i = 0; i < 1000; ++i) {
      // Passwords up to 300 bytes: beyond both block sizes (64, 128), so
      // the "hash a long key first" rule is covered.
      std::vector<uint8_t> pw(rng() % 301), salt(rng() % 80);
      for (auto& b : pw) b = static_cast<uint8_t>(rng());
      for (auto& b : salt) b = static_cast<uint8_t>(rng());
      const uint32_t iter =
          i % 10 == 0 ? 1 + rng() % 2000 : 1 + static_cast<uint32_t>(rng() % 40);
      const size_t n = 1 + rng() % 200;
      std::vector<uint8_t> want(n);
      pw.reserve(1);
      ASSERT_EQ(PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(pw.data()),
                                  static_cast<int>(pw.size()), salt.data(),
                                  static_cast<int>(salt.size()),
                                  static_cast<int>(iter), md,
                                  static_cast<int>(n), want.data()),
                1);
      for (Pbkdf2Kernel k : KernelsFor(hash)) {
        std::vector<uint8_t> got(n);
        ASSERT_TRUE(Pbkdf2With(k, hash, pw, salt, iter, got).ok());
        ASSERT_EQ(ToHex(got), ToHex(want))
            << hash << " kernel " << Pbkdf2KernelName(k) << " pw "
            << pw.size() << " salt " << salt.size() << " iter " << iter
            << " out " << n;
        ++cases;
      }
    }
  }
  EXPECT_GT(cases, 10000);
}

TEST(Pbkdf2FastTest, OtherHashesGoToOpenssl) {
  for (const char* h : {"sha224", "sha384", "sha3-256", "ripemd160"}) {
    EXPECT_EQ(Pbkdf2KernelFor(h), Pbkdf2Kernel::kOpenssl) << h;
    std::vector<uint8_t> out(20);
    EXPECT_EQ(Pbkdf2With(Pbkdf2Kernel::kPortable, h, Bytes("p"), Bytes("s"),
                         3, out)
                  .code(),
              Status::Code::kNotSupported)
        << h;
  }
  EXPECT_NE(Pbkdf2KernelFor("sha256"), Pbkdf2Kernel::kOpenssl);
  EXPECT_NE(Pbkdf2KernelFor("sha512"), Pbkdf2Kernel::kOpenssl);
}

TEST(Pbkdf2FastTest, ShaNiRefusesSha512) {
  std::vector<uint8_t> out(64);
  EXPECT_EQ(Pbkdf2With(Pbkdf2Kernel::kShaNi, "sha512", Bytes("p"),
                       Bytes("s"), 3, out)
                .code(),
            Status::Code::kNotSupported);
}

TEST(Pbkdf2FastTest, EmptyPasswordAndSaltMatchOpenssl) {
  for (const std::string hash : {"sha1", "sha256", "sha512"}) {
    const std::string want = Hex(Pbkdf2Kernel::kOpenssl, hash, "", "", 7, 77);
    for (Pbkdf2Kernel k : KernelsFor(hash)) {
      EXPECT_EQ(Hex(k, hash, "", "", 7, 77), want) << hash;
    }
  }
}

}  // namespace
}  // namespace luksfs::crypto
