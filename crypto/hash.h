// Hash functions by LUKS name ("sha1", "sha256", "sha512", "ripemd160", ...)
// over OpenSSL EVP. Used by the AF splitter, digests, ESSIV and checksums.
//
// Thread-safety: all functions are reentrant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/result.h"

typedef struct evp_md_st EVP_MD;

namespace luksfs::crypto {

// The OpenSSL digest for a LUKS hash name, or kNotSupported naming it.
// Accepts sha1, sha224, sha256, sha384, sha512, sha3-256, sha3-512,
// ripemd160 and whirlpool (the last two need OpenSSL's legacy provider,
// loaded on demand).
Result<const EVP_MD*> LookupHash(std::string_view name);

// Digest length in bytes of `name`, or kNotSupported.
Result<size_t> HashSize(std::string_view name);

// out = H(a || b). REQUIRES: out.size() == HashSize(name).
Status HashTwo(const EVP_MD* md, std::span<const uint8_t> a,
               std::span<const uint8_t> b, std::span<uint8_t> out);

}  // namespace luksfs::crypto
