// The KDF benchmark lands near its target and within the format's bounds.
#include "crypto/kdf_bench.h"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

#include "crypto/kdf.h"

namespace luksfs::crypto {
namespace {

double TimeArgon2(const KdfParams& p) {
  std::vector<uint8_t> salt(32, 1), out(64);
  const uint8_t pw[] = "x";
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(Argon2(p.type, pw, salt, p.iterations, p.memory_kib, p.cpus, 2, out).ok());
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
      .count();
}

TEST(KdfBenchTest, Pbkdf2HasTheMinimumForTinyTargets) {
  KdfBenchTarget t;
  t.type = KdfType::kPbkdf2;
  t.target_ms = 1;
  auto p = BenchmarkKdf(t);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_GE(p->iterations, 1000u);
  EXPECT_EQ(p->hash, "sha256");
}

TEST(KdfBenchTest, Pbkdf2ScalesWithTheTarget) {
  // 40x the time; timing noise on a loaded machine is far below 8x.
  auto a = BenchmarkPbkdf2("sha256", 25, 64);
  auto b = BenchmarkPbkdf2("sha256", 1000, 64);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_GT(*b, *a * 5);
}

TEST(KdfBenchTest, Argon2ShrinksMemoryForShortTargets) {
  KdfBenchTarget t;
  t.type = KdfType::kArgon2id;
  t.target_ms = 100;
  t.max_memory_kib = 1048576;
  t.parallel = 2;
  auto p = BenchmarkKdf(t);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->iterations, 4u);
  EXPECT_LT(p->memory_kib, 1048576u);
  EXPECT_EQ(p->cpus, 2u);
  const double ms = TimeArgon2(*p);
  EXPECT_GT(ms, 10);   // near the target (loose: the machine is shared)
  EXPECT_LT(ms, 1500);
}

TEST(KdfBenchTest, Argon2RaisesTimeAtFullMemory) {
  KdfBenchTarget t;
  t.type = KdfType::kArgon2i;
  t.target_ms = 150;
  t.max_memory_kib = 1024;
  t.parallel = 1;
  auto p = BenchmarkKdf(t);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->memory_kib, 1024u);
  EXPECT_GT(p->iterations, 4u);
}

}  // namespace
}  // namespace luksfs::crypto
