#include "common/secure_buffer.h"

#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace luksfs {
namespace {

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

TEST(SecureBufferTest, DefaultIsEmpty) {
  SecureBuffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.data(), nullptr);
}

TEST(SecureBufferTest, CreateIsZeroFilled) {
  for (size_t n : {1u, 16u, 64u, 4096u, 10000u}) {
    Result<SecureBuffer> r = SecureBuffer::Create(n);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    SecureBuffer& b = *r;
    ASSERT_EQ(b.size(), n);
    ASSERT_NE(b.data(), nullptr);
    EXPECT_FALSE(b.empty());
    size_t nonzero = 0;
    for (size_t i = 0; i < n; ++i) nonzero += b.data()[i] != 0;
    EXPECT_EQ(nonzero, 0u) << "size " << n;
    EXPECT_EQ(b.span().size(), n);
    EXPECT_EQ(b.span().data(), b.data());
  }
}

TEST(SecureBufferTest, CreateZeroSize) {
  Result<SecureBuffer> r = SecureBuffer::Create(0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(r->size(), 0u);
  EXPECT_NE(r->data(), nullptr);  // documented in secure_buffer.cc
  EXPECT_TRUE(r->Equals({}));
}

TEST(SecureBufferTest, CopyOfCopiesBytes) {
  const std::vector<uint8_t> src = Pattern(100, 3);
  Result<SecureBuffer> r = SecureBuffer::CopyOf(src);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), src.size());
  EXPECT_EQ(std::memcmp(r->data(), src.data(), src.size()), 0);
  EXPECT_NE(r->data(), src.data());
  EXPECT_TRUE(r->Equals(src));

  Result<SecureBuffer> e = SecureBuffer::CopyOf({});
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->size(), 0u);
}

TEST(SecureBufferTest, WritableThroughDataAndSpan) {
  auto r = SecureBuffer::Create(8);
  ASSERT_TRUE(r.ok());
  r->data()[0] = 0xAA;
  r->span()[7] = 0xBB;
  const SecureBuffer& cb = *r;
  EXPECT_EQ(cb.span()[0], 0xAA);
  EXPECT_EQ(cb.data()[7], 0xBB);
}

TEST(SecureBufferTest, MoveConstructLeavesSourceEmpty) {
  const std::vector<uint8_t> src = Pattern(32, 1);
  auto r = SecureBuffer::CopyOf(src);
  ASSERT_TRUE(r.ok());
  SecureBuffer a = std::move(r).value();
  const uint8_t* p = a.data();
  SecureBuffer b(std::move(a));
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.size(), 0u);
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(b.data(), p);
  EXPECT_EQ(b.size(), 32u);
  EXPECT_TRUE(b.Equals(src));
}

TEST(SecureBufferTest, MoveAssignLeavesSourceEmptyAndReplacesTarget) {
  const std::vector<uint8_t> s1 = Pattern(16, 1), s2 = Pattern(24, 2);
  SecureBuffer a = std::move(SecureBuffer::CopyOf(s1)).value();
  SecureBuffer b = std::move(SecureBuffer::CopyOf(s2)).value();
  b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b.size(), 16u);
  EXPECT_TRUE(b.Equals(s1));

  // Self-move keeps contents.
  SecureBuffer& self = b;
  b = std::move(self);
  EXPECT_EQ(b.size(), 16u);
  EXPECT_TRUE(b.Equals(s1));
}

TEST(SecureBufferTest, WipeEmpties) {
  auto r = SecureBuffer::CopyOf(Pattern(64, 9));
  ASSERT_TRUE(r.ok());
  r->Wipe();
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(r->size(), 0u);
  EXPECT_EQ(r->data(), nullptr);
  r->Wipe();  // idempotent
  EXPECT_EQ(r->data(), nullptr);
}

TEST(SecureBufferTest, TruncateKeepsPrefixAndShrinks) {
  const std::vector<uint8_t> src = Pattern(64, 5);
  auto r = SecureBuffer::CopyOf(src);
  ASSERT_TRUE(r.ok());
  const uint8_t* p = r->data();
  r->Truncate(20);
  EXPECT_EQ(r->size(), 20u);
  EXPECT_EQ(r->data(), p);  // same allocation, still alive
  EXPECT_TRUE(r->Equals(std::span<const uint8_t>(src).first(20)));
  // The tail is zeroed (memory is still owned by the buffer, so reading it
  // through the retained pointer is valid until Wipe()).
  size_t nonzero = 0;
  for (size_t i = 20; i < 64; ++i) nonzero += p[i] != 0;
  EXPECT_EQ(nonzero, 0u);

  r->Truncate(20);  // no-op at size
  EXPECT_EQ(r->size(), 20u);
  r->Truncate(100);  // larger: no-op
  EXPECT_EQ(r->size(), 20u);
  r->Truncate(0);
  EXPECT_EQ(r->size(), 0u);
  EXPECT_TRUE(r->empty());
}

TEST(SecureBufferTest, EqualsComparesContentsAndSize) {
  const std::vector<uint8_t> src = Pattern(48, 11);
  auto r = SecureBuffer::CopyOf(src);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->Equals(src));

  std::vector<uint8_t> diff_first = src;
  diff_first[0] ^= 1;
  EXPECT_FALSE(r->Equals(diff_first));
  std::vector<uint8_t> diff_last = src;
  diff_last.back() ^= 0x80;
  EXPECT_FALSE(r->Equals(diff_last));

  EXPECT_FALSE(r->Equals(std::span<const uint8_t>(src).first(47)));
  std::vector<uint8_t> longer = src;
  longer.push_back(0);
  EXPECT_FALSE(r->Equals(longer));
  EXPECT_FALSE(r->Equals({}));

  SecureBuffer empty;
  EXPECT_TRUE(empty.Equals({}));
  EXPECT_FALSE(empty.Equals(src));
}

TEST(SecureBufferTest, SecureWipeZeroesMemory) {
  std::vector<uint8_t> v = Pattern(33, 1);
  SecureWipe(v.data(), v.size());
  for (uint8_t c : v) ASSERT_EQ(c, 0);
  SecureWipe(nullptr, 10);  // tolerated
  SecureWipe(v.data(), 0);
}

TEST(SecureBufferTest, InitSodiumIsIdempotent) {
  EXPECT_TRUE(InitSodium().ok());
  EXPECT_TRUE(InitSodium().ok());
}

TEST(SecureBufferTest, HardenProcessMakesChildNonDumpable) {
  ASSERT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1)
      << "the test binary should start dumpable";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: only async-signal-safe-ish work, then _exit with a code.
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1) _exit(10);
    Status s = HardenProcess();
    if (!s.ok()) _exit(11);
    if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0) _exit(12);
    struct rlimit rl;
    if (getrlimit(RLIMIT_CORE, &rl) != 0) _exit(13);
    if (rl.rlim_cur != 0 || rl.rlim_max != 0) _exit(14);
    _exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
  ASSERT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 0)
      << "10: not dumpable before, 11: HardenProcess failed, 12: still "
         "dumpable, 13/14: RLIMIT_CORE not 0";
  // The parent is untouched.
  EXPECT_EQ(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 1);
}

}  // namespace
}  // namespace luksfs
