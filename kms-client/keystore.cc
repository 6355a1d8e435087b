#include "kms-client/keystore.h"

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <utility>

#include "common/hex.h"
#include "common/secret_file.h"

namespace luksfs::kms {

namespace {

constexpr char kBlobMagic[4] = {'L', 'K', 'S', 'W'};
constexpr uint8_t kBlobVersion = 1;
constexpr size_t kBlobNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kBlobTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr size_t kBlobHeader = sizeof kBlobMagic + 1 + kBlobNonce;  // 29
constexpr size_t kMaxPlaintext = 4096;
constexpr size_t kMaxPassphrase = 4096;

static_assert(kBlobNonce == 24 && kBlobTag == 16);

int64_t Now() { return int64_t(std::time(nullptr)); }

KeyState ToKeyState(StoredKeyState s) {
  switch (s) {
    case StoredKeyState::kActive: return KeyState::kActive;
    case StoredKeyState::kRevoked: return KeyState::kDeactivated;
    case StoredKeyState::kDestroyed: return KeyState::kDestroyed;
  }
  return KeyState::kDestroyed;
}

StoredKey* Find(std::vector<StoredKey>& keys, std::string_view name) {
  for (StoredKey& k : keys) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::vector<uint8_t> Aad(std::span<const uint8_t> header5,
                         std::string_view name) {
  std::vector<uint8_t> aad(header5.size() + name.size());
  std::memcpy(aad.data(), header5.data(), header5.size());
  if (!name.empty()) {
    std::memcpy(aad.data() + header5.size(), name.data(), name.size());
  }
  return aad;
}

class KeystoreClient : public KmsClient {
 public:
  KeystoreClient(std::string uri, std::string name,
                 std::unique_ptr<KeystoreFile> file)
      : uri_(std::move(uri)), name_(std::move(name)), file_(std::move(file)) {}

  const std::string& uri() const override { return uri_; }
  const std::string& key_id() const override { return name_; }

  Result<std::vector<uint8_t>> Wrap(
      std::span<const uint8_t> plaintext) override {
    if (plaintext.empty() || plaintext.size() > kMaxPlaintext) {
      return Status::InvalidArgument(uri_ + ": wrap: plaintext must be 1.." +
                                     std::to_string(kMaxPlaintext) + " bytes");
    }
    LUKSFS_ASSIGN_OR_RETURN(std::vector<StoredKey> keys, LoadKeys());
    LUKSFS_ASSIGN_OR_RETURN(StoredKey * key, Usable(keys));
    std::vector<uint8_t> blob(kBlobHeader + plaintext.size() + kBlobTag);
    std::memcpy(blob.data(), kBlobMagic, sizeof kBlobMagic);
    blob[4] = kBlobVersion;
    randombytes_buf(blob.data() + 5, kBlobNonce);
    std::vector<uint8_t> aad = Aad({blob.data(), 5}, name_);
    unsigned long long out_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        blob.data() + kBlobHeader, &out_len, plaintext.data(),
        plaintext.size(), aad.data(), aad.size(), nullptr, blob.data() + 5,
        key->material.data());
    return blob;
  }

  Result<SecureBuffer> Unwrap(std::span<const uint8_t> wrapped) override {
    if (wrapped.size() < kBlobHeader + kBlobTag + 1 ||
        wrapped.size() > kBlobHeader + kBlobTag + kMaxPlaintext ||
        std::memcmp(wrapped.data(), kBlobMagic, sizeof kBlobMagic) != 0) {
      return Status::Corruption(uri_ + ": not a keystore-wrapped blob");
    }
    if (wrapped[4] != kBlobVersion) {
      return Status::NotSupported(uri_ + ": wrapped blob version " +
                                  std::to_string(wrapped[4]));
    }
    LUKSFS_ASSIGN_OR_RETURN(std::vector<StoredKey> keys, LoadKeys());
    LUKSFS_ASSIGN_OR_RETURN(StoredKey * key, Usable(keys));
    size_t ct_len = wrapped.size() - kBlobHeader;
    LUKSFS_ASSIGN_OR_RETURN(SecureBuffer out,
                            SecureBuffer::Create(ct_len - kBlobTag));
    std::vector<uint8_t> aad = Aad(wrapped.first(5), name_);
    unsigned long long out_len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            out.data(), &out_len, nullptr, wrapped.data() + kBlobHeader,
            ct_len, aad.data(), aad.size(), wrapped.data() + 5,
            key->material.data()) != 0) {
      return Status::Corruption(uri_ +
                                ": wrapped blob does not authenticate under "
                                "this key");
    }
    return out;
  }

  Result<KeyState> State() override {
    LUKSFS_ASSIGN_OR_RETURN(std::vector<StoredKey> keys, LoadKeys());
    StoredKey* key = Find(keys, name_);
    if (key == nullptr) return NotFound();
    return ToKeyState(key->state);
  }

  Status Revoke(std::string_view /*reason*/) override {
    return file_->Update([&](std::vector<StoredKey>& keys) -> Status {
      StoredKey* key = Find(keys, name_);
      if (key == nullptr) return NotFound();
      if (key->state == StoredKeyState::kActive) {
        key->state = StoredKeyState::kRevoked;
        key->changed = Now();
      }
      return Status::Ok();
    });
  }

  Status Destroy() override {
    return file_->Update([&](std::vector<StoredKey>& keys) -> Status {
      StoredKey* key = Find(keys, name_);
      if (key == nullptr) return NotFound();
      if (key->state != StoredKeyState::kDestroyed) {
        key->state = StoredKeyState::kDestroyed;
        key->changed = Now();
        key->material.Wipe();
      }
      return Status::Ok();
    });
  }

 private:
  // The keys. A keystore file that is missing or unreadable is an
  // unreachable KMS (kUnavailable), not a revoked or unknown key: the
  // revocation watcher's grace period applies.
  Result<std::vector<StoredKey>> LoadKeys() {
    Result<std::vector<StoredKey>> loaded = file_->Load();
    if (!loaded.ok()) {
      const Status::Code c = loaded.status().code();
      if (c == Status::Code::kNotFound || c == Status::Code::kIOError) {
        return Status::Unavailable(loaded.status().message() +
                                   " (keystore unreadable)");
      }
    }
    return loaded;
  }

  Status NotFound() const {
    return Status::NotFound(uri_ + ": no key named \"" + name_ +
                            "\" in the keystore");
  }

  Result<StoredKey*> Usable(std::vector<StoredKey>& keys) const {
    StoredKey* key = Find(keys, name_);
    if (key == nullptr) return NotFound();
    if (key->state == StoredKeyState::kRevoked) {
      return Status::KeyRevoked(uri_ + ": key has been revoked");
    }
    if (key->state == StoredKeyState::kDestroyed) {
      return Status::KeyRevoked(uri_ + ": key has been destroyed");
    }
    if (key->material.size() != kKeystoreRootKeyBytes) {
      return Status::Corruption(uri_ + ": key material missing");
    }
    return key;
  }

  const std::string uri_;
  const std::string name_;
  std::unique_ptr<KeystoreFile> file_;
};

std::string RandomKeyName() {
  uint8_t r[8];
  randombytes_buf(r, sizeof r);
  return "key-" + HexEncode(r);
}

Status AddKeyTo(KeystoreFile& file, const std::string& name) {
  if (!ValidKeyName(name)) {
    return Status::InvalidArgument("key name \"" + name +
                                   "\": use 1-128 of A-Z a-z 0-9 . _ -");
  }
  return file.Update([&](std::vector<StoredKey>& keys) -> Status {
    if (Find(keys, name) != nullptr) {
      return Status::InvalidArgument(file.path() + ": a key named \"" + name +
                                     "\" already exists");
    }
    if (keys.size() >= kKeystoreMaxKeys) {
      return Status::ResourceExhausted(file.path() + ": keystore is full");
    }
    StoredKey k;
    k.name = name;
    k.state = StoredKeyState::kActive;
    k.created = k.changed = Now();
    LUKSFS_ASSIGN_OR_RETURN(k.material,
                            SecureBuffer::Create(kKeystoreRootKeyBytes));
    randombytes_buf(k.material.data(), k.material.size());
    keys.push_back(std::move(k));
    return Status::Ok();
  });
}

}  // namespace

Result<SecureBuffer> ReadPassphraseFile(std::string_view path) {
  if (path.empty()) {
    return Status::InvalidArgument(
        "keystore passphrase: no passphrase file given (use "
        "--keystore-passphrase-file FILE)");
  }
  // The first line is the passphrase, without its newline (nothing else is
  // stripped), as --passphrase-file reads it.
  const std::string p(path);
  LUKSFS_ASSIGN_OR_RETURN(
      SecureBuffer buf,
      ReadSecretFile(p, "keystore passphrase file", SecretFormat::kFirstLine,
                     kMaxPassphrase));
  if (buf.empty()) {
    return Status::InvalidArgument("keystore passphrase file '" + p +
                                   "' holds an empty passphrase");
  }
  return buf;
}

Result<KeystoreUri> ParseKeystoreUri(std::string_view uri, bool require_key) {
  constexpr std::string_view kScheme = "file:";
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return Status::InvalidArgument("not a file: URI");
  }
  std::string_view rest = uri.substr(kScheme.size());
  if (rest.substr(0, 2) == "//") {
    rest.remove_prefix(2);  // file:///PATH: empty authority only
    if (rest.empty() || rest[0] != '/') {
      return Status::InvalidArgument(
          "file: URIs take no host (use file:/PATH#KEY-NAME)");
    }
  }
  KeystoreUri out;
  size_t hash = rest.find('#');
  out.path = std::string(rest.substr(0, hash));
  if (hash != std::string_view::npos) {
    out.key_name = std::string(rest.substr(hash + 1));
  }
  if (out.path.empty()) {
    return Status::InvalidArgument("missing keystore path");
  }
  if (!out.key_name.empty() && !ValidKeyName(out.key_name)) {
    return Status::InvalidArgument("bad key name after '#' (use 1-128 of "
                                   "A-Z a-z 0-9 . _ -)");
  }
  if (require_key && out.key_name.empty()) {
    return Status::InvalidArgument("missing key name (file:/PATH#KEY-NAME)");
  }
  return out;
}

Status CreateKeystore(const std::string& path, const SecureBuffer& passphrase,
                      const KeystoreKdfParams& params) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer pw,
                          SecureBuffer::CopyOf(passphrase.span()));
  KeystoreFile file(path, std::move(pw));
  return file.Create(params);
}

Result<std::string> AddKeystoreKey(const std::string& path,
                                   const SecureBuffer& passphrase,
                                   std::string_view name) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer pw,
                          SecureBuffer::CopyOf(passphrase.span()));
  KeystoreFile file(path, std::move(pw));
  std::string n(name);
  LUKSFS_RETURN_IF_ERROR(AddKeyTo(file, n));
  return n;
}

Result<std::vector<KeystoreKeyInfo>> ListKeystoreKeys(
    const std::string& path, const SecureBuffer& passphrase) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer pw,
                          SecureBuffer::CopyOf(passphrase.span()));
  KeystoreFile file(path, std::move(pw));
  LUKSFS_ASSIGN_OR_RETURN(std::vector<StoredKey> keys, file.Load());
  std::vector<KeystoreKeyInfo> out;
  out.reserve(keys.size());
  for (const StoredKey& k : keys) {
    out.push_back({k.name, ToKeyState(k.state), k.created, k.changed});
  }
  return out;
}

Result<std::unique_ptr<KmsClient>> OpenKeystoreClient(const std::string& path,
                                                      std::string_view key_name,
                                                      SecureBuffer passphrase) {
  std::string uri = "file:" + path + "#" + std::string(key_name);
  if (!ValidKeyName(key_name)) {
    return Status::InvalidArgument(uri + ": bad key name");
  }
  auto file = std::make_unique<KeystoreFile>(path, std::move(passphrase));
  // Open only what exists and opens with this passphrase; the state is
  // checked per operation.
  Result<std::vector<StoredKey>> loaded = file->Load();
  if (!loaded.ok() && (loaded.status().code() == Status::Code::kNotFound ||
                       loaded.status().code() == Status::Code::kIOError)) {
    // Missing or unreadable: an unreachable KMS, as in LoadKeys().
    return Status::Unavailable(loaded.status().message() +
                               " (keystore unreadable)");
  }
  if (!loaded.ok()) return loaded.status();
  std::vector<StoredKey>& keys = *loaded;
  if (Find(keys, key_name) == nullptr) {
    return Status::NotFound(uri + ": no key named \"" + std::string(key_name) +
                            "\" in the keystore");
  }
  return std::unique_ptr<KmsClient>(
      new KeystoreClient(uri, std::string(key_name), std::move(file)));
}

Result<std::unique_ptr<KmsClient>> OpenKeystore(std::string_view uri,
                                                const KmsOptions& options) {
  LUKSFS_ASSIGN_OR_RETURN(KeystoreUri u, ParseKeystoreUri(uri, true));
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer pw,
                          ReadPassphraseFile(options.keystore_passphrase_file));
  return OpenKeystoreClient(u.path, u.key_name, std::move(pw));
}

Result<std::string> CreateKeystoreRootKey(std::string_view uri,
                                          const KmsOptions& options,
                                          const NewKeyAttributes& attributes) {
  LUKSFS_ASSIGN_OR_RETURN(KeystoreUri u, ParseKeystoreUri(uri, false));
  std::string name = u.key_name;
  if (name.empty()) name = attributes.name;
  if (name.empty()) name = RandomKeyName();
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer pw,
                          ReadPassphraseFile(options.keystore_passphrase_file));
  KeystoreFile file(u.path, std::move(pw));
  if (access(u.path.c_str(), F_OK) != 0 && errno == ENOENT) {
    LUKSFS_ASSIGN_OR_RETURN(KeystoreKdfParams params,
                            KeystoreKdfParams::FromEnvironment());
    Status s = file.Create(params);
    // Another process may have created it in the meantime: fine.
    if (!s.ok() && access(u.path.c_str(), F_OK) != 0) return s;
  }
  LUKSFS_RETURN_IF_ERROR(AddKeyTo(file, name));
  return "file:" + u.path + "#" + name;
}

}  // namespace luksfs::kms
