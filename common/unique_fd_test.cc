#include "common/unique_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace luksfs {
namespace {

// True while `fd` names an open descriptor of this process.
bool IsOpen(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int OpenNull() {
  const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  return fd;
}

TEST(UniqueFdTest, DefaultHoldsNothing) {
  UniqueFd fd;
  EXPECT_EQ(fd.get(), -1);
  EXPECT_EQ(fd.release(), -1);
}

TEST(UniqueFdTest, ClosesAtScopeEnd) {
  int raw = -1;
  {
    UniqueFd fd(OpenNull());
    raw = fd.get();
    EXPECT_TRUE(IsOpen(raw));
  }
  EXPECT_FALSE(IsOpen(raw));
}

TEST(UniqueFdTest, ReleaseGivesUpWithoutClosing) {
  int raw = -1;
  {
    UniqueFd fd(OpenNull());
    raw = fd.release();
    EXPECT_EQ(fd.get(), -1);
  }
  EXPECT_TRUE(IsOpen(raw));
  close(raw);
}

TEST(UniqueFdTest, ResetClosesTheOldAndTakesTheNew) {
  UniqueFd fd(OpenNull());
  const int first = fd.get();
  const int second = OpenNull();
  fd.reset(second);
  EXPECT_FALSE(IsOpen(first));
  EXPECT_EQ(fd.get(), second);
  EXPECT_TRUE(IsOpen(second));
  fd.reset();
  EXPECT_EQ(fd.get(), -1);
  EXPECT_FALSE(IsOpen(second));
}

TEST(UniqueFdTest, MoveTransfersOwnership) {
  UniqueFd a(OpenNull());
  const int raw = a.get();
  UniqueFd b(std::move(a));
  EXPECT_EQ(a.get(), -1);  // NOLINT(bugprone-use-after-move): tested state
  EXPECT_EQ(b.get(), raw);
  UniqueFd c(OpenNull());
  const int other = c.get();
  c = std::move(b);  // closes c's own descriptor
  EXPECT_FALSE(IsOpen(other));
  EXPECT_EQ(c.get(), raw);
  EXPECT_TRUE(IsOpen(raw));
}

}  // namespace
}  // namespace luksfs
