#include "fs/storage/image_lock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

namespace luksfs::fs {
namespace {

class ImageLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/luksfs-image-lock-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, 4096), 0);
    close(fd);
    path_ = tmpl;
  }
  void TearDown() override { unlink(path_.c_str()); }

  // A lock the way qemu's file driver takes it, on its own open file.
  int QemuStyleLock(int byte) {
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    struct flock fl = {};
    fl.l_type = F_RDLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    EXPECT_EQ(fcntl(fd, F_OFD_SETLK, &fl), 0);
    return fd;
  }

  // Whether any open file description locks `byte`.
  bool Locked(int byte) {
    int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    struct flock fl = {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = byte;
    fl.l_len = 1;
    EXPECT_EQ(fcntl(fd, F_OFD_GETLK, &fl), 0);
    close(fd);
    return fl.l_type != F_UNLCK;
  }

  std::string path_;
};

TEST_F(ImageLockTest, ReadWriteTakesQemusBytes) {
  auto lock = ImageLock::Acquire(path_, ImageLockMode::kReadWrite);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  EXPECT_TRUE(Locked(kQemuLockPermBase + kPermConsistentRead));
  EXPECT_TRUE(Locked(kQemuLockPermBase + kPermWrite));
  EXPECT_TRUE(Locked(kQemuLockPermBase + kPermWriteUnchanged));
  EXPECT_FALSE(Locked(kQemuLockPermBase + kPermResize));
  EXPECT_FALSE(Locked(kQemuLockSharedBase + kPermConsistentRead));
  EXPECT_TRUE(Locked(kQemuLockSharedBase + kPermWrite));
  EXPECT_TRUE(Locked(kQemuLockSharedBase + kPermResize));
  lock->reset();
  EXPECT_FALSE(Locked(kQemuLockPermBase + kPermWrite));
  EXPECT_FALSE(Locked(kQemuLockSharedBase + kPermWrite));
}

TEST_F(ImageLockTest, TwoWritersConflict) {
  auto a = ImageLock::Acquire(path_, ImageLockMode::kReadWrite);
  ASSERT_TRUE(a.ok());
  auto b = ImageLock::Acquire(path_, ImageLockMode::kReadWrite);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().os_errno(), EAGAIN);
  EXPECT_NE(b.status().message().find("locked by another process"),
            std::string::npos);
  // The failed attempt left nothing behind: once `a` goes, a writer fits.
  a->reset();
  EXPECT_TRUE(ImageLock::Acquire(path_, ImageLockMode::kReadWrite).ok());
}

TEST_F(ImageLockTest, ReadersShareAndExcludeWriters) {
  auto r1 = ImageLock::Acquire(path_, ImageLockMode::kReadOnly);
  auto r2 = ImageLock::Acquire(path_, ImageLockMode::kReadOnly);
  ASSERT_TRUE(r1.ok());
  ASSERT_TRUE(r2.ok());
  EXPECT_FALSE(ImageLock::Acquire(path_, ImageLockMode::kReadWrite).ok());
}

TEST_F(ImageLockTest, WriterExcludesReaders) {
  auto w = ImageLock::Acquire(path_, ImageLockMode::kReadWrite);
  ASSERT_TRUE(w.ok());
  EXPECT_FALSE(ImageLock::Acquire(path_, ImageLockMode::kReadOnly).ok());
}

TEST_F(ImageLockTest, QemuWriterRefusesUs) {
  // A qemu writer: uses "write" (101) and forbids "write" (201).
  int fd = QemuStyleLock(kQemuLockPermBase + kPermWrite);
  EXPECT_FALSE(ImageLock::Acquire(path_, ImageLockMode::kReadOnly).ok());
  EXPECT_FALSE(ImageLock::Acquire(path_, ImageLockMode::kReadWrite).ok());
  close(fd);
  EXPECT_TRUE(ImageLock::Acquire(path_, ImageLockMode::kReadWrite).ok());
}

TEST_F(ImageLockTest, ForbiddenReadRefusesReaders) {
  // Someone forbids "consistent read" (200): nobody may read.
  int fd = QemuStyleLock(kQemuLockSharedBase + kPermConsistentRead);
  EXPECT_FALSE(ImageLock::Acquire(path_, ImageLockMode::kReadOnly).ok());
  close(fd);
}

TEST_F(ImageLockTest, MissingFile) {
  auto l = ImageLock::Acquire(path_ + ".absent", ImageLockMode::kReadOnly);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().os_errno(), ENOENT);
}

}  // namespace
}  // namespace luksfs::fs
