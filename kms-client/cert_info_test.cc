// Certificate fingerprints: the forms operators paste (vCenter's SHA-1
// thumbprint, openssl's "SHA1 Fingerprint=" line, SHA-256 with or without
// colons) and the pin check against a certificate made here.
#include "kms-client/cert_info.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "kms-client/tls_connection.h"

namespace luksfs::kms {
namespace {

// A self-signed certificate, freed by the caller.
X509* MakeCert() {
  EVP_PKEY* key = EVP_RSA_gen(1024);
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("kms1"),
                             -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, key, EVP_sha256());
  EVP_PKEY_free(key);
  return x;
}

TEST(FingerprintTest, AcceptsTheFormsOperatorsPaste) {
  const std::string sha1 = "7B:D9:46:BE:0C:1E:B0:27:CE:33:B5:2E:22:0F:00:84:F9:18:C6:61";
  for (const std::string& text :
       {sha1, std::string("7bd946be0c1eb027ce33b52e220f0084f918c661"),
        "SHA1 Fingerprint=" + sha1, "sha1 fingerprint=" + sha1 + "\n",
        "  SHA1 Fingerprint=" + sha1 + "  "}) {
    Result<std::vector<uint8_t>> f = ParseFingerprint(text);
    ASSERT_TRUE(f.ok()) << text << ": " << f.status().ToString();
    EXPECT_EQ(FingerprintLine(*f), "SHA1 Fingerprint=" + sha1);
  }
  const std::string sha256(64, 'a');
  Result<std::vector<uint8_t>> f = ParseFingerprint("sha256 Fingerprint=" + sha256);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size(), 32u);
  EXPECT_TRUE(ParseFingerprint(sha256).ok());
  // Wrong lengths, names, and a name that does not fit the length.
  EXPECT_FALSE(ParseFingerprint(sha1.substr(3)).ok());
  EXPECT_FALSE(ParseFingerprint(std::string(48, 'a')).ok());
  EXPECT_FALSE(ParseFingerprint("MD5 Fingerprint=" + std::string(32, 'a')).ok());
  EXPECT_FALSE(ParseFingerprint("SHA1 Fingerprint=" + sha256).ok());
  EXPECT_FALSE(ParseFingerprint("sha256 Fingerprint=" + sha1).ok());
  EXPECT_FALSE(ParseFingerprint("SHA1 Thumbprint=" + sha1).ok());
  EXPECT_FALSE(ParseFingerprint("").ok());
  Result<std::vector<std::vector<uint8_t>>> list =
      ParseFingerprints(sha1 + ",sha256 Fingerprint=" + sha256);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 2u);
  EXPECT_FALSE(ParseFingerprints(sha1 + ",").ok());
}

TEST(FingerprintTest, PinsMatchTheCertificateByEitherDigest) {
  X509* x = MakeCert();
  Result<CertInfo> info = DescribeCertificate(x);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->subject, "CN=kms1");
  EXPECT_EQ(info->issuer, "CN=kms1");
  EXPECT_EQ(info->sha1.size(), 20u);
  EXPECT_EQ(info->sha256.size(), 32u);
  EXPECT_EQ(info->not_before.size(), 20u) << info->not_before;
  for (const auto& pin : {info->sha1, info->sha256}) {
    // Round trip through the text form a mismatch message shows.
    Result<std::vector<uint8_t>> parsed = ParseFingerprint(FingerprintLine(pin));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, pin);
    Result<bool> m = PinMatches(x, pin);
    ASSERT_TRUE(m.ok());
    EXPECT_TRUE(*m);
    std::vector<uint8_t> other = pin;
    other[5] ^= 1;
    m = PinMatches(x, other);
    ASSERT_TRUE(m.ok());
    EXPECT_FALSE(*m);
    Result<bool> any = PinsMatch(x, {other, pin});
    ASSERT_TRUE(any.ok());
    EXPECT_TRUE(*any);
  }
  EXPECT_FALSE(PinMatches(x, std::vector<uint8_t>(16)).ok());
  const std::string presented = PresentedFingerprints(x);
  EXPECT_EQ(presented, FingerprintLine(info->sha1) + ", " +
                           FingerprintLine(info->sha256));
  X509_free(x);
}

}  // namespace
}  // namespace luksfs::kms
