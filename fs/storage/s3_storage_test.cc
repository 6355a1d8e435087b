// S3Storage against a real S3 server. These tests run only when
// LUKSFS_TEST_S3_URI names an existing object (tests/integration/s3_grow.sh
// starts radosgw, uploads it and checks the result with an independent
// download); S3_ENDPOINT and the AWS_* credentials come from the
// environment as for luksfs itself. Otherwise they are skipped.
#include "fs/storage/s3_storage.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

namespace luksfs::fs {
namespace {

// The byte that write number `step` puts at image offset `o`. The
// integration script computes the expected object from the same formula.
uint8_t Pattern(uint64_t o, unsigned step) {
  return static_cast<uint8_t>((o * 131 + step * 17 + (o >> 12)) & 0xff);
}

std::vector<uint8_t> Fill(uint64_t offset, uint64_t n, unsigned step) {
  std::vector<uint8_t> v(n);
  for (uint64_t i = 0; i < n; ++i) v[i] = Pattern(offset + i, step);
  return v;
}

std::unique_ptr<S3Storage> OpenOrSkip() {
  const char* uri = std::getenv("LUKSFS_TEST_S3_URI");
  if (uri == nullptr || *uri == '\0') return nullptr;
  S3Options opts;
  if (const char* ep = std::getenv("S3_ENDPOINT")) opts.endpoint = ep;
  opts.commit_interval_s = 0;
  if (const char* dir = std::getenv("LUKSFS_TEST_CACHE_DIR")) opts.cache_dir = dir;
  auto s = S3Storage::Open(uri, /*writable=*/true, opts, ProcessEnv());
  EXPECT_TRUE(s.ok()) << s.status().message();
  return s.ok() ? std::move(*s) : nullptr;
}

constexpr uint64_t kMiB = 1024 * 1024;

// The object starts at 3 MiB (uploaded by the script). Writes, in order:
//   step 1: 100 KiB at 4 MiB (grows; 3..4 MiB is a zero gap); commit (PUT)
//   step 2: 64 KiB ending at 20 MiB (crosses into multipart); commit
//   step 3: 1 MiB at 30 MiB (parts 1 and 2 copied, not uploaded); commit
//   step 4: 5000 bytes at 2 MiB - 100 (inside the first object)
// then one more commit at the end.
TEST(S3StorageGrow, GrowsAndCommits) {
  auto st = OpenOrSkip();
  if (!st) GTEST_SKIP() << "LUKSFS_TEST_S3_URI not set";
  const uint64_t base = st->Size();
  ASSERT_EQ(base, 3 * kMiB);
  std::vector<uint8_t> orig(base);
  ASSERT_TRUE(st->ReadAt(0, orig).ok());

  auto w1 = Fill(4 * kMiB, 100 * 1024, 1);
  ASSERT_TRUE(st->WriteAt(4 * kMiB, w1).ok());
  EXPECT_EQ(st->Size(), 4 * kMiB + w1.size());
  // A read across the old end, the gap and the new bytes.
  std::vector<uint8_t> got(3 * kMiB + 1000);
  ASSERT_TRUE(st->ReadAt(kMiB, got).ok());
  {
    const uint64_t at = kMiB;
    for (uint64_t i = 0; i < got.size(); ++i) {
      const uint64_t o = at + i;
      const uint8_t want = o < base ? orig[o] : o < 4 * kMiB ? 0 : w1[o - 4 * kMiB];
      ASSERT_EQ(got[i], want) << "offset " << o;
    }
  }
  std::vector<uint8_t> past(1);
  EXPECT_FALSE(st->ReadAt(st->Size(), past).ok());
  ASSERT_TRUE(st->Flush().ok());
  EXPECT_EQ(st->bytes_uploaded(), 4 * kMiB + w1.size());  // one PUT

  auto w2 = Fill(20 * kMiB - 64 * 1024, 64 * 1024, 2);
  ASSERT_TRUE(st->WriteAt(20 * kMiB - 64 * 1024, w2).ok());
  EXPECT_EQ(st->Size(), 20 * kMiB);
  ASSERT_TRUE(st->Flush().ok());
  EXPECT_NE(st->etag().find('-'), std::string::npos) << st->etag();

  const uint64_t before3 = st->bytes_uploaded();
  auto w3 = Fill(30 * kMiB, kMiB, 3);
  ASSERT_TRUE(st->WriteAt(30 * kMiB, w3).ok());
  EXPECT_EQ(st->Size(), 31 * kMiB);
  ASSERT_TRUE(st->Flush().ok());
  // Parts [0, 8) and [8, 16) MiB were copied; [16, 24), [24, 31) uploaded.
  EXPECT_EQ(st->bytes_uploaded() - before3, 15 * kMiB);

  auto w4 = Fill(2 * kMiB - 100, 5000, 4);
  ASSERT_TRUE(st->WriteAt(2 * kMiB - 100, w4).ok());
  // Reads of the committed, grown object: old end block, gap, new data.
  std::vector<uint8_t> tail(31 * kMiB - (4 * kMiB - 4096));
  ASSERT_TRUE(st->ReadAt(4 * kMiB - 4096, tail).ok());
  for (uint64_t i = 0; i < 4096; ++i) ASSERT_EQ(tail[i], 0) << i;
  for (uint64_t i = 0; i < w1.size(); ++i) ASSERT_EQ(tail[4096 + i], w1[i]) << i;
  for (uint64_t i = 0; i < w3.size(); ++i) {
    ASSERT_EQ(tail[tail.size() - kMiB + i], w3[i]) << i;
  }
  ASSERT_TRUE(st->Flush().ok());
}

// Runs after GrowsAndCommits (31 MiB object). Random reads far apart must
// not start read-ahead: exactly one GET per read.
TEST(S3StorageGrow, RandomReadsDoNotReadAhead) {
  const char* uri = std::getenv("LUKSFS_TEST_S3_URI");
  if (uri == nullptr || *uri == '\0') GTEST_SKIP() << "LUKSFS_TEST_S3_URI not set";
  S3Options opts;
  if (const char* ep = std::getenv("S3_ENDPOINT")) opts.endpoint = ep;
  auto st = S3Storage::Open(uri, /*writable=*/false, opts, ProcessEnv());
  ASSERT_TRUE(st.ok()) << st.status().message();
  ASSERT_EQ((*st)->Size(), 31 * kMiB);
  const S3Client& c = (*st)->client();
  const uint64_t r0 = c.requests_sent() - c.retries();
  const uint64_t offs[] = {0, 20, 5, 28, 12, 1, 24, 9, 30, 16};
  std::vector<uint8_t> buf(4096);
  for (uint64_t mib : offs) ASSERT_TRUE((*st)->ReadAt(mib * kMiB + 777, buf).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(c.requests_sent() - c.retries() - r0, std::size(offs));
  // (Whether a sequential run's read-ahead has already passed a given
  // offset depends on timing: asserted once, it failed 1 run in 4 here.
  // contrib/bench/s3_read.sh measures the sequential case.)
}

}  // namespace
}  // namespace luksfs::fs
