// The KMIP driver against a real PyKMIP server. Runs only when
// LUKSFS_TEST_KMIP_DIR names a directory made by tests/kms/pykmip-up.sh
// (certs/ and the "endpoint" file); skipped otherwise.
// tests/integration/kmip.sh starts the server and fails on any skip.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "kms-client/kmip_client.h"
#include "kms-client/tls_connection.h"

namespace luksfs::kms {
namespace {

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::string Contents(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

class PyKmipTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* dir = std::getenv("LUKSFS_TEST_KMIP_DIR");
    if (dir == nullptr || *dir == '\0') {
      GTEST_SKIP() << "LUKSFS_TEST_KMIP_DIR not set (tests/integration/"
                      "kmip.sh runs these against PyKMIP)";
    }
    dir_ = dir;
    endpoint_ = Contents(dir_ + "/endpoint");
    ASSERT_FALSE(endpoint_.empty()) << "no " << dir_ << "/endpoint";
    opts_.ca_file = Cert("ca.crt");
    opts_.client_cert_file = Cert("client.crt");
    opts_.client_key_file = Cert("client.key");
    opts_.timeout_ms = 20000;  // PyKMIP on a loaded 2-core VM is slow
  }

  std::string Cert(const char* name) const { return dir_ + "/certs/" + name; }

  // A new active key; returns its URI (with `query` appended).
  std::string NewKey(const std::string& query = "") {
    NewKeyAttributes a;
    std::random_device rd;
    a.name = "luksfs-test-" + std::to_string(rd());
    a.identifier = "image-" + std::to_string(rd());
    Result<std::string> uri =
        CreateKmipKey("kmip://" + endpoint_ + "/" + query, opts_, a);
    EXPECT_TRUE(uri.ok()) << uri.status().ToString();
    return uri.ok() ? *uri : std::string();
  }

  std::unique_ptr<KmsClient> Open(const std::string& uri, const KmsOptions& o) {
    Result<std::unique_ptr<KmsClient>> c = OpenKmipClient(uri, o);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(*c) : nullptr;
  }
  std::unique_ptr<KmsClient> Open(const std::string& uri) {
    return Open(uri, opts_);
  }

  std::string ServerFingerprint() const {
    FILE* f = std::fopen(Cert("server.crt").c_str(), "r");
    if (f == nullptr) return "";
    X509* x = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    X509_digest(x, EVP_sha256(), md, &n);
    X509_free(x);
    return FormatFingerprint({md, n});
  }

  std::string dir_;
  std::string endpoint_;
  KmsOptions opts_;
  const std::vector<uint8_t> secret_ = Bytes("generated LUKS passphrase 0123");
};

// Error messages are part of the interface (the CLI prints them): show them
// in the test log.
void Show(const char* what, const Status& s) {
  std::printf("  [%s] %s\n", what, s.ToString().c_str());
}

#define ASSERT_OK(expr)                               \
  do {                                                \
    auto&& ok_ = (expr);                              \
    ASSERT_TRUE(ok_.ok()) << ok_.status().ToString(); \
  } while (0)

TEST_F(PyKmipTest, CreateActivatesWithCustomAttributes) {
  const std::string uri = NewKey();
  ASSERT_EQ(uri.rfind("kmip://" + endpoint_ + "/", 0), 0u) << uri;
  auto c = Open(uri);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->uri(), uri);
  EXPECT_FALSE(c->key_id().empty());
  Result<KeyState> s = c->State();
  ASSERT_OK(s);
  EXPECT_EQ(*s, KeyState::kActive);
}

TEST_F(PyKmipTest, ServerModeRoundTrip) {
  const std::string uri = NewKey();
  auto c = Open(uri);
  ASSERT_NE(c, nullptr);
  Result<std::vector<uint8_t>> blob = c->Wrap(secret_);
  ASSERT_OK(blob);
  EXPECT_EQ((*blob)[4], 1) << "server mode blob";
  Result<SecureBuffer> pt = c->Unwrap(*blob);
  ASSERT_OK(pt);
  EXPECT_TRUE(pt->Equals(secret_));
  // The same blob unwraps in local mode (same AES-256-GCM, same key).
  auto local = Open(uri + "?mode=local");
  Result<SecureBuffer> pt2 = local->Unwrap(*blob);
  ASSERT_OK(pt2);
  EXPECT_TRUE(pt2->Equals(secret_));
  // A tampered blob does not authenticate on the server.
  std::vector<uint8_t> bad = *blob;
  bad.back() ^= 1;
  EXPECT_EQ(c->Unwrap(bad).status().code(), Status::Code::kCorruption);
}

TEST_F(PyKmipTest, LocalModeRoundTrip) {
  const std::string uri = NewKey("?mode=local");
  ASSERT_NE(uri.find("?mode=local"), std::string::npos) << uri;
  auto c = Open(uri);
  ASSERT_NE(c, nullptr);
  Result<std::vector<uint8_t>> blob = c->Wrap(secret_);
  ASSERT_OK(blob);
  EXPECT_EQ((*blob)[4], 2) << "local mode blob";
  Result<SecureBuffer> pt = c->Unwrap(*blob);
  ASSERT_OK(pt);
  EXPECT_TRUE(pt->Equals(secret_));
  auto server = Open(uri.substr(0, uri.find('?')));
  Result<SecureBuffer> pt2 = server->Unwrap(*blob);
  ASSERT_OK(pt2);
  EXPECT_TRUE(pt2->Equals(secret_));
}

TEST_F(PyKmipTest, RevokedKeyRefusesBothModes) {
  const std::string uri = NewKey();
  auto server = Open(uri);
  auto local = Open(uri + "?mode=local");
  ASSERT_NE(server, nullptr);
  Result<std::vector<uint8_t>> blob = server->Wrap(secret_);
  ASSERT_OK(blob);
  ASSERT_OK(local->Unwrap(*blob));
  ASSERT_TRUE(server->Revoke("no longer needed").ok());
  Result<KeyState> s = server->State();
  ASSERT_OK(s);
  EXPECT_EQ(*s, KeyState::kDeactivated);
  // Server mode: Decrypt is refused with Permission Denied.
  Result<SecureBuffer> r1 = server->Unwrap(*blob);
  EXPECT_EQ(r1.status().code(), Status::Code::kKeyRevoked)
      << r1.status().ToString();
  EXPECT_NE(r1.status().message().find("Deactivated"), std::string::npos);
  Show("revoked, server mode", r1.status());
  // Local mode: PyKMIP would still hand out the key; the State check
  // refuses.
  Result<SecureBuffer> r2 = local->Unwrap(*blob);
  EXPECT_EQ(r2.status().code(), Status::Code::kKeyRevoked)
      << r2.status().ToString();
  EXPECT_NE(r2.status().message().find("Deactivated"), std::string::npos);
  Show("revoked, local mode", r2.status());
  EXPECT_EQ(local->Wrap(secret_).status().code(), Status::Code::kKeyRevoked);
  // Revoking again is fine.
  EXPECT_TRUE(server->Revoke("again").ok());
}

TEST_F(PyKmipTest, CompromisedKey) {
  const std::string uri = NewKey("?mode=local");
  auto c = Open(uri);
  Result<std::vector<uint8_t>> blob = c->Wrap(secret_);
  ASSERT_OK(blob);
  ASSERT_TRUE(c->Revoke("Key Compromise: laptop stolen").ok());
  Result<KeyState> s = c->State();
  ASSERT_OK(s);
  EXPECT_EQ(*s, KeyState::kCompromised);
  EXPECT_EQ(c->Unwrap(*blob).status().code(), Status::Code::kKeyRevoked);
}

TEST_F(PyKmipTest, DestroyedKeyRefuses) {
  const std::string uri = NewKey();
  auto c = Open(uri);
  Result<std::vector<uint8_t>> blob = c->Wrap(secret_);
  ASSERT_OK(blob);
  // Active: Destroy revokes first (PyKMIP refuses to destroy Active keys).
  Status d = c->Destroy();
  ASSERT_TRUE(d.ok()) << d.ToString();
  // This client saw the key: it is destroyed.
  Result<KeyState> s = c->State();
  ASSERT_OK(s);
  EXPECT_EQ(*s, KeyState::kDestroyed);
  Result<SecureBuffer> r = c->Unwrap(*blob);
  EXPECT_EQ(r.status().code(), Status::Code::kKeyRevoked)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("destroyed"), std::string::npos);
  Show("destroyed, same client", r.status());
  EXPECT_TRUE(c->Destroy().ok());  // idempotent for a seen key
  // A fresh client (a new mount) cannot tell destroyed from never existed.
  for (const std::string& u : {uri, uri + "?mode=local"}) {
    auto fresh = Open(u);
    Result<SecureBuffer> f = fresh->Unwrap(*blob);
    EXPECT_EQ(f.status().code(), Status::Code::kNotFound)
        << f.status().ToString();
    EXPECT_NE(f.status().message().find("destroyed, or never existed"),
              std::string::npos)
        << f.status().message();
    Show("destroyed, fresh client", f.status());
  }
}

TEST_F(PyKmipTest, UnknownKeyIsNotFound) {
  auto c = Open("kmip://" + endpoint_ + "/987654321");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->State().status().code(), Status::Code::kNotFound);
  Show("unknown key", c->State().status());
  std::vector<uint8_t> blob(36 + 4, 0);
  const char hdr[8] = {'L', 'K', 'W', '1', 1, 12, 16, 0};
  std::copy(hdr, hdr + 8, blob.begin());
  EXPECT_EQ(c->Unwrap(blob).status().code(), Status::Code::kNotFound);
}

TEST_F(PyKmipTest, WrongCaIsPermissionDenied) {
  const std::string uri = NewKey();
  KmsOptions o = opts_;
  o.ca_file = Cert("rogue-ca.crt");
  auto c = Open(uri, o);
  ASSERT_NE(c, nullptr);
  Result<KeyState> s = c->State();
  EXPECT_EQ(s.status().code(), Status::Code::kPermissionDenied)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find("certificate"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("rogue-ca.crt"), std::string::npos);
  Show("wrong CA", s.status());
}

TEST_F(PyKmipTest, ClientCertFromAnotherCaIsRefused) {
  const std::string uri = NewKey();
  KmsOptions o = opts_;
  o.client_cert_file = Cert("rogue-client.crt");
  o.client_key_file = Cert("rogue-client.key");
  auto c = Open(uri, o);
  ASSERT_NE(c, nullptr);
  Result<KeyState> s = c->State();
  EXPECT_EQ(s.status().code(), Status::Code::kPermissionDenied)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find("client certificate"), std::string::npos)
      << s.status().message();
  Show("rogue client cert", s.status());
}

TEST_F(PyKmipTest, OtherOwnerIsPermissionDeniedNotRevoked) {
  const std::string uri = NewKey();
  auto owner = Open(uri);
  Result<std::vector<uint8_t>> blob = owner->Wrap(secret_);
  ASSERT_OK(blob);
  KmsOptions o = opts_;
  o.client_cert_file = Cert("client2.crt");
  o.client_key_file = Cert("client2.key");
  auto other = Open(uri, o);
  Result<SecureBuffer> r = other->Unwrap(*blob);
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied)
      << r.status().ToString();
  Show("other owner", r.status());
}

TEST_F(PyKmipTest, PinnedFingerprint) {
  const std::string uri = NewKey();
  KmsOptions o = opts_;
  o.ca_file = Cert("rogue-ca.crt");  // ignored when a pin is set
  o.fingerprint = ServerFingerprint();
  ASSERT_FALSE(o.fingerprint.empty());
  auto c = Open(uri, o);
  Result<KeyState> s = c->State();
  ASSERT_OK(s);
  EXPECT_EQ(*s, KeyState::kActive);

  o.fingerprint = std::string(64, '0');
  auto bad = Open(uri, o);
  Result<KeyState> b = bad->State();
  EXPECT_EQ(b.status().code(), Status::Code::kPermissionDenied)
      << b.status().ToString();
  EXPECT_NE(b.status().message().find("fingerprint"), std::string::npos);
  Show("wrong pin", b.status());
}

TEST_F(PyKmipTest, FailoverToTheSecondServer) {
  const std::string uri = NewKey();
  const std::string key = uri.substr(uri.rfind('/') + 1);
  auto c = Open("kmip://127.0.0.1:1," + endpoint_ + "/" + key);
  ASSERT_NE(c, nullptr);
  Result<std::vector<uint8_t>> blob = c->Wrap(secret_);
  ASSERT_OK(blob);
  Result<SecureBuffer> pt = c->Unwrap(*blob);
  ASSERT_OK(pt);
  EXPECT_TRUE(pt->Equals(secret_));
}

TEST_F(PyKmipTest, HostNameCheckedAgainstTheCertificate) {
  const std::string uri = NewKey();
  const std::string port = endpoint_.substr(endpoint_.rfind(':') + 1);
  const std::string key = uri.substr(uri.rfind('/') + 1);
  // "localhost" is in the server certificate's SAN.
  auto ok = Open("kmip://localhost:" + port + "/" + key);
  Result<KeyState> s = ok->State();
  ASSERT_OK(s);
}

TEST_F(PyKmipTest, CredentialIsAccepted) {
  const std::string uri = NewKey();
  const std::string pw = dir_ + "/password";
  {
    std::ofstream out(pw);
    out << "not-checked-by-pykmip\n";
  }
  KmsOptions o = opts_;
  o.username = "luksfs";
  o.password_file = pw;
  auto c = Open(uri, o);
  Result<std::vector<uint8_t>> blob = c->Wrap(secret_);
  ASSERT_OK(blob);
  ASSERT_OK(c->Unwrap(*blob));
}

}  // namespace
}  // namespace luksfs::kms
