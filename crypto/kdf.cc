#include "crypto/kdf.h"

#include <argon2.h>
#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <string>

#include "crypto/hash.h"

namespace luksfs::crypto {

Status Pbkdf2(std::string_view hash, std::span<const uint8_t> password,
              std::span<const uint8_t> salt, uint32_t iterations,
              std::span<uint8_t> out) {
  if (iterations == 0) {
    return Status::InvalidArgument("pbkdf2 with 0 iterations");
  }
  if (iterations > INT_MAX || password.size() > INT_MAX ||
      salt.size() > INT_MAX || out.size() > INT_MAX) {
    return Status::InvalidArgument("pbkdf2 parameter out of range");
  }
  LUKSFS_ASSIGN_OR_RETURN(const EVP_MD* md, LookupHash(hash));
  // PKCS5_PBKDF2_HMAC wants a char*; an empty password needs a valid pointer.
  static const char kEmpty[1] = {0};
  const char* pw = password.empty()
                       ? kEmpty
                       : reinterpret_cast<const char*>(password.data());
  if (PKCS5_PBKDF2_HMAC(pw, static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()),
                        static_cast<int>(iterations), md,
                        static_cast<int>(out.size()), out.data()) != 1) {
    return Status::Internal("OpenSSL PBKDF2 failed");
  }
  return Status();
}

Status Argon2(KdfType type, std::span<const uint8_t> password,
              std::span<const uint8_t> salt, uint32_t time,
              uint32_t memory_kib, uint32_t cpus, uint32_t threads,
              std::span<uint8_t> out) {
  if (type == KdfType::kPbkdf2) {
    return Status::InvalidArgument("Argon2 called with a pbkdf2 KDF");
  }
  static uint8_t empty[1] = {0};
  argon2_context ctx{};
  ctx.out = out.data();
  ctx.outlen = static_cast<uint32_t>(out.size());
  ctx.pwd = password.empty() ? empty : const_cast<uint8_t*>(password.data());
  ctx.pwdlen = static_cast<uint32_t>(password.size());
  ctx.salt = const_cast<uint8_t*>(salt.data());
  ctx.saltlen = static_cast<uint32_t>(salt.size());
  ctx.t_cost = time;
  ctx.m_cost = memory_kib;
  ctx.lanes = cpus;
  ctx.threads = std::max<uint32_t>(1, std::min(threads, cpus));
  ctx.version = ARGON2_VERSION_13;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  int rc = argon2_ctx(&ctx, type == KdfType::kArgon2i ? Argon2_i : Argon2_id);
  if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) {
    return Status::ResourceExhausted("argon2: cannot allocate " +
                                     std::to_string(memory_kib) + " KiB");
  }
  if (rc != ARGON2_OK) {
    return Status::InvalidArgument(std::string("argon2: ") +
                                   argon2_error_message(rc));
  }
  return Status();
}

}  // namespace luksfs::crypto
