#include "crypto/keyslot_unlock.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "crypto/af.h"
#include "crypto/kdf.h"
#include "crypto/sector_cipher.h"

namespace luksfs::crypto {

namespace {

bool Contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The digest that verifies keys of `slot` for segment 0 (nullptr if none).
const Digest* DigestFor(const LuksHeader& h, int slot) {
  for (const Digest& d : h.digests) {
    if (Contains(d.keyslots, slot) && Contains(d.segments, 0)) return &d;
  }
  return nullptr;
}

Status CheckDigest(const Digest& d, std::span<const uint8_t> key) {
  if (d.type != "pbkdf2" || d.value.empty()) {
    return Status::NotSupported("digest type '" + d.type + "'");
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer calc,
                          SecureBuffer::Create(d.value.size()));
  LUKSFS_RETURN_IF_ERROR(
      Pbkdf2(d.hash, key, d.salt, d.iterations, calc.span()));
  if (CRYPTO_memcmp(calc.data(), d.value.data(), d.value.size()) != 0) {
    return Status::PermissionDenied("volume key does not match the digest");
  }
  return Status();
}

Status CheckLimits(const Keyslot& ks, const UnlockLimits& lim) {
  const KdfParams& k = ks.kdf;
  const std::string where = "keyslot " + std::to_string(ks.index) + ": ";
  if (k.type == KdfType::kPbkdf2) {
    if (k.iterations > lim.max_pbkdf2_iterations) {
      return Status::ResourceExhausted(
          where + "pbkdf2 iterations " + std::to_string(k.iterations) +
          " exceed the limit of " + std::to_string(lim.max_pbkdf2_iterations));
    }
    return Status();
  }
  if (k.memory_kib > lim.max_kdf_memory_kib) {
    return Status::ResourceExhausted(
        where + std::string(KdfName(k.type)) + " memory " +
        std::to_string(k.memory_kib) + " KiB exceeds the limit of " +
        std::to_string(lim.max_kdf_memory_kib) + " KiB (--max-kdf-memory)");
  }
  if (k.cpus == 0 || k.cpus > lim.max_argon2_cpus) {
    return Status::ResourceExhausted(where + "argon2 cpus " +
                                     std::to_string(k.cpus) +
                                     " is out of range");
  }
  if (uint64_t{k.iterations} * k.memory_kib > lim.max_argon2_work) {
    return Status::ResourceExhausted(
        where + "argon2 time " + std::to_string(k.iterations) + " x memory " +
        std::to_string(k.memory_kib) + " KiB exceeds the work limit");
  }
  return Status();
}

// Derives, decrypts and merges slot `ks`; OK with the key if the digest
// matches, kPermissionDenied if not.
Result<SecureBuffer> TrySlot(const Keyslot& ks, const Digest& digest,
                             const ReadFn& read,
                             std::span<const uint8_t> passphrase,
                             const UnlockLimits& lim) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer dk,
                          SecureBuffer::Create(ks.area_key_bytes));
  if (ks.kdf.type == KdfType::kPbkdf2) {
    LUKSFS_RETURN_IF_ERROR(Pbkdf2(ks.kdf.hash, passphrase, ks.kdf.salt,
                                  ks.kdf.iterations, dk.span()));
  } else {
    uint32_t threads = lim.kdf_threads;
    if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
    LUKSFS_RETURN_IF_ERROR(Argon2(ks.kdf.type, passphrase, ks.kdf.salt,
                                  ks.kdf.iterations, ks.kdf.memory_kib,
                                  ks.kdf.cpus, threads, dk.span()));
  }
  const uint64_t material_size = AfSplitSize(ks.key_bytes, ks.stripes);
  if (material_size > ks.area_size) {
    return Status::Corruption("keyslot " + std::to_string(ks.index) +
                              ": area is smaller than its key material");
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer material,
                          SecureBuffer::Create(material_size));
  LUKSFS_RETURN_IF_ERROR(read(ks.area_offset, material.span()));
  LUKSFS_ASSIGN_OR_RETURN(auto cipher,
                          SectorCipher::Create(ks.area_cipher, dk.span(), 512));
  dk.Wipe();
  LUKSFS_RETURN_IF_ERROR(cipher->Decrypt(0, material.span(), material.span()));
  cipher.reset();
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer key, SecureBuffer::Create(ks.key_bytes));
  LUKSFS_RETURN_IF_ERROR(
      AfMerge(material.span(), ks.stripes, ks.af_hash, key.span()));
  material.Wipe();
  LUKSFS_RETURN_IF_ERROR(CheckDigest(digest, key.span()));
  return key;
}

}  // namespace

Result<UnlockedKey> UnlockKeyslot(const LuksHeader& header, const ReadFn& read,
                                  std::span<const uint8_t> passphrase,
                                  std::optional<int> only_slot,
                                  const UnlockLimits& limits) {
  std::vector<const Keyslot*> order;
  for (int prio : {2, 1, 0}) {
    for (const Keyslot& ks : header.keyslots) {
      if (ks.type != "luks1" && ks.type != "luks2") continue;
      if (ks.priority != prio) continue;
      if (only_slot ? ks.index == *only_slot : prio > 0) order.push_back(&ks);
    }
  }
  if (only_slot && order.empty()) {
    return Status::NotFound("keyslot " + std::to_string(*only_slot) +
                            " is not an active passphrase keyslot");
  }
  Status skipped;  // the first reason a slot could not even be tried
  for (const Keyslot* ks : order) {
    const Digest* digest = DigestFor(header, ks->index);
    if (digest == nullptr) continue;  // unbound slot: opens no segment
    Status limit = CheckLimits(*ks, limits);
    if (limit.ok() && digest->iterations > limits.max_pbkdf2_iterations) {
      limit = Status::ResourceExhausted(
          "digest " + std::to_string(digest->index) + ": pbkdf2 iterations " +
          std::to_string(digest->iterations) + " exceed the limit of " +
          std::to_string(limits.max_pbkdf2_iterations));
    }
    if (!limit.ok()) {
      if (skipped.ok()) skipped = limit;
      continue;
    }
    Result<SecureBuffer> key = TrySlot(*ks, *digest, read, passphrase, limits);
    if (key.ok()) return UnlockedKey{ks->index, std::move(key).value()};
    const Status& s = key.status();
    if (s.code() == Status::Code::kIOError) return s;
    if (s.code() != Status::Code::kPermissionDenied && skipped.ok()) {
      skipped = s.WithContext("keyslot " + std::to_string(ks->index));
    }
  }
  if (!skipped.ok()) return skipped;
  return Status::PermissionDenied("no keyslot opened with this passphrase");
}

Status VerifyVolumeKey(const LuksHeader& header,
                       std::span<const uint8_t> volume_key) {
  for (const Digest& d : header.digests) {
    if (Contains(d.segments, 0)) return CheckDigest(d, volume_key);
  }
  return Status::Corruption("no digest covers data segment 0");
}

}  // namespace luksfs::crypto
