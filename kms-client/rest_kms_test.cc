// Tests of the REST KMS drivers (Key Protect, Vault transit) against the
// local stand-in server tests/kms/rest_kms_server.py, started once for the
// suite (plain HTTP, plus an HTTPS listener with a self-signed certificate
// for the TLS trust tests).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kms-client/key_protect.h"
#include "kms-client/kms.h"
#include "kms-client/vault_transit.h"

namespace luksfs::kms {
namespace {

using Code = Status::Code;

constexpr char kKpToken[] = "kp-test-token";
constexpr char kKpInstance[] = "kp-test-instance";
constexpr char kVaultToken[] = "vault-test-token";
constexpr char kVaultLimited[] = "vault-encrypt-decrypt-only";

std::string ReadText(const std::string& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void WriteText(const std::string& p, const std::string& s) {
  std::ofstream f(p, std::ios::trunc);
  f << s;
}

std::vector<uint8_t> Bytes(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

// The stand-in server script: $LUKSFS_SOURCE_DIR, the build tree's parent
// (build/tests/kms_test -> ../../), or the working directory.
std::string ServerScript() {
  std::vector<std::string> roots;
  if (const char* d = std::getenv("LUKSFS_SOURCE_DIR")) roots.push_back(d);
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    std::string e(exe, size_t(n));
    roots.push_back(e.substr(0, e.rfind('/')) + "/../..");
  }
  roots.push_back(".");
  for (const std::string& r : roots) {
    std::string p = r + "/tests/kms/rest_kms_server.py";
    if (access(p.c_str(), R_OK) == 0) return p;
  }
  return "";
}

// A port with nothing listening (bound, then closed).
int UnusedPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

class RestKmsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/luksfs-rest-kms-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string script = ServerScript();
    if (script.empty()) {
      setup_error_ = "tests/kms/rest_kms_server.py not found";
      return;
    }
    std::vector<std::string> args = {
        "/usr/bin/python3", script, "--port-file", dir_ + "/port",
        "--tls-port-file", dir_ + "/tls-port", "--tls-dir", dir_ + "/tls",
        "--kp-token", kKpToken, "--kp-instance", kKpInstance,
        "--vault-token", kVaultToken, "--vault-limited-token", kVaultLimited};
    for (const char* id : {"kp-roundtrip", "kp-disable", "kp-delete",
                           "kp-auth", "kp-tls", "kp-corrupt"}) {
      args.push_back("--seed");
      args.push_back(std::string("kp:") + id);
    }
    for (const char* n : {"v-roundtrip", "v-revoke", "v-delete", "v-auth",
                          "v-corrupt", "v-limited"}) {
      args.push_back("--seed");
      args.push_back(std::string("vault:transit/") + n);
    }
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      std::string port = ReadText(dir_ + "/port");
      if (!port.empty()) {
        base_ = "127.0.0.1:" + port;
        tls_base_ = "127.0.0.1:" + ReadText(dir_ + "/tls-port");
        return;
      }
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        setup_error_ = "rest_kms_server.py exited early (python3-cryptography "
                       "missing?)";
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    setup_error_ = "rest_kms_server.py did not write its port file";
  }

  static void TearDownTestSuite() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  void SetUp() override {
    ASSERT_TRUE(setup_error_.empty()) << setup_error_;
    unsetenv("LUKSFS_KP_TOKEN");
    unsetenv("VAULT_TOKEN");
  }

  static KmsOptions KpOptions() {
    KmsOptions o;
    o.instance_id = kKpInstance;
    o.token_file = dir_ + "/kp-token";
    WriteText(o.token_file, std::string(kKpToken) + "\n");
    o.timeout_ms = 5000;
    return o;
  }

  static KmsOptions VaultOptions() {
    KmsOptions o;
    setenv("LUKSFS_TEST_VAULT_TOKEN", kVaultToken, 1);
    o.token_env = "LUKSFS_TEST_VAULT_TOKEN";
    o.timeout_ms = 5000;
    return o;
  }

  static std::unique_ptr<KmsClient> Open(const std::string& uri,
                                         const KmsOptions& o) {
    auto c = OpenKms(uri, o);
    EXPECT_TRUE(c.ok()) << uri << ": " << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  static std::string Kp(const std::string& id) {
    return "kp+http://" + base_ + "/" + id;
  }
  static std::string Vault(const std::string& name) {
    return "vault+http://" + base_ + "/transit/" + name;
  }

  static inline std::string dir_;
  static inline std::string base_;
  static inline std::string tls_base_;
  static inline std::string setup_error_;
  static inline pid_t pid_ = -1;
};

// --- Key Protect ------------------------------------------------------------

TEST_F(RestKmsTest, KeyProtectRoundTrip) {
  auto c = Open(Kp("kp-roundtrip"), KpOptions());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->key_id(), "kp-roundtrip");
  std::vector<uint8_t> secret(64, 0xA5);
  auto blob = c->Wrap(secret);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  for (uint8_t b : *blob) ASSERT_TRUE(b > 0x20 && b < 0x7f);  // Base64 text
  auto back = c->Unwrap(*blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->Equals(secret));
  auto st = c->State();
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(*st, KeyState::kActive);
  // The token from the environment works the same.
  setenv("LUKSFS_KP_TOKEN", kKpToken, 1);
  KmsOptions env = KpOptions();
  env.token_file.clear();
  auto c2 = Open(Kp("kp-roundtrip"), env);
  ASSERT_NE(c2, nullptr);
  EXPECT_TRUE(c2->Unwrap(*blob).ok());
}

TEST_F(RestKmsTest, KeyProtectBadTokenAndInstance) {
  KmsOptions o = KpOptions();
  WriteText(o.token_file, "not-the-token");
  auto c = Open(Kp("kp-auth"), o);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Wrap(Bytes("x")).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(c->State().status().code(), Code::kPermissionDenied);
  // The token file is re-read after a 401: renewing it recovers the client.
  WriteText(o.token_file, kKpToken);
  EXPECT_TRUE(c->Wrap(Bytes("x")).ok());

  KmsOptions wrong_instance = KpOptions();
  wrong_instance.instance_id = "other-instance";
  auto c2 = Open(Kp("kp-auth"), wrong_instance);
  ASSERT_NE(c2, nullptr);
  EXPECT_EQ(c2->State().status().code(), Code::kPermissionDenied);

  KmsOptions no_instance = KpOptions();
  no_instance.instance_id.clear();
  EXPECT_EQ(OpenKms(Kp("kp-auth"), no_instance).status().code(),
            Code::kInvalidArgument);
  KmsOptions no_token = KpOptions();
  no_token.token_file.clear();
  EXPECT_EQ(OpenKms(Kp("kp-auth"), no_token).status().code(),
            Code::kInvalidArgument);
}

TEST_F(RestKmsTest, KeyProtectDisabledKeyIsRevoked) {
  auto c = Open(Kp("kp-disable"), KpOptions());
  ASSERT_NE(c, nullptr);
  auto blob = c->Wrap(Bytes("passphrase"));
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(c->Revoke("shred").ok());
  auto un = c->Unwrap(*blob);
  EXPECT_EQ(un.status().code(), Code::kKeyRevoked) << un.status().ToString();
  EXPECT_EQ(c->Wrap(Bytes("x")).status().code(), Code::kKeyRevoked);
  auto st = c->State();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, KeyState::kSuspended);
  EXPECT_TRUE(c->Revoke("again").ok());
}

TEST_F(RestKmsTest, KeyProtectDeletedKeyIsRevoked) {
  auto c = Open(Kp("kp-delete"), KpOptions());
  ASSERT_NE(c, nullptr);
  auto blob = c->Wrap(Bytes("passphrase"));
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(c->Destroy().ok());
  auto un = c->Unwrap(*blob);
  EXPECT_EQ(un.status().code(), Code::kKeyRevoked) << un.status().ToString();
  EXPECT_NE(un.status().message().find("410"), std::string::npos);
  auto st = c->State();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, KeyState::kDestroyed);
  EXPECT_TRUE(c->Destroy().ok());  // already gone
}

TEST_F(RestKmsTest, KeyProtectUnknownKeyAndBadBlobs) {
  auto c = Open(Kp("no-such-key"), KpOptions());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Wrap(Bytes("x")).status().code(), Code::kNotFound);
  EXPECT_EQ(c->State().status().code(), Code::kNotFound);
  auto k = Open(Kp("kp-corrupt"), KpOptions());
  ASSERT_NE(k, nullptr);
  auto blob = k->Wrap(Bytes("passphrase"));
  ASSERT_TRUE(blob.ok());
  std::vector<uint8_t> bad = *blob;
  bad[10] = bad[10] == 'A' ? 'B' : 'A';
  EXPECT_EQ(k->Unwrap(bad).status().code(), Code::kCorruption);
  EXPECT_EQ(k->Unwrap(Bytes("not base64!")).status().code(),
            Code::kCorruption);
}

// --- Vault transit ------------------------------------------------------------

TEST_F(RestKmsTest, VaultRoundTrip) {
  auto c = Open(Vault("v-roundtrip"), VaultOptions());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->key_id(), "v-roundtrip");
  std::vector<uint8_t> secret(48, 0x5A);
  auto blob = c->Wrap(secret);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(std::string(blob->begin(), blob->begin() + 9), "vault:v1:");
  auto back = c->Unwrap(*blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->Equals(secret));
  auto st = c->State();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, KeyState::kActive);
  setenv("VAULT_TOKEN", kVaultToken, 1);
  KmsOptions def;
  auto c2 = Open(Vault("v-roundtrip"), def);  // default $VAULT_TOKEN
  ASSERT_NE(c2, nullptr);
  EXPECT_TRUE(c2->Unwrap(*blob).ok());
}

TEST_F(RestKmsTest, VaultBadToken) {
  setenv("LUKSFS_TEST_BAD_TOKEN", "wrong", 1);
  KmsOptions o;
  o.token_env = "LUKSFS_TEST_BAD_TOKEN";
  auto c = Open(Vault("v-auth"), o);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Wrap(Bytes("x")).status().code(), Code::kPermissionDenied);
  EXPECT_EQ(c->Unwrap(Bytes("vault:v1:AAAA")).status().code(),
            Code::kPermissionDenied);
  EXPECT_EQ(c->State().status().code(), Code::kPermissionDenied);
  KmsOptions none;
  none.token_env = "LUKSFS_TEST_UNSET_TOKEN";
  EXPECT_EQ(OpenKms(Vault("v-auth"), none).status().code(),
            Code::kInvalidArgument);
}

TEST_F(RestKmsTest, VaultRevokeRetiresOldCiphertexts) {
  auto c = Open(Vault("v-revoke"), VaultOptions());
  ASSERT_NE(c, nullptr);
  auto blob = c->Wrap(Bytes("passphrase"));
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(c->Revoke("shred").ok());
  auto un = c->Unwrap(*blob);
  EXPECT_EQ(un.status().code(), Code::kKeyRevoked) << un.status().ToString();
  auto st = c->State();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, KeyState::kDeactivated);
  // A second client that sees the old blob reports the revocation too.
  auto watcher = Open(Vault("v-revoke"), VaultOptions());
  EXPECT_EQ(watcher->Unwrap(*blob).status().code(), Code::kKeyRevoked);
  EXPECT_EQ(*watcher->State(), KeyState::kDeactivated);
  // The key itself still wraps new secrets (with the new version).
  auto fresh = c->Wrap(Bytes("new"));
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ(std::string(fresh->begin(), fresh->begin() + 9), "vault:v2:");
  EXPECT_TRUE(c->Unwrap(*fresh).ok());
}

TEST_F(RestKmsTest, VaultDeletedKeyIsRevoked) {
  auto c = Open(Vault("v-delete"), VaultOptions());
  ASSERT_NE(c, nullptr);
  auto blob = c->Wrap(Bytes("passphrase"));
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(c->Destroy().ok());
  auto un = c->Unwrap(*blob);
  EXPECT_EQ(un.status().code(), Code::kKeyRevoked) << un.status().ToString();
  auto st = c->State();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, KeyState::kDestroyed);
  EXPECT_TRUE(c->Destroy().ok());
  // Wrap must not silently re-create the deleted key.
  EXPECT_EQ(c->Wrap(Bytes("x")).status().code(), Code::kNotFound);
  EXPECT_EQ(*c->State(), KeyState::kDestroyed);
}

TEST_F(RestKmsTest, VaultUnknownKeyAndBadBlobs) {
  auto c = Open(Vault("v-never-created"), VaultOptions());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Wrap(Bytes("x")).status().code(), Code::kNotFound);
  auto k = Open(Vault("v-corrupt"), VaultOptions());
  auto blob = k->Wrap(Bytes("passphrase"));
  ASSERT_TRUE(blob.ok());
  std::vector<uint8_t> bad = *blob;
  bad[15] = bad[15] == 'A' ? 'B' : 'A';
  EXPECT_EQ(k->Unwrap(bad).status().code(), Code::kCorruption);
  EXPECT_EQ(k->Unwrap(Bytes("vault:x:AAAA")).status().code(),
            Code::kCorruption);
  EXPECT_EQ(k->Unwrap(Bytes("LKSW....")).status().code(), Code::kCorruption);
}

TEST_F(RestKmsTest, VaultTokenLimitedToEncryptDecrypt) {
  setenv("LUKSFS_TEST_LIMITED_TOKEN", kVaultLimited, 1);
  KmsOptions lim;
  lim.token_env = "LUKSFS_TEST_LIMITED_TOKEN";
  auto c = Open(Vault("v-limited"), lim);
  ASSERT_NE(c, nullptr);
  auto blob = c->Wrap(Bytes("passphrase"));
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_TRUE(c->Unwrap(*blob).ok());
  EXPECT_EQ(c->State().status().code(), Code::kPermissionDenied);
  auto missing = Open(Vault("v-limited-missing"), lim);
  EXPECT_EQ(missing->Wrap(Bytes("x")).status().code(),
            Code::kPermissionDenied);  // no upsert
  auto admin = Open(Vault("v-limited"), VaultOptions());
  ASSERT_TRUE(admin->Revoke("shred").ok());
  auto un = c->Unwrap(*blob);
  EXPECT_EQ(un.status().code(), Code::kKeyRevoked) << un.status().ToString();
  ASSERT_TRUE(admin->Destroy().ok());
  un = c->Unwrap(*blob);
  EXPECT_EQ(un.status().code(), Code::kKeyRevoked) << un.status().ToString();
}

TEST_F(RestKmsTest, VaultCreateRootKey) {
  NewKeyAttributes attrs;
  attrs.name = "v-created";
  auto uri = CreateRootKey("vault+http://" + base_ + "/transit/", VaultOptions(),
                           attrs);
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  EXPECT_EQ(*uri, Vault("v-created"));
  auto c = Open(*uri, VaultOptions());
  auto blob = c->Wrap(Bytes("p"));
  ASSERT_TRUE(blob.ok());
  EXPECT_TRUE(c->Unwrap(*blob).ok());
  EXPECT_EQ(CreateRootKey(*uri, VaultOptions(), attrs).status().code(),
            Code::kInvalidArgument);
}

// --- common -------------------------------------------------------------------

TEST_F(RestKmsTest, ServerDownIsUnavailable) {
  std::string down = "127.0.0.1:" + std::to_string(UnusedPort());
  auto kp = Open("kp+http://" + down + "/k", KpOptions());
  ASSERT_NE(kp, nullptr);
  EXPECT_EQ(kp->Wrap(Bytes("x")).status().code(), Code::kUnavailable);
  EXPECT_EQ(kp->State().status().code(), Code::kUnavailable);
  auto v = Open("vault+http://" + down + "/transit/k", VaultOptions());
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->Unwrap(Bytes("vault:v1:AAAA")).status().code(),
            Code::kUnavailable);
  EXPECT_EQ(v->State().status().code(), Code::kUnavailable);
}

TEST_F(RestKmsTest, TlsTrustCaFileAndPin) {
  std::string uri = "kp+https://" + tls_base_ + "/kp-tls";
  KmsOptions o = KpOptions();
  o.ca_file = dir_ + "/tls/cert.pem";
  auto c = Open(uri, o);
  ASSERT_NE(c, nullptr);
  auto blob = c->Wrap(Bytes("over tls"));
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();

  KmsOptions pinned = KpOptions();
  std::string fp = ReadText(dir_ + "/tls/fingerprint");
  std::string colons;
  for (size_t i = 0; i < fp.size(); i += 2) {
    colons += (i ? ":" : "") + fp.substr(i, 2);
  }
  pinned.fingerprint = colons;
  auto p = Open(uri, pinned);
  ASSERT_NE(p, nullptr);
  auto back = p->Unwrap(*blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->Equals(Bytes("over tls")));

  KmsOptions wrong_pin = KpOptions();
  wrong_pin.fingerprint = std::string(64, 'a');
  auto w = Open(uri, wrong_pin);
  ASSERT_NE(w, nullptr);
  auto st = w->State();
  EXPECT_EQ(st.status().code(), Code::kPermissionDenied)
      << st.status().ToString();
  EXPECT_NE(st.status().message().find("pinned"), std::string::npos);

  KmsOptions untrusted = KpOptions();  // system CAs do not know it
  auto u = Open(uri, untrusted);
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->State().status().code(), Code::kPermissionDenied);

  KmsOptions bad_pin = KpOptions();
  bad_pin.fingerprint = "zz";
  EXPECT_EQ(OpenKms(uri, bad_pin).status().code(), Code::kInvalidArgument);
}

TEST_F(RestKmsTest, MalformedUris) {
  KmsOptions o = KpOptions();
  for (const char* uri :
       {"kp+https://", "kp+https://host", "kp+https://host/", "kp+https://h/a/b",
        "kp+https://user:pw@h/k", "kp+https://h/k?x=1", "kp+ftp://h/k",
        "vault+https://h/onlyname", "vault+https://h//k",
        "vault+https://h/transit/", "vault+https://h/../k"}) {
    EXPECT_EQ(OpenKms(uri, o).status().code(), Code::kInvalidArgument) << uri;
  }
}

}  // namespace
}  // namespace luksfs::kms
