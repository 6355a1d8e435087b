// CryptEngine: thread-safe, parallel encryption/decryption of runs of
// encryption units for one volume key.
//
// Requests up to `inline_bytes` run on the calling thread; larger ones are
// cut into sector-aligned chunks spread over a worker pool, the caller
// running one chunk itself — but only while no other request is in flight
// (concurrent requests already use the cores). By default inline_bytes is
// 64 KiB, or 2 MiB (larger than any FUSE request) when the cipher runs on
// the VAES kernel: measured with 1 MiB O_DIRECT requests at queue depth 1
// on 2 cores, splitting lost 36% of read throughput with VAES (2425 vs
// 3794 MB/s) and gained 15% with the portable kernel (2505 vs 2175). Every thread uses its own SectorCipher (keyed
// once), so no cipher context is shared. An inline request takes the cipher
// of its thread's slot (one atomic exchange on a cache line of its own, no
// lock); the split path, and a thread whose slot is busy (more threads than
// slots), lease one from a pool behind a mutex.
//
// DropKeys() waits for in-flight calls, then frees every cipher context and
// wipes the key; afterwards every call fails with kKeyRevoked.
//
// Units: iv_sector is in 512-byte units (see SectorCipher); sizes in bytes.
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "common/thread_pool.h"
#include "crypto/sector_cipher.h"

namespace luksfs::crypto {

struct EngineOptions {
  unsigned threads = 0;            // workers; 0: online CPUs; 1: all inline
  // Requests up to this run on the caller; unset: chosen by the kernel,
  // see above.
  std::optional<size_t> inline_bytes;
  size_t min_chunk_bytes = 64 * 1024;
};

class CryptEngine {
 public:
  // Errors: those of SectorCipher::Create.
  static Result<std::unique_ptr<CryptEngine>> Create(
      std::string_view spec, std::span<const uint8_t> key,
      uint32_t sector_size, const EngineOptions& options);
  ~CryptEngine();
  CryptEngine(const CryptEngine&) = delete;
  CryptEngine& operator=(const CryptEngine&) = delete;

  // in and out: same size, whole units; may be the same memory.
  // Errors: kKeyRevoked after DropKeys(); those of SectorCipher.
  Status Decrypt(uint64_t iv_sector, std::span<const uint8_t> in,
                 std::span<uint8_t> out);
  Status Encrypt(uint64_t iv_sector, std::span<const uint8_t> in,
                 std::span<uint8_t> out);

  void DropKeys();
  bool keys_dropped() const;
  uint32_t sector_size() const { return sector_size_; }
  unsigned threads() const { return pool_ ? pool_->size() + 1 : 1; }
  // Requests up to this many bytes run on the caller (see EngineOptions).
  size_t inline_bytes() const { return inline_bytes_; }
  // Whether the ciphers run on the VAES XTS kernel (SectorCipher::vector_aes).
  bool vector_aes() const { return vector_aes_; }

 private:
  CryptEngine(std::unique_ptr<SectorCipher> prototype, uint32_t sector_size,
              const EngineOptions& options);
  Status Run(bool encrypt, uint64_t iv_sector, std::span<const uint8_t> in,
             std::span<uint8_t> out);
  Status RunOne(bool encrypt, uint64_t iv_sector, std::span<const uint8_t> in,
                std::span<uint8_t> out);
  Result<std::unique_ptr<SectorCipher>> Lease();
  void Return(std::unique_ptr<SectorCipher> c);
  // Runs the whole request on the calling thread's slot cipher; false (and
  // *status untouched) when that slot is busy: the caller leases instead.
  bool RunInSlot(bool encrypt, uint64_t iv_sector, std::span<const uint8_t> in,
                 std::span<uint8_t> out, Status* status);

  const uint32_t sector_size_;
  const EngineOptions options_;
  size_t inline_bytes_;  // options_.inline_bytes, or the default for the kernel
  bool vector_aes_;
  std::unique_ptr<ThreadPool> pool_;

  // Held shared by every Encrypt/Decrypt for its whole duration, exclusive by
  // DropKeys(). Order: keys_mu_ before idle_mu_.
  mutable std::shared_mutex keys_mu_;
  std::unique_ptr<SectorCipher> prototype_;  // GUARDED_BY(keys_mu_); null once dropped

  // Encrypt/Decrypt calls under way; a request is split over the workers
  // only when it is alone.
  std::atomic<int> in_flight_{0};

  // Guards idle_ (ciphers not in use). Held only to push/pop, never during
  // crypto.
  std::mutex idle_mu_;
  std::vector<std::unique_ptr<SectorCipher>> idle_;

  // Per-thread cipher slots of the inline path (a thread's slot: a
  // process-wide thread index modulo kSlots). `busy` is the slot's lock,
  // taken by exchange and never waited for by a request (it leases
  // instead). DropKeys() sets dropped_, then takes every slot for good
  // (waiting for the request in it) and frees its cipher; a request checks
  // dropped_ after taking its slot (both seq_cst), so it either sees the
  // drop or is waited for. While a request holds a slot and saw dropped_
  // false, prototype_ stays alive (DropKeys resets it last).
  static constexpr size_t kSlots = 64;
  struct alignas(64) Slot {
    std::atomic<bool> busy{false};
    std::unique_ptr<SectorCipher> cipher;  // owned by the slot's holder
  };
  std::unique_ptr<Slot[]> slots_;
  std::atomic<bool> dropped_{false};
};

}  // namespace luksfs::crypto
