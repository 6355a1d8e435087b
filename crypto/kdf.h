// Password-based key derivation for LUKS keyslots and digests.
//
// Both functions write exactly out.size() bytes. Secrets (passphrase, out)
// are the caller's: pass SecureBuffer spans. Nothing is logged.
// Thread-safety: reentrant.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

// PBKDF2-HMAC (RFC 8018) with the LUKS hash `hash`, through the fastest
// kernel for it (pbkdf2_fast.h: SHA-NI, portable, or OpenSSL).
// Errors: kNotSupported for an unknown hash; kInvalidArgument for 0
// iterations; kUnavailable when `cancel` was set (a trial no longer
// needed, see keyslot_trials.h).
Status Pbkdf2(std::string_view hash, std::span<const uint8_t> password,
              std::span<const uint8_t> salt, uint32_t iterations,
              std::span<uint8_t> out,
              const std::atomic<bool>* cancel = nullptr);

// Argon2i/Argon2id version 0x13 (RFC 9106), through the AVX2 fill of
// argon2_fast.h where the CPU has AVX2, else libargon2; as LUKS2 and
// cryptsetup compute it: t_cost = time, m_cost = memory_kib (KiB),
// lanes = cpus (part of the result), no secret, no associated data.
// `threads` only changes speed (capped at lanes).
// Errors: kInvalidArgument for parameters libargon2 refuses;
// kResourceExhausted when the memory cannot be allocated.
Status Argon2(KdfType type, std::span<const uint8_t> password,
              std::span<const uint8_t> salt, uint32_t time,
              uint32_t memory_kib, uint32_t cpus, uint32_t threads,
              std::span<uint8_t> out);

// For the debug log: the KDF of `kdf` and the implementation this process
// runs it with, e.g. "pbkdf2-sha256 (sha-ni kernel)" or "argon2id
// (libargon2)". Never includes salts or other header bytes.
std::string DescribeKdf(const KdfParams& kdf);

}  // namespace luksfs::crypto
