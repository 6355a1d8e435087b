#include "kms-client/keystore_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <utility>

#include "common/atomic_file.h"
#include "common/unique_fd.h"

namespace luksfs::kms {

namespace {

constexpr char kMagic[8] = {'L', 'U', 'K', 'S', 'F', 'S', 'K', 'S'};
constexpr uint16_t kVersion = 1;
constexpr uint16_t kKdfArgon2id13 = 1;
constexpr size_t kSaltBytes = 16;
constexpr size_t kNonceBytes = crypto_secretbox_NONCEBYTES;  // 24
constexpr size_t kHeaderBytes = 68;
constexpr size_t kChecksumBytes = 32;
constexpr size_t kMaxFileBytes = 4 << 20;
// Bounds on the KDF cost a (possibly hostile) file may ask for.
constexpr uint64_t kMaxOpslimit = 64;
constexpr uint64_t kMaxMemlimit = uint64_t{1} << 30;  // 1 GiB

static_assert(kSaltBytes == crypto_pwhash_SALTBYTES);
static_assert(kNonceBytes == 24);

void PutU16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(uint8_t(x >> 8));
  v.push_back(uint8_t(x));
}
void PutU32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}
void PutU64(std::vector<uint8_t>& v, uint64_t x) {
  for (int s = 56; s >= 0; s -= 8) v.push_back(uint8_t(x >> s));
}
uint64_t GetBE(const uint8_t* p, int n) {
  uint64_t x = 0;
  for (int i = 0; i < n; ++i) x = (x << 8) | p[i];
  return x;
}

// Writes big-endian integers and bytes into a SecureBuffer of known size.
class SecureWriter {
 public:
  explicit SecureWriter(SecureBuffer& b) : b_(b) {}
  void Bytes(const void* p, size_t n) {
    if (n) std::memcpy(b_.data() + pos_, p, n);
    pos_ += n;
  }
  void Int(uint64_t x, int n) {
    for (int i = n - 1; i >= 0; --i) b_.data()[pos_++] = uint8_t(x >> (8 * i));
  }
  size_t pos() const { return pos_; }

 private:
  SecureBuffer& b_;
  size_t pos_ = 0;
};

// Bounds-checked reader over the opened payload.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> d) : d_(d) {}
  bool Int(uint64_t* x, int n) {
    if (d_.size() - pos_ < size_t(n)) return false;
    *x = GetBE(d_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  bool Take(size_t n, const uint8_t** p) {
    if (d_.size() - pos_ < n) return false;
    *p = d_.data() + pos_;
    pos_ += n;
    return true;
  }
  bool done() const { return pos_ == d_.size(); }

 private:
  std::span<const uint8_t> d_;
  size_t pos_ = 0;
};

Status Corrupt(const std::string& path, const std::string& what) {
  return Status::Corruption(path + ": damaged keystore: " + what);
}

// Exclusive flock on PATH.lock for the lifetime of the object.
class WriteLock {
 public:
  static Result<std::unique_ptr<WriteLock>> Acquire(const std::string& path) {
    std::string lock_path = path + ".lock";
    UniqueFd guard(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (guard.get() < 0) return PosixError(lock_path, errno);
    while (flock(guard.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return PosixError(lock_path + ": flock", errno);
    }
    return std::unique_ptr<WriteLock>(new WriteLock(std::move(guard)));
  }
  // The destructor closes the descriptor, which releases the lock.

 private:
  explicit WriteLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

Result<std::vector<uint8_t>> ReadWholeFile(const std::string& path) {
  UniqueFd guard(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  const int fd = guard.get();
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(path + ": no such keystore");
    return PosixError(path, errno);
  }
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      return PosixError(path, errno);
    }
    if (r == 0) break;
    out.insert(out.end(), buf, buf + r);
    if (out.size() > kMaxFileBytes) return Corrupt(path, "file too large");
  }
  return out;
}

}  // namespace

struct KeystoreFile::Header {
  uint64_t opslimit = 0;
  uint64_t memlimit = 0;
  std::array<uint8_t, kSaltBytes> salt{};
};

KeystoreKdfParams KeystoreKdfParams::Minimal() {
  return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN};
}

KeystoreKdfParams KeystoreKdfParams::Moderate() {
  return {crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
}

Result<KeystoreKdfParams> KeystoreKdfParams::FromEnvironment() {
  const char* level = std::getenv("LUKSFS_KEYSTORE_KDF");
  std::string_view v = level ? level : "";
  if (v.empty() || v == "moderate") return Moderate();
  if (v == "min") return Minimal();
  if (v == "interactive") {
    return KeystoreKdfParams{crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE};
  }
  if (v == "sensitive") {
    return KeystoreKdfParams{crypto_pwhash_OPSLIMIT_SENSITIVE,
                             crypto_pwhash_MEMLIMIT_SENSITIVE};
  }
  return Status::InvalidArgument(
      "LUKSFS_KEYSTORE_KDF: expected min, interactive, moderate or "
      "sensitive, got \"" + std::string(v) + "\"");
}

bool ValidKeyName(std::string_view name) {
  if (name.empty() || name.size() > kKeystoreMaxNameLength) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

KeystoreFile::KeystoreFile(std::string path, SecureBuffer passphrase)
    : path_(std::move(path)), passphrase_(std::move(passphrase)) {}

Result<const SecureBuffer*> KeystoreFile::DerivedKey(const Header& h) {
  if (!derived_.empty() && derived_ops_ == h.opslimit &&
      derived_mem_ == h.memlimit &&
      derived_salt_ == std::vector<uint8_t>(h.salt.begin(), h.salt.end())) {
    return &derived_;
  }
  derived_.Wipe();
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer key,
                          SecureBuffer::Create(crypto_secretbox_KEYBYTES));
  if (crypto_pwhash(key.data(), key.size(),
                    reinterpret_cast<const char*>(passphrase_.data()),
                    passphrase_.size(), h.salt.data(), h.opslimit,
                    size_t(h.memlimit), crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status::ResourceExhausted(path_ +
                                     ": Argon2id: out of memory deriving the "
                                     "keystore key");
  }
  derived_ = std::move(key);
  derived_salt_.assign(h.salt.begin(), h.salt.end());
  derived_ops_ = h.opslimit;
  derived_mem_ = h.memlimit;
  return &derived_;
}

Status KeystoreFile::Create(const KeystoreKdfParams& params) {
  LUKSFS_RETURN_IF_ERROR(InitSodium());
  if (params.opslimit < crypto_pwhash_OPSLIMIT_MIN ||
      params.opslimit > kMaxOpslimit ||
      params.memlimit < crypto_pwhash_MEMLIMIT_MIN ||
      params.memlimit > kMaxMemlimit) {
    return Status::InvalidArgument(path_ + ": keystore KDF cost out of range");
  }
  LUKSFS_ASSIGN_OR_RETURN(auto lock, WriteLock::Acquire(path_));
  struct stat st;
  if (lstat(path_.c_str(), &st) == 0) {
    return Status::InvalidArgument(path_ + ": already exists");
  }
  Header h;
  h.opslimit = params.opslimit;
  h.memlimit = params.memlimit;
  randombytes_buf(h.salt.data(), h.salt.size());
  return Write({}, h);
}

Result<std::vector<StoredKey>> KeystoreFile::Load() { return ReadAndOpen(); }

Result<std::vector<StoredKey>> KeystoreFile::ReadAndOpen() {
  LUKSFS_RETURN_IF_ERROR(InitSodium());
  LUKSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> file, ReadWholeFile(path_));
  if (file.size() < kHeaderBytes + crypto_secretbox_MACBYTES + kChecksumBytes) {
    return Corrupt(path_, "too short");
  }
  if (std::memcmp(file.data(), kMagic, sizeof kMagic) != 0) {
    return Corrupt(path_, "bad magic (not a luksfs keystore)");
  }
  uint8_t sum[kChecksumBytes];
  size_t body = file.size() - kChecksumBytes;
  crypto_generichash(sum, sizeof sum, file.data(), body, nullptr, 0);
  if (sodium_memcmp(sum, file.data() + body, sizeof sum) != 0) {
    return Corrupt(path_, "checksum mismatch");
  }
  const uint8_t* p = file.data();
  uint64_t version = GetBE(p + 8, 2), kdf = GetBE(p + 10, 2);
  if (version != kVersion) {
    return Status::NotSupported(path_ + ": keystore version " +
                                std::to_string(version) + " not supported");
  }
  if (kdf != kKdfArgon2id13) return Corrupt(path_, "unknown KDF");
  Header h;
  h.opslimit = GetBE(p + 12, 4);
  h.memlimit = GetBE(p + 16, 8);
  std::memcpy(h.salt.data(), p + 24, kSaltBytes);
  if (h.opslimit < crypto_pwhash_OPSLIMIT_MIN || h.opslimit > kMaxOpslimit ||
      h.memlimit < crypto_pwhash_MEMLIMIT_MIN || h.memlimit > kMaxMemlimit) {
    return Corrupt(path_, "KDF cost out of bounds");
  }
  const uint8_t* nonce = p + 40;
  uint64_t sealed_len = GetBE(p + 64, 4);
  if (sealed_len != body - kHeaderBytes ||
      sealed_len < crypto_secretbox_MACBYTES) {
    return Corrupt(path_, "length mismatch");
  }
  LUKSFS_ASSIGN_OR_RETURN(const SecureBuffer* key, DerivedKey(h));
  LUKSFS_ASSIGN_OR_RETURN(
      SecureBuffer payload,
      SecureBuffer::Create(sealed_len - crypto_secretbox_MACBYTES));
  if (crypto_secretbox_open_easy(payload.data(), p + kHeaderBytes, sealed_len,
                                 nonce, key->data()) != 0) {
    return Status::PermissionDenied(path_ + ": wrong keystore passphrase");
  }

  Reader r(payload.span());
  uint64_t count;
  if (!r.Int(&count, 4) || count > kKeystoreMaxKeys) {
    return Corrupt(path_, "bad key count");
  }
  std::vector<StoredKey> keys;
  keys.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    StoredKey k;
    uint64_t name_len, state, created, changed, mat_len;
    const uint8_t* name;
    const uint8_t* mat;
    if (!r.Int(&name_len, 1) || !r.Take(name_len, &name) ||
        !r.Int(&state, 1) || !r.Int(&created, 8) || !r.Int(&changed, 8) ||
        !r.Int(&mat_len, 1) || !r.Take(mat_len, &mat)) {
      return Corrupt(path_, "truncated key entry");
    }
    k.name.assign(reinterpret_cast<const char*>(name), name_len);
    if (!ValidKeyName(k.name) || state < 1 || state > 3) {
      return Corrupt(path_, "bad key entry");
    }
    k.state = StoredKeyState(state);
    k.created = int64_t(created);
    k.changed = int64_t(changed);
    bool destroyed = k.state == StoredKeyState::kDestroyed;
    if (mat_len != (destroyed ? 0 : kKeystoreRootKeyBytes)) {
      return Corrupt(path_, "bad key material length");
    }
    if (mat_len) {
      LUKSFS_ASSIGN_OR_RETURN(k.material,
                              SecureBuffer::CopyOf({mat, size_t(mat_len)}));
    }
    keys.push_back(std::move(k));
  }
  if (!r.done()) return Corrupt(path_, "trailing bytes");
  return keys;
}

Status KeystoreFile::Update(
    const std::function<Status(std::vector<StoredKey>&)>& change) {
  LUKSFS_ASSIGN_OR_RETURN(auto lock, WriteLock::Acquire(path_));
  LUKSFS_ASSIGN_OR_RETURN(std::vector<StoredKey> keys, ReadAndOpen());
  LUKSFS_RETURN_IF_ERROR(change(keys));
  // Rewrite with the salt and cost of the file just read (DerivedKey cached
  // them); only the nonce changes.
  Header h;
  h.opslimit = derived_ops_;
  h.memlimit = derived_mem_;
  std::memcpy(h.salt.data(), derived_salt_.data(), kSaltBytes);
  return Write(keys, h);
}

Status KeystoreFile::Write(const std::vector<StoredKey>& keys,
                           const Header& h) {
  if (keys.size() > kKeystoreMaxKeys) {
    return Status::ResourceExhausted(path_ + ": too many keys");
  }
  size_t payload_len = 4;
  for (const StoredKey& k : keys) {
    payload_len += 1 + k.name.size() + 1 + 8 + 8 + 1 + k.material.size();
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer payload,
                          SecureBuffer::Create(payload_len));
  SecureWriter w(payload);
  w.Int(keys.size(), 4);
  for (const StoredKey& k : keys) {
    w.Int(k.name.size(), 1);
    w.Bytes(k.name.data(), k.name.size());
    w.Int(uint8_t(k.state), 1);
    w.Int(uint64_t(k.created), 8);
    w.Int(uint64_t(k.changed), 8);
    w.Int(k.material.size(), 1);
    w.Bytes(k.material.data(), k.material.size());
  }
  LUKSFS_ASSIGN_OR_RETURN(const SecureBuffer* key, DerivedKey(h));

  std::vector<uint8_t> file(kMagic, kMagic + sizeof kMagic);
  PutU16(file, kVersion);
  PutU16(file, kKdfArgon2id13);
  PutU32(file, uint32_t(h.opslimit));
  PutU64(file, h.memlimit);
  file.insert(file.end(), h.salt.begin(), h.salt.end());
  uint8_t nonce[kNonceBytes];
  randombytes_buf(nonce, sizeof nonce);
  file.insert(file.end(), nonce, nonce + sizeof nonce);
  size_t sealed_len = payload_len + crypto_secretbox_MACBYTES;
  PutU32(file, uint32_t(sealed_len));
  size_t at = file.size();
  file.resize(at + sealed_len);
  crypto_secretbox_easy(file.data() + at, payload.data(), payload_len, nonce,
                        key->data());
  uint8_t sum[kChecksumBytes];
  crypto_generichash(sum, sizeof sum, file.data(), file.size(), nullptr, 0);
  file.insert(file.end(), sum, sum + sizeof sum);

  return WriteFileAtomic(path_, file);
}

}  // namespace luksfs::kms
