#include "crypto/keyslot_create.h"

#include <openssl/rand.h>

#include <algorithm>
#include <thread>

#include "common/secure_buffer.h"
#include "crypto/af.h"
#include "crypto/kdf.h"
#include "crypto/sector_cipher.h"

namespace luksfs::crypto {

Status RandomBytes(std::span<uint8_t> out) {
  if (!out.empty() &&
      RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    return Status::Internal("OpenSSL RAND_bytes failed");
  }
  return Status();
}

Result<NewKeyslot> MakeKeyslot(std::span<const uint8_t> passphrase,
                               std::span<const uint8_t> volume_key,
                               const KeyslotSpec& spec) {
  if (volume_key.empty() || volume_key.size() > 512 || spec.stripes == 0) {
    return Status::InvalidArgument("keyslot: bad volume key size or stripes");
  }
  NewKeyslot out;
  out.kdf = spec.kdf;
  out.kdf.salt.assign(32, 0);
  LUKSFS_RETURN_IF_ERROR(RandomBytes(out.kdf.salt));

  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer dk,
                          SecureBuffer::Create(spec.area_key_bytes));
  if (out.kdf.type == KdfType::kPbkdf2) {
    LUKSFS_RETURN_IF_ERROR(Pbkdf2(out.kdf.hash, passphrase, out.kdf.salt,
                                  out.kdf.iterations, dk.span()));
  } else {
    const uint32_t threads = std::max(1u, std::thread::hardware_concurrency());
    LUKSFS_RETURN_IF_ERROR(Argon2(out.kdf.type, passphrase, out.kdf.salt,
                                  out.kdf.iterations, out.kdf.memory_kib,
                                  out.kdf.cpus, threads, dk.span()));
  }
  const uint64_t size = AfSplitSize(volume_key.size(), spec.stripes);
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer split, SecureBuffer::Create(size));
  LUKSFS_RETURN_IF_ERROR(
      AfSplit(volume_key, spec.stripes, spec.af_hash, split.span()));
  LUKSFS_ASSIGN_OR_RETURN(
      auto cipher, SectorCipher::Create(spec.area_cipher, dk.span(), 512));
  dk.Wipe();
  out.material.resize(size);
  LUKSFS_RETURN_IF_ERROR(cipher->Encrypt(0, split.span(), out.material));
  return out;
}

}  // namespace luksfs::crypto
