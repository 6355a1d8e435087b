#include "fs/fuse/daemon_socket.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <string>

namespace luksfs::fs {
namespace {

bool Contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// A device number no real mount has, unique to this test process, so that
// the abstract names never clash with a live daemon or a parallel run.
MountInfo FakeMount(uid_t owner) {
  MountInfo m;
  m.major = 999999;
  m.minor = static_cast<unsigned>(getpid());
  m.mount_point = "/mnt/fake";
  m.fstype = std::string(kViewFsType);
  m.super_options = "rw,user_id=" + std::to_string(owner) + ",group_id=0";
  return m;
}

TEST(DaemonSocketTest, NameIsAbstractAndHoldsTheDevice) {
  const std::string name = DaemonSocketName(0, 52);
  EXPECT_EQ(name, std::string("\0luksfs/0:52", 12));
  EXPECT_EQ(name[0], '\0');
  EXPECT_EQ(DaemonSocketName(259, 1048575),
            std::string("\0luksfs/259:1048575", 19));
  EXPECT_NE(DaemonSocketName(0, 52), DaemonSocketName(0, 5));
  EXPECT_NE(DaemonSocketName(1, 23), DaemonSocketName(12, 3));
}

TEST(DaemonSocketTest, OwnerCheck) {
  EXPECT_TRUE(CheckDaemonOwner("/m", 1000, 1000).ok());
  EXPECT_TRUE(CheckDaemonOwner("/m", 0, 1000).ok());  // root may serve
  EXPECT_TRUE(CheckDaemonOwner("/m", 0, std::nullopt).ok());
  Status s = CheckDaemonOwner("/mnt/x", 1001, 1000);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(
      s.message(),
      "/mnt/x: daemon socket owned by uid 1001, mount belongs to uid 1000");
  EXPECT_FALSE(CheckDaemonOwner("/m", 1000, 0).ok());
  EXPECT_FALSE(CheckDaemonOwner("/m", 1000, std::nullopt).ok());
}

TEST(DaemonSocketTest, ClientFindsTheListener) {
  const MountInfo mount = FakeMount(geteuid());
  Result<pid_t> before = FindDaemon("/mnt/fake", mount);
  ASSERT_FALSE(before.ok());
  EXPECT_EQ(before.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(Contains(before.status().message(), "/mnt/fake: "));
  {
    auto listener = DaemonSocket::Listen(mount.major, mount.minor);
    ASSERT_TRUE(listener.ok()) << listener.status().ToString();
    // Many more clients than the backlog: the accept thread drains them.
    for (int i = 0; i < 300; ++i) {
      Result<pid_t> pid = FindDaemon("/mnt/fake", mount);
      ASSERT_TRUE(pid.ok()) << i << ": " << pid.status().ToString();
      ASSERT_EQ(*pid, getpid());
    }
    // The name is taken while the listener lives.
    auto second = DaemonSocket::Listen(mount.major, mount.minor);
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.status().os_errno(), EADDRINUSE);
  }
  // Gone with the listener, and free to bind again.
  EXPECT_FALSE(FindDaemon("/mnt/fake", mount).ok());
  EXPECT_TRUE(DaemonSocket::Listen(mount.major, mount.minor).ok());
}

TEST(DaemonSocketTest, DropKeysRequest) {
  const MountInfo mount = FakeMount(geteuid());
  std::atomic<int> drops{0};
  {
    // No callback: refused, and the pid query still works after it.
    auto plain = DaemonSocket::Listen(mount.major, mount.minor);
    ASSERT_TRUE(plain.ok());
    Status s = AskDropKeys("/mnt/fake", mount);
    EXPECT_EQ(s.code(), Status::Code::kPermissionDenied) << s.ToString();
    EXPECT_TRUE(FindDaemon("/mnt/fake", mount).ok());
  }
  {
    auto listener = DaemonSocket::Listen(mount.major, mount.minor,
                                         [&drops] { ++drops; });
    ASSERT_TRUE(listener.ok());
    EXPECT_TRUE(FindDaemon("/mnt/fake", mount).ok());  // no request: no drop
    EXPECT_EQ(drops.load(), 0);
    Status s = AskDropKeys("/mnt/fake", mount);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(drops.load(), 1);
  }
  Status gone = AskDropKeys("/mnt/fake", mount);
  EXPECT_EQ(gone.code(), Status::Code::kUnavailable);
}

TEST(DaemonSocketTest, ClientRefusesAStranger) {
  if (geteuid() != 0) {
    const MountInfo mount = FakeMount(geteuid() + 1);
    auto listener = DaemonSocket::Listen(mount.major, mount.minor);
    ASSERT_TRUE(listener.ok()) << listener.status().ToString();
    Result<pid_t> pid = FindDaemon("/mnt/fake", mount);
    ASSERT_FALSE(pid.ok());
    EXPECT_EQ(pid.status().code(), Status::Code::kPermissionDenied);
    return;
  }
  // As root: a listener running as nobody must not speak for root's mount.
  const MountInfo mount = FakeMount(0);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    if (setresuid(65534, 65534, 65534) != 0) _exit(1);
    auto listener = DaemonSocket::Listen(mount.major, mount.minor);
    if (!listener.ok()) _exit(2);
    const char byte = 1;
    if (write(ready[1], &byte, 1) != 1) _exit(3);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char byte = 0;
  const ssize_t n = read(ready[0], &byte, 1);
  close(ready[0]);
  Result<pid_t> pid = n == 1 ? FindDaemon("/mnt/fake", mount)
                             : Result<pid_t>(Status::Internal("no child"));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_EQ(n, 1) << "the listener as uid 65534 did not start";
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.status().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(pid.status().message(),
            "/mnt/fake: daemon socket owned by uid 65534, mount belongs to "
            "uid 0");
}

TEST(DaemonSocketTest, FindViewMountNeedsALuksfsMount) {
  Result<ViewMount> root = FindViewMount("/proc");
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().message(), "/proc: not a luksfs mount");
  Result<ViewMount> dir = FindViewMount("/proc/self");  // not a mount point
  ASSERT_FALSE(dir.ok());
  EXPECT_TRUE(Contains(dir.status().message(), "not a luksfs mount"));
  Result<ViewMount> missing = FindViewMount("/no/such/dir");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "/no/such/dir: No such file or directory");
  Result<pid_t> pid = FindDaemon("/proc");
  ASSERT_FALSE(pid.ok());
  EXPECT_EQ(pid.status().message(), "/proc: not a luksfs mount");
}

}  // namespace
}  // namespace luksfs::fs
