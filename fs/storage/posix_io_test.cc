#include "fs/storage/posix_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

namespace luksfs::fs {
namespace {

class PosixIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/luksfs-posix-io-XXXXXX";
    fd_ = mkstemp(tmpl);
    ASSERT_GE(fd_, 0);
    path_ = tmpl;
  }
  void TearDown() override {
    close(fd_);
    unlink(path_.c_str());
  }
  int fd_ = -1;
  std::string path_;
};

std::vector<uint8_t> Random(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// A write of several slices at an odd offset lands byte for byte: read back
// with plain pread, not with PreadAll.
TEST_F(PosixIoTest, LargeWriteAtOddOffsetLandsExactly) {
  const uint64_t offset = 777;
  const auto data = Random(3 * kMaxPwriteBytes + 12345, 1);
  ASSERT_TRUE(PwriteAll(fd_, offset, data, "test file").ok());
  std::vector<uint8_t> back(offset + data.size() + 1, 0xAA);
  ASSERT_EQ(pread(fd_, back.data(), back.size(), 0),
            static_cast<ssize_t>(offset + data.size()));
  for (uint64_t i = 0; i < offset; ++i) ASSERT_EQ(back[i], 0) << i;
  ASSERT_TRUE(std::equal(data.begin(), data.end(), back.begin() + offset));
  struct stat st;
  ASSERT_EQ(fstat(fd_, &st), 0);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), offset + data.size());
}

TEST_F(PosixIoTest, PreadAllReadsWhatWasWrittenAndReportsEndOfFile) {
  const auto data = Random(kMaxPwriteBytes + 3, 2);
  ASSERT_TRUE(PwriteAll(fd_, 0, data, "test file").ok());
  std::vector<uint8_t> back(data.size());
  ASSERT_TRUE(PreadAll(fd_, 0, back, "test file").ok());
  EXPECT_EQ(back, data);
  std::vector<uint8_t> past(10);
  Status s = PreadAll(fd_, data.size() - 5, past, "test file");
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("test file: end of file at byte " +
                             std::to_string(data.size())),
            std::string::npos)
      << s.message();
}

TEST_F(PosixIoTest, WriteErrorNamesTheFileAndTheByte) {
  int ro = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(ro, 0);
  const auto data = Random(100, 3);
  Status s = PwriteAll(ro, 4096, data, "image");
  close(ro);
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_NE(s.message().find("image: write at byte 4096"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace luksfs::fs
