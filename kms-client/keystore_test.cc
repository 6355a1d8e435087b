// Tests of the local keystore driver (file:) and the OpenKms/CreateRootKey
// dispatchers. KDF cost is the libsodium minimum throughout.
#include "kms-client/keystore.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace luksfs::kms {
namespace {

using Code = Status::Code;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/luksfs-keystore-test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

SecureBuffer Pass(const std::string& s) {
  return std::move(SecureBuffer::CopyOf(
                       {reinterpret_cast<const uint8_t*>(s.data()), s.size()}))
      .value();
}

std::vector<uint8_t> Bytes(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

std::vector<uint8_t> ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void WriteFile(const std::string& p, const std::vector<uint8_t>& d) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(d.data()), std::streamsize(d.size()));
}

class KeystoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/keys.ks";
    ASSERT_TRUE(
        CreateKeystore(path_, Pass("correct horse"), KeystoreKdfParams::Minimal())
            .ok());
    auto name = AddKeystoreKey(path_, Pass("correct horse"), "root-1");
    ASSERT_TRUE(name.ok()) << name.status().ToString();
  }

  std::unique_ptr<KmsClient> Open(const std::string& name = "root-1") {
    auto c = OpenKeystoreClient(path_, name, Pass("correct horse"));
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  TempDir dir_;
  std::string path_;
};

TEST_F(KeystoreTest, WrapUnwrapRoundTrip) {
  auto c = Open();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->key_id(), "root-1");
  EXPECT_EQ(c->uri(), "file:" + path_ + "#root-1");
  std::vector<uint8_t> secret = Bytes("a generated LUKS passphrase 0123456789");
  auto blob = c->Wrap(secret);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(blob->size(), 29 + secret.size() + 16);
  EXPECT_EQ(std::string(blob->begin(), blob->begin() + 4), "LKSW");
  auto back = c->Unwrap(*blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->Equals(secret));
  auto st = c->State();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, KeyState::kActive);
  // A second instance unwraps it too.
  auto c2 = Open();
  auto back2 = c2->Unwrap(*blob);
  ASSERT_TRUE(back2.ok());
  EXPECT_TRUE(back2->Equals(secret));
}

TEST_F(KeystoreTest, RemovedFileIsUnreachableNotRevoked) {
  auto c = Open();
  ASSERT_NE(c, nullptr);
  auto blob = c->Wrap(Bytes("pass"));
  ASSERT_TRUE(blob.ok());
  const std::string moved = path_ + ".away";
  ASSERT_EQ(std::rename(path_.c_str(), moved.c_str()), 0);
  // Unreachable (the revocation watcher's grace applies), not revoked and
  // not an unknown key.
  EXPECT_EQ(c->State().status().code(), Code::kUnavailable);
  EXPECT_EQ(c->Unwrap(*blob).status().code(), Code::kUnavailable);
  ASSERT_EQ(std::rename(moved.c_str(), path_.c_str()), 0);
  auto st = c->State();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, KeyState::kActive);
}

TEST_F(KeystoreTest, WrapRejectsBadSizes) {
  auto c = Open();
  EXPECT_EQ(c->Wrap({}).status().code(), Code::kInvalidArgument);
  std::vector<uint8_t> big(4097, 1);
  EXPECT_EQ(c->Wrap(big).status().code(), Code::kInvalidArgument);
}

TEST_F(KeystoreTest, RevokeIsSeenByAnotherClient) {
  auto c1 = Open();
  auto c2 = Open();
  auto blob = c1->Wrap(Bytes("secret"));
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(c2->Revoke("test").ok());
  auto un = c1->Unwrap(*blob);
  EXPECT_EQ(un.status().code(), Code::kKeyRevoked) << un.status().ToString();
  EXPECT_EQ(c1->Wrap(Bytes("x")).status().code(), Code::kKeyRevoked);
  auto st = c1->State();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, KeyState::kDeactivated);
  EXPECT_TRUE(c1->Revoke("again").ok());  // idempotent
  auto list = ListKeystoreKeys(path_, Pass("correct horse"));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].state, KeyState::kDeactivated);
  EXPECT_GE((*list)[0].changed, (*list)[0].created);
}

TEST_F(KeystoreTest, DestroyWipesKeyMaterial) {
  auto c = Open();
  auto blob = c->Wrap(Bytes("secret"));
  ASSERT_TRUE(blob.ok());
  ASSERT_TRUE(c->Destroy().ok());
  EXPECT_EQ(c->Unwrap(*blob).status().code(), Code::kKeyRevoked);
  auto st = c->State();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(*st, KeyState::kDestroyed);
  EXPECT_TRUE(c->Destroy().ok());
  EXPECT_TRUE(c->Revoke("after destroy").ok());
  KeystoreFile f(path_, Pass("correct horse"));
  auto keys = f.Load();
  ASSERT_TRUE(keys.ok());
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].state, StoredKeyState::kDestroyed);
  EXPECT_TRUE((*keys)[0].material.empty());
}

TEST_F(KeystoreTest, WrongPassphraseIsPermissionDenied) {
  auto c = OpenKeystoreClient(path_, "root-1", Pass("wrong horse"));
  EXPECT_EQ(c.status().code(), Code::kPermissionDenied)
      << c.status().ToString();
  EXPECT_EQ(ListKeystoreKeys(path_, Pass("wrong")).status().code(),
            Code::kPermissionDenied);
}

TEST_F(KeystoreTest, UnknownKeyAndMissingFile) {
  EXPECT_EQ(OpenKeystoreClient(path_, "nope", Pass("correct horse"))
                .status()
                .code(),
            Code::kNotFound);
  // A missing keystore file is an unreachable KMS, not an unknown key.
  EXPECT_EQ(OpenKeystoreClient(dir_.path() + "/absent", "root-1",
                               Pass("correct horse"))
                .status()
                .code(),
            Code::kUnavailable);
  EXPECT_EQ(AddKeystoreKey(path_, Pass("correct horse"), "root-1")
                .status()
                .code(),
            Code::kInvalidArgument);  // duplicate
  EXPECT_EQ(AddKeystoreKey(path_, Pass("correct horse"), "bad/name")
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(CreateKeystore(path_, Pass("x"), KeystoreKdfParams::Minimal())
                .code(),
            Code::kInvalidArgument);  // exists
}

TEST_F(KeystoreTest, CorruptedFileIsCorruption) {
  std::vector<uint8_t> good = ReadFile(path_);
  ASSERT_GT(good.size(), 100u);
  for (size_t at : {size_t{3}, size_t{20}, size_t{70}, good.size() - 40,
                    good.size() - 1}) {
    std::vector<uint8_t> bad = good;
    bad[at] ^= 0x40;
    WriteFile(path_, bad);
    auto c = OpenKeystoreClient(path_, "root-1", Pass("correct horse"));
    EXPECT_EQ(c.status().code(), Code::kCorruption)
        << "byte " << at << ": " << c.status().ToString();
  }
  std::vector<uint8_t> cut(good.begin(), good.begin() + good.size() / 2);
  WriteFile(path_, cut);
  EXPECT_EQ(ListKeystoreKeys(path_, Pass("correct horse")).status().code(),
            Code::kCorruption);
  WriteFile(path_, {});
  EXPECT_EQ(ListKeystoreKeys(path_, Pass("correct horse")).status().code(),
            Code::kCorruption);
  WriteFile(path_, good);
  EXPECT_TRUE(ListKeystoreKeys(path_, Pass("correct horse")).ok());
}

TEST_F(KeystoreTest, TamperedBlobIsCorruption) {
  ASSERT_TRUE(AddKeystoreKey(path_, Pass("correct horse"), "root-2").ok());
  auto c1 = Open("root-1");
  auto c2 = Open("root-2");
  auto blob = c1->Wrap(Bytes("the passphrase"));
  ASSERT_TRUE(blob.ok());
  for (size_t at : {size_t{10}, size_t{30}, blob->size() - 1}) {
    std::vector<uint8_t> bad = *blob;
    bad[at] ^= 1;
    EXPECT_EQ(c1->Unwrap(bad).status().code(), Code::kCorruption) << at;
  }
  std::vector<uint8_t> bad_magic = *blob;
  bad_magic[0] = 'X';
  EXPECT_EQ(c1->Unwrap(bad_magic).status().code(), Code::kCorruption);
  std::vector<uint8_t> short_blob(blob->begin(), blob->begin() + 40);
  EXPECT_EQ(c1->Unwrap(short_blob).status().code(), Code::kCorruption);
  // Another key (another AAD name, another root key) cannot open it.
  EXPECT_EQ(c2->Unwrap(*blob).status().code(), Code::kCorruption);
  std::vector<uint8_t> v2 = *blob;
  v2[4] = 2;
  EXPECT_EQ(c1->Unwrap(v2).status().code(), Code::kNotSupported);
}

TEST_F(KeystoreTest, ConcurrentWritersDoNotLoseUpdates) {
  constexpr int kProcs = 4, kKeysEach = 6;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      for (int i = 0; i < kKeysEach; ++i) {
        std::string name = "p" + std::to_string(p) + "-k" + std::to_string(i);
        if (!AddKeystoreKey(path_, Pass("correct horse"), name).ok()) rc = 1;
      }
      _exit(rc);
    }
    kids.push_back(pid);
  }
  // Meanwhile, this process revokes root-1 and reads.
  auto c = Open();
  ASSERT_TRUE(c->Revoke("concurrent").ok());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(c->State().ok());
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  auto list = ListKeystoreKeys(path_, Pass("correct horse"));
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  std::set<std::string> names;
  for (const auto& k : *list) names.insert(k.name);
  EXPECT_EQ(names.size(), size_t{1 + kProcs * kKeysEach});
  EXPECT_EQ((*list)[0].name, "root-1");
  EXPECT_EQ((*list)[0].state, KeyState::kDeactivated);
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(KeystoreUriTest, Parse) {
  auto u = ParseKeystoreUri("file:/var/lib/ks#root", true);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->path, "/var/lib/ks");
  EXPECT_EQ(u->key_name, "root");
  u = ParseKeystoreUri("file:///var/lib/ks#root", true);
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->path, "/var/lib/ks");
  EXPECT_FALSE(ParseKeystoreUri("file:/var/lib/ks", true).ok());
  EXPECT_TRUE(ParseKeystoreUri("file:/var/lib/ks", false).ok());
  EXPECT_FALSE(ParseKeystoreUri("file://host/ks#k", true).ok());
  EXPECT_FALSE(ParseKeystoreUri("file:#k", true).ok());
  EXPECT_FALSE(ParseKeystoreUri("file:/ks#a/b", true).ok());
}

TEST(KeystorePassphraseTest, ReadsFileAndStripsNewline) {
  TempDir d;
  std::string p = d.path() + "/pw";
  WriteFile(p, Bytes("s3cret\n"));
  auto pw = ReadPassphraseFile(p);
  ASSERT_TRUE(pw.ok());
  EXPECT_TRUE(pw->Equals(Bytes("s3cret")));
  WriteFile(p, Bytes("two words \r\nsecond line\n"));
  pw = ReadPassphraseFile(p);
  ASSERT_TRUE(pw.ok());
  EXPECT_TRUE(pw->Equals(Bytes("two words \r")));
  WriteFile(p, Bytes("\n"));
  EXPECT_EQ(ReadPassphraseFile(p).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ReadPassphraseFile(d.path() + "/none").status().code(),
            Code::kNotFound);
  EXPECT_EQ(ReadPassphraseFile("").status().code(), Code::kInvalidArgument);
}

TEST(KeystorePassphraseTest, StdinReadsOneLine) {
  int saved = dup(0);
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "from stdin\nnext line", 20), 20);
  close(p[1]);
  dup2(p[0], 0);
  close(p[0]);
  auto pw = ReadPassphraseFile("-");
  char rest[16] = {};
  ssize_t n = read(0, rest, sizeof rest - 1);
  dup2(saved, 0);
  close(saved);
  ASSERT_TRUE(pw.ok()) << pw.status().ToString();
  EXPECT_TRUE(pw->Equals(Bytes("from stdin")));
  EXPECT_EQ(std::string(rest, n > 0 ? size_t(n) : 0), "next line");
}

TEST(KeystoreKdfTest, Environment) {
  setenv("LUKSFS_KEYSTORE_KDF", "interactive", 1);
  auto p = KeystoreKdfParams::FromEnvironment();
  ASSERT_TRUE(p.ok());
  EXPECT_GT(p->memlimit, KeystoreKdfParams::Minimal().memlimit);
  setenv("LUKSFS_KEYSTORE_KDF", "cheap", 1);
  EXPECT_EQ(KeystoreKdfParams::FromEnvironment().status().code(),
            Code::kInvalidArgument);
  unsetenv("LUKSFS_KEYSTORE_KDF");
  p = KeystoreKdfParams::FromEnvironment();
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->memlimit, KeystoreKdfParams::Moderate().memlimit);
}

TEST(KmsDispatchTest, FileSchemeThroughOpenKmsAndCreateRootKey) {
  TempDir d;
  std::string pw = d.path() + "/pw";
  WriteFile(pw, Bytes("dispatch pass\n"));
  setenv("LUKSFS_KEYSTORE_KDF", "min", 1);
  KmsOptions opts;
  opts.keystore_passphrase_file = pw;
  NewKeyAttributes attrs;
  attrs.name = "from-attrs";
  std::string base = "file:" + d.path() + "/ks";
  auto uri = CreateRootKey(base, opts, attrs);  // creates the keystore too
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  EXPECT_EQ(*uri, base + "#from-attrs");
  auto uri2 = CreateRootKey(base + "#named", opts, attrs);
  ASSERT_TRUE(uri2.ok()) << uri2.status().ToString();
  EXPECT_EQ(*uri2, base + "#named");
  EXPECT_EQ(CreateRootKey(base + "#named", opts, attrs).status().code(),
            Code::kInvalidArgument);
  auto c = OpenKms(*uri2, opts);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto blob = (*c)->Wrap(Bytes("p"));
  ASSERT_TRUE(blob.ok());
  EXPECT_TRUE((*c)->Unwrap(*blob).ok());
  KmsOptions no_pw;
  EXPECT_EQ(OpenKms(*uri2, no_pw).status().code(), Code::kInvalidArgument);
  unsetenv("LUKSFS_KEYSTORE_KDF");
}

TEST(KmsDispatchTest, UnknownSchemeAndKeyProtectCreate) {
  KmsOptions opts;
  auto c = OpenKms("s3://bucket/key", opts);
  EXPECT_EQ(c.status().code(), Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("\"s3\""), std::string::npos)
      << c.status().message();
  EXPECT_EQ(OpenKms("", opts).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(CreateRootKey("kp+https://h/x", opts, {}).status().code(),
            Code::kNotSupported);
  EXPECT_EQ(CreateRootKey("gopher://h/x", opts, {}).status().code(),
            Code::kInvalidArgument);
  EXPECT_STREQ(KeyStateName(KeyState::kActive), "active");
  EXPECT_STREQ(KeyStateName(KeyState::kDestroyed), "destroyed");
  EXPECT_STREQ(KeyStateName(KeyState::kSuspended), "suspended");
}

}  // namespace
}  // namespace luksfs::kms
