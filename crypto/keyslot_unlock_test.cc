// Keyslot selection order and resource limits. (Unlocking real images is
// covered by the integration tests against cryptsetup and qemu-img.)
#include "crypto/keyslot_unlock.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <mutex>

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
