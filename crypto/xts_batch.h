// XtsBatch: AES-XTS (IEEE 1619, no ciphertext stealing) over many data
// units at once, at close to AES-ECB speed whatever the unit size.
//
// For a chunk of units it encrypts every unit's initial tweak with key2 in
// ONE AES-ECB call, expands each to a per-block tweak stream by GF(2^128)
// doubling, and runs all data blocks through ONE AES-ECB call with key1
// between two XORs with the tweak stream. This removes OpenSSL's per-unit
// re-initialisation, which dominates with 512-byte sectors.
//
// Verified against OpenSSL's EVP_aes_*_xts and the IEEE 1619 vectors
// (xts_batch_test.cc).
// Thread-safety: NOT thread-safe (owns scratch); one instance per thread.
// Secrets: the ECB contexts hold the key schedule; freed (and cleansed by
// OpenSSL) on destruction; the tweak scratch is wiped then too.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace luksfs::crypto {

class XtsBatch {
 public:
  // key = key1 || key2, 32 (AES-128) or 64 (AES-256) bytes.
  // unit_bytes: a multiple of 16, at least 16.
  // Errors: kInvalidArgument (sizes), kInternal (OpenSSL).
  static Result<std::unique_ptr<XtsBatch>> Create(std::span<const uint8_t> key,
                                                  uint32_t unit_bytes);
  ~XtsBatch();
  XtsBatch(const XtsBatch&) = delete;
  XtsBatch& operator=(const XtsBatch&) = delete;

  // Processes in.size()/unit_bytes units; unit k uses the 16-byte initial
  // tweak input ivs[16k .. 16k+16). in and out may be the same memory.
  // REQUIRES: in.size() == out.size() == unit_bytes * ivs.size()/16.
  Status Run(bool encrypt, std::span<const uint8_t> ivs,
             std::span<const uint8_t> in, std::span<uint8_t> out);

  // Units per Run() call that keep the scratch inside the L2 cache.
  size_t max_units() const { return max_units_; }

 private:
  XtsBatch(uint32_t unit_bytes);

  const uint32_t unit_bytes_;
  size_t max_units_;
  EVP_CIPHER_CTX* k1_enc_ = nullptr;
  EVP_CIPHER_CTX* k1_dec_ = nullptr;
  EVP_CIPHER_CTX* k2_enc_ = nullptr;
  std::vector<uint8_t> tweaks_;  // scratch: one tweak per data block
  std::vector<uint8_t> t0_;      // scratch: encrypted initial tweaks
};

}  // namespace luksfs::crypto
