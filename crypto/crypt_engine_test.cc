// The parallel engine must produce exactly what one SectorCipher produces
// (itself checked against IEEE vectors), for every split of the work.
#include "crypto/crypt_engine.h"

#include <gtest/gtest.h>
#include <openssl/rand.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "crypto/test_util.h"

namespace luksfs::crypto {
namespace {

using testing::Random;

class CryptEngineTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(CryptEngineTest, ParallelEqualsSerial) {
  const uint32_t ss = GetParam();
  const auto key = Random(64);
  const auto plain = Random(8 << 20);
  EngineOptions opts;
  opts.threads = 4;
  opts.inline_bytes = 64 << 10;  // split 200 KiB and up, whatever the kernel
  auto engine = CryptEngine::Create("aes-xts-plain64", key, ss, opts);
  ASSERT_TRUE(engine.ok());
  auto serial = SectorCipher::Create("aes-xts-plain64", key, ss);
  ASSERT_TRUE(serial.ok());
  for (size_t len : {size_t{ss}, size_t{64 << 10}, size_t{200 << 10},
                     size_t{1 << 20} + ss, size_t{8 << 20}}) {
    std::vector<uint8_t> a(len), b(len);
    ASSERT_TRUE((*engine)->Encrypt(1000, {plain.data(), len}, a).ok());
    ASSERT_TRUE((*serial)->Encrypt(1000, {plain.data(), len}, b).ok());
    ASSERT_EQ(a, b) << "len " << len;
    ASSERT_TRUE((*engine)->Decrypt(1000, a, a).ok());
    ASSERT_EQ(0, std::memcmp(a.data(), plain.data(), len)) << "len " << len;
  }
}

INSTANTIATE_TEST_SUITE_P(SectorSizes, CryptEngineTest,
                         ::testing::Values(512u, 4096u));

// Unset inline_bytes follows the kernel: 2 MiB (no FUSE request is split)
// on VAES, 64 KiB on the portable path; an explicit value wins.
TEST(CryptEngineOptionsTest, InlineBytesDefaultFollowsKernel) {
  const auto key = Random(64);
  EngineOptions opts;
  opts.threads = 2;
  auto engine = CryptEngine::Create("aes-xts-plain64", key, 512, opts);
  ASSERT_TRUE(engine.ok());
  auto probe = SectorCipher::Create("aes-xts-plain64", key, 512);
  ASSERT_TRUE(probe.ok());
  EXPECT_EQ((*engine)->inline_bytes(),
            (*probe)->vector_aes() ? size_t{2} << 20 : size_t{64} << 10);
  auto cbc = CryptEngine::Create("aes-cbc-essiv:sha256", Random(32), 512, opts);
  ASSERT_TRUE(cbc.ok());
  EXPECT_EQ((*cbc)->inline_bytes(), size_t{64} << 10);
  opts.inline_bytes = 4096;
  auto fixed = CryptEngine::Create("aes-xts-plain64", key, 512, opts);
  ASSERT_TRUE(fixed.ok());
  EXPECT_EQ((*fixed)->inline_bytes(), 4096u);
}

// More threads than the engine has cipher slots (64): every inline call
// runs either on its thread's slot or, when that slot is taken by another
// thread, on a leased cipher; both must give what one SectorCipher gives.
TEST(CryptEngineSlotTest, ManyThreadsShareSlotsAndLeases) {
  const auto key = Random(64);
  const auto plain = Random(4096);
  EngineOptions opts;
  opts.threads = 2;
  auto engine = CryptEngine::Create("aes-xts-plain64", key, 512, opts);
  ASSERT_TRUE(engine.ok());
  auto serial = SectorCipher::Create("aes-xts-plain64", key, 512);
  ASSERT_TRUE(serial.ok());
  constexpr int kThreads = 80;
  std::vector<std::vector<uint8_t>> want(kThreads, std::vector<uint8_t>(4096));
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE((*serial)->Encrypt(t * 8, plain, want[t]).ok());
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> buf(4096);
      for (int i = 0; i < 200; ++i) {
        if (!(*engine)->Encrypt(t * 8, plain, buf).ok() || buf != want[t]) {
          mismatches.fetch_add(1);
        }
        if (!(*engine)->Decrypt(t * 8, buf, buf).ok() ||
            std::memcmp(buf.data(), plain.data(), buf.size()) != 0) {
          mismatches.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  (*engine)->DropKeys();
  (*engine)->DropKeys();  // idempotent (the destructor drops again)
  std::vector<uint8_t> buf(4096);
  EXPECT_EQ((*engine)->Encrypt(0, plain, buf).code(), Status::Code::kKeyRevoked);
}

TEST(CryptEngineDropTest, ConcurrentCallersThenDrop) {
  const auto key = Random(64);
  EngineOptions opts;
  opts.threads = 2;
  auto engine = CryptEngine::Create("aes-xts-plain64", key, 512, opts);
  ASSERT_TRUE(engine.ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<uint8_t> buf(256 << 10, 7);
      for (int i = 0; i < 20; ++i) {
        Status s = (*engine)->Encrypt(i, buf, buf);
        if (!s.ok()) {
          EXPECT_EQ(s.code(), Status::Code::kKeyRevoked);
          return;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  (*engine)->DropKeys();
  for (auto& t : threads) t.join();
  EXPECT_TRUE((*engine)->keys_dropped());
  std::vector<uint8_t> buf(512);
  EXPECT_EQ((*engine)->Decrypt(0, buf, buf).code(), Status::Code::kKeyRevoked);
}

}  // namespace
}  // namespace luksfs::crypto
