// Password-based key derivation for LUKS keyslots and digests.
//
// Both functions write exactly out.size() bytes. Secrets (passphrase, out)
// are the caller's: pass SecureBuffer spans. Nothing is logged.
// Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/status.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

// PBKDF2-HMAC (RFC 8018) with the LUKS hash `hash`.
// Errors: kNotSupported for an unknown hash; kInvalidArgument for 0
// iterations.
Status Pbkdf2(std::string_view hash, std::span<const uint8_t> password,
              std::span<const uint8_t> salt, uint32_t iterations,
              std::span<uint8_t> out);

// Argon2i/Argon2id version 0x13 through libargon2 (RFC 9106), as LUKS2 and
// cryptsetup compute it: t_cost = time, m_cost = memory_kib (KiB),
// lanes = cpus (part of the result), no secret, no associated data.
// `threads` only changes speed (capped at lanes).
// Errors: kInvalidArgument for parameters libargon2 refuses;
// kResourceExhausted when the memory cannot be allocated.
Status Argon2(KdfType type, std::span<const uint8_t> password,
              std::span<const uint8_t> salt, uint32_t time,
              uint32_t memory_kib, uint32_t cpus, uint32_t threads,
              std::span<uint8_t> out);

}  // namespace luksfs::crypto
