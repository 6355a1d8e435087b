// Keyslot selection order and resource limits. (Unlocking real images is
// covered by the integration tests against cryptsetup and qemu-img.)
#include "crypto/keyslot_unlock.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>
#include <chrono>

#include "crypto/kdf_cost.h"

namespace luksfs::crypto {
namespace {

Keyslot Slot(int index, int priority) {
  Keyslot ks;
  ks.index = index;
  ks.type = "luks2";
  ks.priority = priority;
  ks.key_bytes = 32;
  ks.kdf.type = KdfType::kPbkdf2;
  ks.kdf.hash = "sha256";
  ks.kdf.iterations = 1;
  ks.kdf.salt.assign(32, index);
  ks.af_hash = "sha256";
  ks.stripes = 4000;
  ks.area_offset = 32768 + uint64_t(index) * 131072;
  ks.area_size = 131072;
  ks.area_cipher = "aes-xts-plain64";
  ks.area_key_bytes = 64;
  return ks;
}

LuksHeader Header(std::vector<Keyslot> slots) {
  LuksHeader h;
  h.version = 2;
  h.key_bytes = 32;
  Digest d;
  d.type = "pbkdf2";
  d.hash = "sha256";
  d.iterations = 1;
  d.salt.assign(32, 9);
  d.value.assign(32, 0xee);  // nothing will match
  d.segments = {0};
  for (const auto& s : slots) d.keyslots.push_back(s.index);
  h.digests.push_back(d);
  h.keyslots = std::move(slots);
  return h;
}

TEST(UnlockTest, TriesSlotsInCryptsetupPriorityOrder) {
  LuksHeader h = Header({Slot(0, 1), Slot(1, 0), Slot(2, 2), Slot(3, 1)});
  std::vector<uint64_t> reads;
  ReadFn read = [&](uint64_t off, std::span<uint8_t> dst) {
    reads.push_back(off);
    std::fill(dst.begin(), dst.end(), 0);
    return Status();
  };
  const uint8_t pw[] = {'x'};
  UnlockLimits one_core;  // one trial at a time: the order is observable
  one_core.kdf_threads = 1;
  auto r = UnlockKeyslot(h, read, pw, std::nullopt, one_core);
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
  // Preferred slot 2 first, then the normal slots 0 and 3; slot 1 (priority
  // 0, "ignore") is not tried unless named.
  std::vector<uint64_t> want = {h.keyslots[2].area_offset,
                                h.keyslots[0].area_offset,
                                h.keyslots[3].area_offset};
  EXPECT_EQ(reads, want);

  reads.clear();
  r = UnlockKeyslot(h, read, pw, 1, UnlockLimits{});
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(reads, std::vector<uint64_t>{h.keyslots[1].area_offset});

  r = UnlockKeyslot(h, read, pw, 7, UnlockLimits{});
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
}

TEST(UnlockTest, ParallelTrialsTryTheSameSlots) {
  LuksHeader h = Header({Slot(0, 1), Slot(1, 0), Slot(2, 2), Slot(3, 1)});
  std::mutex mu;
  std::vector<uint64_t> reads;
  ReadFn read = [&](uint64_t off, std::span<uint8_t> dst) {
    std::lock_guard<std::mutex> g(mu);
    reads.push_back(off);
    std::fill(dst.begin(), dst.end(), 0);
    return Status();
  };
  const uint8_t pw[] = {'x'};
  UnlockLimits four;
  four.kdf_threads = 4;
  auto r = UnlockKeyslot(h, read, pw, std::nullopt, four);
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
  std::sort(reads.begin(), reads.end());
  std::vector<uint64_t> want = {h.keyslots[0].area_offset,
                                h.keyslots[2].area_offset,
                                h.keyslots[3].area_offset};
  EXPECT_EQ(reads, want);
}

TEST(UnlockTest, HostileArgon2MemoryIsRefusedBeforeAllocating) {
  Keyslot ks = Slot(0, 1);
  ks.kdf.type = KdfType::kArgon2id;
  ks.kdf.iterations = 4;
  ks.kdf.memory_kib = 4194304;  // 4 GiB
  ks.kdf.cpus = 4;
  LuksHeader h = Header({ks});
  bool read_called = false;
  ReadFn read = [&](uint64_t, std::span<uint8_t>) {
    read_called = true;
    return Status();
  };
  const uint8_t pw[] = {'x'};
  auto r = UnlockKeyslot(h, read, pw, std::nullopt, UnlockLimits{});
  EXPECT_EQ(r.status().code(), Status::Code::kResourceExhausted);
  EXPECT_NE(r.status().message().find("4194304"), std::string::npos);
  EXPECT_FALSE(read_called);

  h.keyslots[0].kdf.memory_kib = 65536;
  h.keyslots[0].kdf.iterations = 1u << 30;  // hours of work
  r = UnlockKeyslot(h, read, pw, std::nullopt, UnlockLimits{});
  EXPECT_EQ(r.status().code(), Status::Code::kResourceExhausted);

  Keyslot p = Slot(0, 1);
  p.kdf.iterations = 0xffffffffu;
  r = UnlockKeyslot(Header({p}), read, pw, std::nullopt, UnlockLimits{});
  EXPECT_EQ(r.status().code(), Status::Code::kResourceExhausted);
  EXPECT_FALSE(read_called);
}

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

ReadFn ZeroRead(bool* called) {
  return [called](uint64_t, std::span<uint8_t> dst) {
    *called = true;
    std::fill(dst.begin(), dst.end(), 0);
    return Status();
  };
}

// A digest asking for 2^28 iterations (about a minute here) is refused
// before any KDF runs, naming the digest, the count and the cap.
TEST(UnlockTest, HostileDigestIterationsRefusedUpFront) {
  LuksHeader h = Header({Slot(0, 1), Slot(1, 1)});
  h.digests[0].iterations = 1u << 28;
  bool read_called = false;
  const uint8_t pw[] = {'x'};
  const auto t0 = std::chrono::steady_clock::now();
  auto r = UnlockKeyslot(h, ZeroRead(&read_called), pw, std::nullopt,
                         UnlockLimits{});
  EXPECT_LT(SecondsSince(t0), 1.0);
  EXPECT_EQ(r.status().code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(r.status().message(),
            "digest 0 asks for 268435456 iterations, more than luksfs "
            "accepts (16777216)");
  EXPECT_FALSE(read_called);
  EXPECT_EQ(VerifyVolumeKey(h, std::vector<uint8_t>(32)).code(),
            Status::Code::kResourceExhausted);

  h.digests[0].iterations = 1000;
  r = UnlockKeyslot(h, ZeroRead(&read_called), pw, std::nullopt,
                    UnlockLimits{});
  EXPECT_EQ(r.status().code(), Status::Code::kPermissionDenied);
  EXPECT_TRUE(read_called);
}

// A slot within the per-KDF caps but estimated beyond the time budget is
// refused before its KDF runs; the message names the slot and the option.
TEST(UnlockTest, KdfTimeBudgetRefusesBeforeRunning) {
  Keyslot slow = Slot(3, 1);
  slow.kdf.iterations = (1u << 28) - 1;  // under max_pbkdf2_iterations
  LuksHeader h = Header({slow});
  bool read_called = false;
  const uint8_t pw[] = {'x'};
  UnlockLimits lim;
  lim.max_kdf_seconds = 2;
  const auto t0 = std::chrono::steady_clock::now();
  auto r = UnlockKeyslot(h, ZeroRead(&read_called), pw, std::nullopt, lim);
  EXPECT_LT(SecondsSince(t0), 1.0);
  EXPECT_EQ(r.status().code(), Status::Code::kResourceExhausted);
  const std::string m = r.status().message();
  EXPECT_EQ(m.rfind("keyslot 3: pbkdf2-sha256 with 268435455 iterations", 0),
            0u) << m;
  EXPECT_NE(m.find("(--max-kdf-time 2.0)"), std::string::npos) << m;
  EXPECT_FALSE(read_called);

  // Argon2 too: 1 GiB x 64 passes is far beyond 2 s.
  Keyslot a = Slot(5, 1);
  a.kdf.type = KdfType::kArgon2id;
  a.kdf.iterations = 64;
  a.kdf.memory_kib = 1048576;
  a.kdf.cpus = 4;
  r = UnlockKeyslot(Header({a}), ZeroRead(&read_called), pw, std::nullopt, lim);
  EXPECT_EQ(r.status().code(), Status::Code::kResourceExhausted);
  EXPECT_EQ(r.status().message().rfind(
                "keyslot 5: argon2id (time 64, memory 1048576 KiB)", 0),
            0u) << r.status().message();
  EXPECT_FALSE(read_called);

  // Without a budget the estimate does not refuse it (the slot is tried).
  Result<double> est = KdfSeconds(slow.kdf, 0);
  ASSERT_TRUE(est.ok());
  EXPECT_GT(*est, 2.0);
}

// Slots that fit are tried until the budget is spent; then the unlock
// stops and says so (wrong passphrase: exit 2, not a hostile header).
TEST(UnlockTest, KdfTimeBudgetStopsBetweenSlots) {
  Result<double> per_iter = Pbkdf2Seconds("sha256", 1000000);
  ASSERT_TRUE(per_iter.ok());
  // Slots of about 0.15 s each, under a 0.2 s budget: the first runs, the
  // second is refused by its estimate or by the spent budget.
  Keyslot s0 = Slot(0, 1), s1 = Slot(1, 1), s2 = Slot(2, 1);
  const uint32_t n = static_cast<uint32_t>(0.15 / *per_iter * 1000000);
  s0.kdf.iterations = s1.kdf.iterations = s2.kdf.iterations = n;
  LuksHeader h = Header({s0, s1, s2});
  std::vector<uint64_t> reads;
  ReadFn read = [&](uint64_t off, std::span<uint8_t> dst) {
    reads.push_back(off);
    std::fill(dst.begin(), dst.end(), 0);
    return Status();
  };
  const uint8_t pw[] = {'x'};
  UnlockLimits lim;
  lim.max_kdf_seconds = 0.2;
  auto r = UnlockKeyslot(h, read, pw, std::nullopt, lim);
  EXPECT_EQ(reads.size(), 1u);
  EXPECT_NE(r.status().code(), Status::Code::kOk);
  EXPECT_NE(r.status().message().find("--max-kdf-time"), std::string::npos)
      << r.status().message();
}

TEST(UnlockTest, ReadErrorsPropagate) {
  LuksHeader h = Header({Slot(0, 1)});
  ReadFn read = [&](uint64_t, std::span<uint8_t>) {
    return Status::IOError("read at byte 32768: Input/output error", 5);
  };
  const uint8_t pw[] = {'x'};
  auto r = UnlockKeyslot(h, read, pw, std::nullopt, UnlockLimits{});
  EXPECT_EQ(r.status().code(), Status::Code::kIOError);
}

}  // namespace
}  // namespace luksfs::crypto
