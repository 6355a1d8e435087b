#include "crypto/kdf.h"

#include <argon2.h>

#include <algorithm>
#include <string>

#include "crypto/argon2_fast.h"
#include "crypto/pbkdf2_fast.h"

namespace luksfs::crypto {

Status Pbkdf2(std::string_view hash, std::span<const uint8_t> password,
              std::span<const uint8_t> salt, uint32_t iterations,
              std::span<uint8_t> out, const std::atomic<bool>* cancel) {
  return Pbkdf2With(Pbkdf2KernelFor(hash), hash, password, salt, iterations,
                    out, cancel);
}

std::string DescribeKdf(const KdfParams& kdf) {
  if (kdf.type == KdfType::kPbkdf2) {
    return "pbkdf2-" + kdf.hash + " (" +
           Pbkdf2KernelName(Pbkdf2KernelFor(kdf.hash)) + " kernel)";
  }
  return std::string(KdfName(kdf.type)) +
         (Argon2FastChosen() ? " (AVX2 fill)" : " (libargon2)");
}

Status Argon2(KdfType type, std::span<const uint8_t> password,
              std::span<const uint8_t> salt, uint32_t time,
              uint32_t memory_kib, uint32_t cpus, uint32_t threads,
              std::span<uint8_t> out) {
  if (type == KdfType::kPbkdf2) {
    return Status::InvalidArgument("Argon2 called with a pbkdf2 KDF");
  }
  if (Argon2FastChosen()) {
    return Argon2Fast(type, password, salt, time, memory_kib, cpus, threads,
                      out);
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
