#include "common/secure_buffer.h"

#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace luksfs {

Status InitSodium() {
  static std::once_flag once;
  static int rc = -1;
  std::call_once(once, [] { rc = sodium_init(); });
  if (rc < 0) return Status::Internal("libsodium failed to initialise");
  return Status();
}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
  if (this != &other) {
    Wipe();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

Result<SecureBuffer> SecureBuffer::Create(size_t size) {
  LUKSFS_RETURN_IF_ERROR(InitSodium());
  SecureBuffer b;
  // sodium_malloc(0) is valid but we keep a 1-byte allocation so data() is
  // never null for a created buffer.
  void* p = sodium_malloc(size == 0 ? 1 : size);
  if (p == nullptr) {
    return Status::ResourceExhausted(
        "cannot allocate " + std::to_string(size) +
        " bytes of locked memory for a secret (check RLIMIT_MEMLOCK)");
  }
  std::memset(p, 0, size == 0 ? 1 : size);
  b.data_ = static_cast<uint8_t*>(p);
  b.size_ = size;
  return b;
}

Result<SecureBuffer> SecureBuffer::CopyOf(std::span<const uint8_t> bytes) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer b, Create(bytes.size()));
  if (!bytes.empty()) std::memcpy(b.data_, bytes.data(), bytes.size());
  return b;
}

void SecureBuffer::Truncate(size_t n) {
  if (n >= size_) return;
  sodium_memzero(data_ + n, size_ - n);
  size_ = n;
}

void SecureBuffer::Wipe() {
  if (data_ != nullptr) {
    sodium_memzero(data_, size_);
    sodium_free(data_);  // wipes the whole allocation again and unlocks it
    data_ = nullptr;
    size_ = 0;
  }
}

bool SecureBuffer::Equals(std::span<const uint8_t> other) const {
  if (other.size() != size_) return false;
  if (size_ == 0) return true;
  return sodium_memcmp(data_, other.data(), size_) == 0;
}

void SecureWipe(void* p, size_t n) {
  if (p != nullptr && n != 0) sodium_memzero(p, n);
}

Status HardenProcess() {
  LUKSFS_RETURN_IF_ERROR(InitSodium());
  struct rlimit no_core = {0, 0};
  if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
    return PosixError("setrlimit(RLIMIT_CORE, 0)", errno);
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return PosixError("prctl(PR_SET_DUMPABLE, 0)", errno);
  }
  return Status();
}

}  // namespace luksfs
