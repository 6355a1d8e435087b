// SecureBuffer: the only home for secrets (passphrases, derived keys, volume
// keys, KMS plaintext).
//
// Memory comes from libsodium's sodium_malloc: it is mlock()ed (never
// swapped), surrounded by guard pages, excluded from core dumps
// (MADV_DONTDUMP), and wiped by sodium_free when the buffer is destroyed or
// Wipe()d. The type is move-only and has no stream operator, so a secret
// cannot be copied or printed by accident.
//
// Thread-safety: none; a SecureBuffer is owned by one thread at a time.
// Errors: Create() fails with kResourceExhausted when locked memory is short
// (RLIMIT_MEMLOCK).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/result.h"

namespace luksfs {

class SecureBuffer {
 public:
  SecureBuffer() = default;  // empty, holds nothing
  ~SecureBuffer() { Wipe(); }

  SecureBuffer(SecureBuffer&& other) noexcept
      : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  SecureBuffer& operator=(SecureBuffer&& other) noexcept;
  SecureBuffer(const SecureBuffer&) = delete;
  SecureBuffer& operator=(const SecureBuffer&) = delete;

  // A zero-filled buffer of `size` bytes (size 0 is allowed).
  static Result<SecureBuffer> Create(size_t size);
  // A copy of `bytes`.
  static Result<SecureBuffer> CopyOf(std::span<const uint8_t> bytes);

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }

  // Shrinks the logical size (the tail is zeroed). REQUIRES: n <= size().
  void Truncate(size_t n);

  // Zeroes and frees the memory now; the buffer becomes empty.
  void Wipe();

  // Constant-time comparison of contents (sizes are not secret).
  bool Equals(std::span<const uint8_t> other) const;

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Wipes ordinary memory that briefly held a secret (stack arrays, scratch).
void SecureWipe(void* p, size_t n);

// Process hardening for a program that holds keys: not dumpable (no ptrace
// by other users, no core dump), RLIMIT_CORE 0. Also initialises libsodium.
Status HardenProcess();

// Initialises libsodium once. Safe from any thread.
Status InitSodium();

}  // namespace luksfs
