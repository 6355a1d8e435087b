#include "fs/storage/mapped_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fs/storage/file_storage.h"

namespace luksfs::fs {
namespace {

std::vector<uint8_t> Random(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

class MappedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/luksfs-mapped-XXXXXX";
    fd_ = mkstemp(tmpl);
    ASSERT_GE(fd_, 0);
    path_ = tmpl;
    data_ = Random(kSize, 7);
    ASSERT_EQ(pwrite(fd_, data_.data(), data_.size(), 0),
              static_cast<ssize_t>(data_.size()));
  }
  void TearDown() override {
    close(fd_);
    unlink(path_.c_str());
  }
  // Copies [offset, offset + len) of the mapping out through Read().
  Status ReadCopy(const MappedFile& m, uint64_t offset, size_t len,
                  std::vector<uint8_t>* out) {
    out->assign(len, 0xEE);
    return m.Read(offset, len, [&](std::span<const uint8_t> src) {
      std::memcpy(out->data(), src.data(), src.size());
      return Status();
    });
  }

  static constexpr size_t kSize = 1 << 20;
  int fd_ = -1;
  std::string path_;
  std::vector<uint8_t> data_;
};

// The mapped bytes are the file's, at every offset, and fn's status comes back.
TEST_F(MappedFileTest, ReadsTheFileAndReturnsFnStatus) {
  auto m = MappedFile::Create(fd_, kSize, path_);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  std::vector<uint8_t> got;
  for (uint64_t off : {uint64_t{0}, uint64_t{4095}, uint64_t{65536 + 17}, uint64_t{kSize - 512}}) {
    ASSERT_TRUE(ReadCopy(**m, off, 512, &got).ok());
    EXPECT_EQ(0, std::memcmp(got.data(), data_.data() + off, 512)) << off;
  }
  Status s = (*m)->Read(0, 16, [](std::span<const uint8_t>) {
    return Status::Corruption("from fn");
  });
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_FALSE((*m)->damaged());
}

// A file truncated under the mapping: the read fails with EIO, names the
// bytes, marks the mapping damaged, and the process lives on.
TEST_F(MappedFileTest, TruncatedFileFailsTheReadInsteadOfKillingTheProcess) {
  auto m = MappedFile::Create(fd_, kSize, path_);
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(ftruncate(fd_, kSize / 2), 0);
  std::vector<uint8_t> got;
  Status s = ReadCopy(**m, kSize / 2 - 4096, 8192, &got);
  EXPECT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("vanished"), std::string::npos) << s.ToString();
  EXPECT_TRUE((*m)->damaged());
  // The part still in the file was read as it is.
  EXPECT_EQ(0, std::memcmp(got.data(), data_.data() + kSize / 2 - 4096, 4096));
  // Earlier bytes still read (the handler patched only what faulted).
  EXPECT_TRUE(ReadCopy(**m, 0, 4096, &got).ok());
  EXPECT_EQ(0, std::memcmp(got.data(), data_.data(), 4096));
}

// A SIGBUS outside Read() is not swallowed: the process dies of it.
TEST_F(MappedFileTest, FaultOutsideReadStillKills) {
  auto m = MappedFile::Create(fd_, kSize, path_);
  ASSERT_TRUE(m.ok());
  void* p = mmap(nullptr, kSize, PROT_READ, MAP_SHARED, fd_, 0);
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(ftruncate(fd_, 4096), 0);
  EXPECT_EXIT(
      {
        volatile uint8_t x = static_cast<const uint8_t*>(p)[kSize - 1];
        (void)x;
        _exit(0);
      },
      ::testing::KilledBySignal(SIGBUS), "");
  munmap(p, kSize);
}

long LockedKib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmLck:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Under mlockall(MCL_FUTURE), as the daemon runs, reading the mapping
// locks none of the file's pages (they must stay reclaimable).
TEST_F(MappedFileTest, PagesReadAreNotLocked) {
  EXPECT_EXIT(
      {
        if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0) _exit(2);
        const long before = LockedKib();
        auto m = MappedFile::Create(fd_, kSize, path_);
        if (!m.ok()) _exit(3);
        uint64_t sum = 0;
        Status s = (*m)->Read(0, kSize, [&](std::span<const uint8_t> src) {
          for (size_t i = 0; i < src.size(); i += 4096) sum += src[i];
          return Status();
        });
        if (!s.ok() || sum == 0) _exit(4);
        // 1 MiB read: a locked mapping would add 1024 KiB.
        _exit(LockedKib() - before < 512 ? 0 : 5);
      },
      ::testing::ExitedWithCode(0), "");
}

// FileStorage reads in place up to Size(), including bytes a write added
// past the file's first end (the growth room), and refuses past Size().
TEST_F(MappedFileTest, FileStorageReadsInPlaceUpToItsSize) {
  auto st = FileStorage::Open(path_, /*writable=*/true);
  ASSERT_TRUE(st.ok());
  const std::vector<uint8_t> more = Random(8192, 9);
  ASSERT_TRUE((*st)->WriteAt(kSize + 4096, more).ok());
  ASSERT_EQ((*st)->Size(), kSize + 4096 + more.size());
  std::vector<uint8_t> got(more.size());
  std::optional<Status> s = (*st)->ReadInPlace(
      kSize + 4096, more.size(), 512, [&](size_t at, std::span<const uint8_t> src) {
        std::memcpy(got.data() + at, src.data(), src.size());
        return Status();
      });
  ASSERT_TRUE(s.has_value());
  ASSERT_TRUE(s->ok());
  EXPECT_EQ(got, more);
  bool called = false;
  s = (*st)->ReadInPlace((*st)->Size() - 10, 11, 1, [&](size_t, std::span<const uint8_t>) {
    called = true;
    return Status();
  });
  EXPECT_FALSE(s.has_value());
  EXPECT_FALSE(called);
  // Without the mapping every read is ReadAt's.
  auto plain = FileStorage::Open(path_, false, /*map_reads=*/false);
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE((*plain)->ReadInPlace(0, 16, 16, [](size_t, std::span<const uint8_t>) {
                  return Status();
                }).has_value());
}

}  // namespace
}  // namespace luksfs::fs
