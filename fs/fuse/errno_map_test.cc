#include "fs/fuse/errno_map.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace luksfs::fs {
namespace {

TEST(ErrnoMapTest, OkIsZero) { EXPECT_EQ(ToErrno(Status()), 0); }

TEST(ErrnoMapTest, DocumentedMapping) {
  EXPECT_EQ(ToErrno(Status::NotFound("x")), ENOENT);
  EXPECT_EQ(ToErrno(Status::PermissionDenied("x")), EACCES);
  EXPECT_EQ(ToErrno(Status::NotSupported("x")), EOPNOTSUPP);
  EXPECT_EQ(ToErrno(Status::ResourceExhausted("x")), ENOSPC);
  EXPECT_EQ(ToErrno(Status::InvalidArgument("x")), EINVAL);
  EXPECT_EQ(ToErrno(Status::Corruption("x")), EIO);
  EXPECT_EQ(ToErrno(Status::Unavailable("x")), EIO);
  EXPECT_EQ(ToErrno(Status::KeyRevoked("x")), EIO);
  EXPECT_EQ(ToErrno(Status::Internal("x")), EIO);
}

TEST(ErrnoMapTest, IOErrorKeepsItsErrno) {
  for (int err :
       {EIO, ENOSPC, EACCES, EROFS, ENOENT, EBADF, ETIMEDOUT, EDQUOT, EFBIG}) {
    EXPECT_EQ(ToErrno(Status::IOError("x", err)), err) << err;
    EXPECT_EQ(ToErrno(PosixError("pwrite", err)), err) << err;
  }
}

TEST(ErrnoMapTest, IOErrorWithoutErrnoIsEIO) {
  EXPECT_EQ(ToErrno(Status::IOError("x", 0)), EIO);
}

TEST(ErrnoMapTest, ContextDoesNotChangeMapping) {
  EXPECT_EQ(ToErrno(Status::IOError("x", EROFS).WithContext("disk.luks")),
            EROFS);
  EXPECT_EQ(ToErrno(Status::KeyRevoked("x").WithContext("vol")), EIO);
}

TEST(ErrnoMapTest, NeverReturnsNegativeOrZeroForErrors) {
  const Status errors[] = {
      Status::InvalidArgument("x"),   Status::NotFound("x"),
      Status::PermissionDenied("x"),  Status::Corruption("x"),
      Status::NotSupported("x"),      Status::IOError("x", 0),
      Status::Unavailable("x"),       Status::KeyRevoked("x"),
      Status::ResourceExhausted("x"), Status::Internal("x")};
  for (const Status& s : errors) EXPECT_GT(ToErrno(s), 0) << s.ToString();
}

}  // namespace
}  // namespace luksfs::fs
