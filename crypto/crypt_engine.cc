#include "crypto/crypt_engine.h"

#include <algorithm>
#include <thread>

namespace luksfs::crypto {

Result<std::unique_ptr<CryptEngine>> CryptEngine::Create(
    std::string_view spec, std::span<const uint8_t> key, uint32_t sector_size,
    const EngineOptions& options) {
  LUKSFS_ASSIGN_OR_RETURN(auto proto,
                          SectorCipher::Create(spec, key, sector_size));
  return std::unique_ptr<CryptEngine>(
      new CryptEngine(std::move(proto), sector_size, options));
}

CryptEngine::CryptEngine(std::unique_ptr<SectorCipher> prototype,
                         uint32_t sector_size, const EngineOptions& options)
    : sector_size_(sector_size),
      options_(options),
      prototype_(std::move(prototype)),
      slots_(new Slot[kSlots]) {
  vector_aes_ = prototype_->vector_aes();
  inline_bytes_ = options.inline_bytes.value_or(
      vector_aes_ ? size_t{2} << 20 : size_t{64} << 10);
  unsigned n = options.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  // The calling thread always takes one chunk, so n-way parallelism needs
  // n-1 workers.
  if (n > 1) pool_ = std::make_unique<ThreadPool>(n - 1);
}

CryptEngine::~CryptEngine() {
  pool_.reset();  // joins workers before the ciphers go
  DropKeys();
}

void CryptEngine::DropKeys() {
  dropped_.store(true, std::memory_order_seq_cst);
  std::unique_lock<std::shared_mutex> keys(keys_mu_);
  // prototype_ is reset last: null means an earlier call took the slots.
  for (size_t i = 0; prototype_ != nullptr && i < kSlots; ++i) {
    // Taken for good: after this no request uses the slot again.
    while (slots_[i].busy.exchange(true, std::memory_order_seq_cst)) {
      std::this_thread::yield();  // a request is in it: a few microseconds
    }
    slots_[i].cipher.reset();
  }
  std::lock_guard<std::mutex> idle(idle_mu_);
  idle_.clear();       // frees (and OpenSSL cleanses) every context
  prototype_.reset();  // wipes the key copy in its SecureBuffer
}

bool CryptEngine::keys_dropped() const {
  return dropped_.load(std::memory_order_acquire);
}

namespace {
// A process-wide index per thread, for CryptEngine's slots.
size_t ThreadIndex() {
  static std::atomic<size_t> next{0};
  thread_local const size_t mine = next.fetch_add(1, std::memory_order_relaxed);
  return mine;
}
}  // namespace

bool CryptEngine::RunInSlot(bool encrypt, uint64_t iv_sector,
                            std::span<const uint8_t> in,
                            std::span<uint8_t> out, Status* status) {
  Slot& slot = slots_[ThreadIndex() % kSlots];
  if (slot.busy.exchange(true, std::memory_order_seq_cst)) return false;
  if (dropped_.load(std::memory_order_seq_cst)) {
    slot.busy.store(false, std::memory_order_release);
    *status = Status::KeyRevoked("the volume key has been dropped");
    return true;
  }
  if (slot.cipher == nullptr) {
    // prototype_ is alive: DropKeys has not taken this slot (see the header).
    Result<std::unique_ptr<SectorCipher>> c = prototype_->Clone();
    if (!c.ok()) {
      slot.busy.store(false, std::memory_order_release);
      *status = c.status();
      return true;
    }
    slot.cipher = std::move(*c);
  }
  *status = encrypt ? slot.cipher->Encrypt(iv_sector, in, out)
                    : slot.cipher->Decrypt(iv_sector, in, out);
  slot.busy.store(false, std::memory_order_release);
  return true;
}

Result<std::unique_ptr<SectorCipher>> CryptEngine::Lease() {
  {
    std::lock_guard<std::mutex> lock(idle_mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
  }
  return prototype_->Clone();  // REQUIRES: keys_mu_ held shared, not dropped
}

void CryptEngine::Return(std::unique_ptr<SectorCipher> c) {
  std::lock_guard<std::mutex> lock(idle_mu_);
  idle_.push_back(std::move(c));
}

Status CryptEngine::Decrypt(uint64_t iv_sector, std::span<const uint8_t> in,
                            std::span<uint8_t> out) {
  return Run(false, iv_sector, in, out);
}

Status CryptEngine::Encrypt(uint64_t iv_sector, std::span<const uint8_t> in,
                            std::span<uint8_t> out) {
  return Run(true, iv_sector, in, out);
}

Status CryptEngine::RunOne(bool encrypt, uint64_t iv_sector,
                           std::span<const uint8_t> in,
                           std::span<uint8_t> out) {
  LUKSFS_ASSIGN_OR_RETURN(auto cipher, Lease());
  Status s = encrypt ? cipher->Encrypt(iv_sector, in, out)
                     : cipher->Decrypt(iv_sector, in, out);
  Return(std::move(cipher));
  return s;
}

Status CryptEngine::Run(bool encrypt, uint64_t iv_sector,
                        std::span<const uint8_t> in, std::span<uint8_t> out) {
  if (dropped_.load(std::memory_order_acquire)) {
    return Status::KeyRevoked("the volume key has been dropped");
  }
  if (in.size() != out.size() || in.size() % sector_size_ != 0) {
    return Status::InvalidArgument("crypt run is not whole sectors");
  }
  // Split a large request only when it is the only one in flight: with
  // several requests the cores are already busy, and splitting each one
  // only adds hand-offs (measured, 1 MiB O_DIRECT reads on 2 cores: the
  // split gains ~25% at queue depth 1 and loses ~15% at depth 4).
  struct InFlight {
    std::atomic<int>& n;
    int before;
    explicit InFlight(std::atomic<int>& c) : n(c), before(c.fetch_add(1)) {}
    ~InFlight() { n.fetch_sub(1); }
  } in_flight(in_flight_);
  const bool inline_run =
      !pool_ || in.size() <= inline_bytes_ || in_flight.before > 0;
  if (inline_run) {
    Status s;
    if (RunInSlot(encrypt, iv_sector, in, out, &s)) return s;
  }
  std::shared_lock<std::shared_mutex> keys(keys_mu_);
  if (prototype_ == nullptr) {
    return Status::KeyRevoked("the volume key has been dropped");
  }
  if (inline_run) return RunOne(encrypt, iv_sector, in, out);
  // Split into at most threads() chunks of whole units, each at least
  // min_chunk_bytes.
  const size_t units = in.size() / sector_size_;
  const size_t min_units =
      std::max<size_t>(1, options_.min_chunk_bytes / sector_size_);
  size_t chunks = std::min<size_t>(threads(), units / min_units);
  chunks = std::max<size_t>(1, chunks);
  if (chunks == 1) return RunOne(encrypt, iv_sector, in, out);
  const size_t per = (units + chunks - 1) / chunks;
  const uint64_t step = sector_size_ / 512;

  std::vector<Status> results(chunks);
  Latch done(chunks - 1);
  for (size_t c = 1; c < chunks; ++c) {
    const size_t first = c * per;
    const size_t count = std::min(per, units - std::min(units, first));
    pool_->Submit([&, c, first, count] {
      if (count > 0) {
        const size_t off = first * sector_size_, len = count * sector_size_;
        results[c] = RunOne(encrypt, iv_sector + first * step,
                            in.subspan(off, len), out.subspan(off, len));
      }
      done.CountDown();
    });
  }
  results[0] = RunOne(encrypt, iv_sector, in.subspan(0, per * sector_size_),
                      out.subspan(0, per * sector_size_));
  done.Wait();
  for (const Status& s : results) LUKSFS_RETURN_IF_ERROR(s);
  return Status();
}

}  // namespace luksfs::crypto
