// libFuzzer target: the local keystore file format (kms-client/keystore_file.h),
// which anyone who can write the file may have crafted.
//
// Random bytes never pass the file's BLAKE2b checksum or its secretbox MAC,
// so the driver builds files that do, two ways (the first input byte picks):
//  - even: the input is the whole file. The checksum is recomputed, and a KDF
//    cost within the file's bounds is lowered to libsodium's minimum (so each
//    run stays fast; costs out of bounds are left as they are, to be refused).
//  - odd: the rest of the input is the sealed payload (key count and
//    entries), sealed with the key derived from a fixed passphrase at the
//    minimum cost, behind a valid header.
// Checks: no crash, no sanitizer report, no unbounded allocation.
//
// Build: make fuzz. Run: build/fuzz/keystore_file_fuzz CORPUS_DIR

#include <sodium.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/secure_buffer.h"
#include "kms-client/keystore_file.h"

namespace {

constexpr char kPassphrase[] = "fuzz";
constexpr size_t kHeaderBytes = 68;  // magic 8, version 2, kdf 2, ops 4,
                                     // mem 8, salt 16, nonce 24, length 4
constexpr size_t kChecksumBytes = 32;

void PutBE(uint8_t* p, uint64_t x, int n) {
  for (int i = n - 1; i >= 0; --i, x >>= 8) p[i] = uint8_t(x);
}
uint64_t GetBE(const uint8_t* p, int n) {
  uint64_t x = 0;
  for (int i = 0; i < n; ++i) x = (x << 8) | p[i];
  return x;
}

std::vector<uint8_t> Sealed(const uint8_t* payload, size_t n) {
  std::vector<uint8_t> f(kHeaderBytes + crypto_secretbox_MACBYTES + n +
                         kChecksumBytes);
  std::memcpy(f.data(), "LUKSFSKS", 8);
  PutBE(&f[8], 1, 2);
  PutBE(&f[10], 1, 2);
  PutBE(&f[12], crypto_pwhash_OPSLIMIT_MIN, 4);
  PutBE(&f[16], crypto_pwhash_MEMLIMIT_MIN, 8);
  std::memset(&f[24], 0x5a, 16);  // salt
  std::memset(&f[40], 0xa5, 24);  // nonce
  PutBE(&f[64], crypto_secretbox_MACBYTES + n, 4);
  static uint8_t key[crypto_secretbox_KEYBYTES];
  static bool have_key = false;
  if (!have_key) {
    if (crypto_pwhash(key, sizeof key, kPassphrase, sizeof kPassphrase - 1,
                      &f[24], crypto_pwhash_OPSLIMIT_MIN,
                      crypto_pwhash_MEMLIMIT_MIN,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
      std::abort();
    }
    have_key = true;
  }
  crypto_secretbox_easy(&f[kHeaderBytes], payload, n, &f[40], key);
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace luksfs;
  if (size < 1 || size > (1 << 16)) return 0;
  if (sodium_init() < 0) std::abort();
  std::vector<uint8_t> file;
  if (data[0] & 1) {
    file = Sealed(data + 1, size - 1);
  } else {
    file.assign(data + 1, data + size);
    if (file.size() >= kHeaderBytes + kChecksumBytes) {
      const uint64_t ops = GetBE(&file[12], 4), mem = GetBE(&file[16], 8);
      if (ops >= crypto_pwhash_OPSLIMIT_MIN && ops <= 64 &&
          mem >= crypto_pwhash_MEMLIMIT_MIN && mem <= (uint64_t{1} << 30)) {
        PutBE(&file[12], crypto_pwhash_OPSLIMIT_MIN, 4);
        PutBE(&file[16], crypto_pwhash_MEMLIMIT_MIN, 8);
      }
    }
  }
  if (file.size() >= kChecksumBytes) {
    const size_t body = file.size() - kChecksumBytes;
    crypto_generichash(&file[body], kChecksumBytes, file.data(), body, nullptr,
                       0);
  }
  static const std::string path =
      "/tmp/luksfs-keystore-fuzz-" + std::to_string(getpid());
  FILE* fp = std::fopen(path.c_str(), "wb");
  if (fp == nullptr) std::abort();
  if (!file.empty() && std::fwrite(file.data(), file.size(), 1, fp) != 1) {
    std::abort();
  }
  std::fclose(fp);
  Result<SecureBuffer> pass = SecureBuffer::CopyOf(
      {reinterpret_cast<const uint8_t*>(kPassphrase), sizeof kPassphrase - 1});
  if (!pass.ok()) std::abort();
  kms::KeystoreFile ks(path, std::move(pass).value());
  (void)ks.Load();
  unlink(path.c_str());
  return 0;
}
