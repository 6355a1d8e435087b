// SectorCipher: encrypts and decrypts runs of LUKS encryption units
// (dm-crypt "sectors") with one cipher spec and key.
//
// Spec strings are dm-crypt's "<cipher>-<chain>-<ivgen>[:<hash>]". Supported:
//   aes-xts-plain64, aes-xts-plain, aes-xts-plain64be   (32- or 64-byte key)
//   aes-cbc-essiv:<hash>, aes-cbc-plain64, aes-cbc-plain,
//   aes-cbc-plain64be                                   (16/24/32-byte key)
// Anything else is kNotSupported with the reason.
//
// Units: `sector_size` is the encryption unit in bytes (512..4096, a power of
// two). IV sector numbers are ALWAYS in 512-byte units: unit k of a run that
// starts at iv_sector s uses IV sector s + k*(sector_size/512), as dm-crypt
// does for LUKS1 and LUKS2 (no iv_large_sectors).
//
// Thread-safety: NOT thread-safe; one instance per thread (see CryptEngine).
// Secrets: the key lives in a SecureBuffer inside; OpenSSL contexts are
// freed (and cleansed by OpenSSL) on destruction.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs::crypto {

// A parsed spec. Validation only; no key involved.
struct CipherSpec {
  std::string cipher;  // "aes"
  std::string chain;   // "xts" | "cbc"
  std::string ivgen;   // "plain64" | "plain" | "plain64be" | "essiv"
  std::string iv_hash; // for essiv: "sha256"
};

// Parses and checks `spec` for a key of `key_bytes`. kNotSupported names what
// is wrong ("cipher 'serpent-xts-plain64' is not supported: ...").
Result<CipherSpec> ParseCipherSpec(std::string_view spec, size_t key_bytes);

class SectorCipher {
 public:
  ~SectorCipher();
  SectorCipher(const SectorCipher&) = delete;
  SectorCipher& operator=(const SectorCipher&) = delete;

  // Errors: kNotSupported (spec/key size), kInvalidArgument (sector size),
  // kInternal (OpenSSL).
  static Result<std::unique_ptr<SectorCipher>> Create(
      std::string_view spec, std::span<const uint8_t> key,
      uint32_t sector_size);

  // A new instance with the same spec, key and sector size.
  Result<std::unique_ptr<SectorCipher>> Clone() const;

  // in and out have the same size, a multiple of sector_size(); they may be
  // the same memory (in place) but must not otherwise overlap.
  // Errors: kInvalidArgument (sizes), kInternal (OpenSSL).
  Status Decrypt(uint64_t iv_sector, std::span<const uint8_t> in,
                 std::span<uint8_t> out);
  Status Encrypt(uint64_t iv_sector, std::span<const uint8_t> in,
                 std::span<uint8_t> out);

  uint32_t sector_size() const { return sector_size_; }

  // True when this cipher runs on the VAES kernel (xts_vaes.h): over
  // 10 GB/s per core, fast enough that handing part of a request to
  // another thread costs more than it saves.
  bool vector_aes() const;

 private:
  struct Impl;
  SectorCipher(std::unique_ptr<Impl> impl, uint32_t sector_size);
  Status Run(bool encrypt, uint64_t iv_sector, std::span<const uint8_t> in,
             std::span<uint8_t> out);

  std::unique_ptr<Impl> impl_;
  uint32_t sector_size_;
};

}  // namespace luksfs::crypto
