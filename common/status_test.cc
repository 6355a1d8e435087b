#include "common/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"

namespace luksfs {
namespace {

using Code = Status::Code;

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.os_errno(), 0);
  EXPECT_EQ(s.ToString(), "ok");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, NamedConstructorsSetCodeAndMessage) {
  struct Case {
    Status s;
    Code code;
    const char* to_string;
  };
  const std::vector<Case> cases = {
      {Status::InvalidArgument("m1"), Code::kInvalidArgument,
       "invalid argument: m1"},
      {Status::NotFound("m2"), Code::kNotFound, "not found: m2"},
      {Status::PermissionDenied("m3"), Code::kPermissionDenied,
       "permission denied: m3"},
      {Status::Corruption("m4"), Code::kCorruption, "corruption: m4"},
      {Status::NotSupported("m5"), Code::kNotSupported, "not supported: m5"},
      {Status::IOError("m6", EIO), Code::kIOError, "I/O error: m6"},
      {Status::Unavailable("m7"), Code::kUnavailable, "unavailable: m7"},
      {Status::KeyRevoked("m8"), Code::kKeyRevoked, "key revoked: m8"},
      {Status::ResourceExhausted("m9"), Code::kResourceExhausted,
       "resource exhausted: m9"},
      {Status::Internal("m10"), Code::kInternal, "internal error: m10"},
  };
  int i = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.to_string);
    EXPECT_FALSE(c.s.ok());
    EXPECT_EQ(c.s.code(), c.code);
    EXPECT_EQ(c.s.message(), "m" + std::to_string(i));
    EXPECT_EQ(c.s.ToString(), c.to_string);
    if (c.code != Code::kIOError) {
      EXPECT_EQ(c.s.os_errno(), 0);
    }
    ++i;
  }
}

TEST(StatusTest, IOErrorKeepsErrno) {
  Status s = Status::IOError("pread disk.luks", ENOSPC);
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.os_errno(), ENOSPC);
  EXPECT_EQ(s.message(), "pread disk.luks");
}

TEST(StatusTest, WithContextPrefixesMessageAndKeepsCodeAndErrno) {
  Status s = Status::IOError("read failed", EACCES).WithContext("disk.luks");
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.os_errno(), EACCES);
  EXPECT_EQ(s.message(), "disk.luks: read failed");
  Status t = Status::Corruption("bad magic").WithContext("a").WithContext("b");
  EXPECT_EQ(t.code(), Code::kCorruption);
  EXPECT_EQ(t.message(), "b: a: bad magic");
  EXPECT_EQ(t.ToString(), "corruption: b: a: bad magic");
}

TEST(StatusTest, WithContextOnOkStaysOk) {
  Status s = Status().WithContext("anything");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, WithContextDoesNotModifyOriginal) {
  const Status orig = Status::NotFound("keyslot 3");
  Status ctx = orig.WithContext("image.luks");
  EXPECT_EQ(orig.message(), "keyslot 3");
  EXPECT_EQ(ctx.message(), "image.luks: keyslot 3");
}

TEST(StatusTest, PosixErrorPreservesErrnoAndStrerrorText) {
  for (int err : {ENOENT, EACCES, EIO, ENOSPC, EROFS}) {
    Status s = PosixError("open /x/disk.luks", err);
    SCOPED_TRACE(err);
    EXPECT_EQ(s.code(), Code::kIOError);
    EXPECT_EQ(s.os_errno(), err);
    EXPECT_EQ(s.message(),
              std::string("open /x/disk.luks: ") + std::strerror(err));
  }
  EXPECT_EQ(PosixError("open", ENOENT).message(),
            "open: No such file or directory");
}

TEST(StatusTest, CopyIsIndependent) {
  Status a = Status::IOError("x", EIO);
  Status b = a;
  a = Status::NotFound("y");
  EXPECT_EQ(b.code(), Code::kIOError);
  EXPECT_EQ(b.os_errno(), EIO);
  EXPECT_EQ(b.message(), "x");
  EXPECT_EQ(a.os_errno(), 0);
}

// ----- Result -----

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  LUKSFS_ASSIGN_OR_RETURN(int h, Half(x));
  LUKSFS_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int x) {
  if (x % 2 != 0) return Status::Corruption("odd");
  return Status();
}

int g_after_calls = 0;
Status TwoChecks(int a, int b) {
  LUKSFS_RETURN_IF_ERROR(CheckEven(a));
  ++g_after_calls;
  LUKSFS_RETURN_IF_ERROR(CheckEven(b));
  ++g_after_calls;
  return Status();
}

TEST(ResultTest, HoldsValue) {
  Result<int> r = 42;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  *r = 7;
  EXPECT_EQ(r.value(), 7);
}

TEST(ResultTest, HoldsError) {
  Result<int> r = Status::NotFound("keyslot 5");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(r.status().message(), "keyslot 5");
}

TEST(ResultTest, ArrowAndMoveOnlyValue) {
  Result<std::string> s = std::string("hello");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->size(), 5u);

  Result<std::unique_ptr<int>> p = std::make_unique<int>(9);
  ASSERT_TRUE(p.ok());
  std::unique_ptr<int> taken = std::move(p).value();
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(*taken, 9);
}

TEST(ResultTest, AssignOrReturnPropagatesValue) {
  Result<int> r = Quarter(12);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3);
}

TEST(ResultTest, AssignOrReturnPropagatesFirstError) {
  Result<int> r = Quarter(7);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "odd: 7");
  Result<int> r2 = Quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().message(), "odd: 3");
}

TEST(ResultTest, ReturnIfErrorPropagates) {
  g_after_calls = 0;
  EXPECT_TRUE(TwoChecks(2, 4).ok());
  EXPECT_EQ(g_after_calls, 2);

  g_after_calls = 0;
  Status s = TwoChecks(1, 4);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_EQ(g_after_calls, 0);

  g_after_calls = 0;
  s = TwoChecks(2, 3);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_EQ(g_after_calls, 1);
}

TEST(ResultDeathTest, ValueOfFailedResultAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Result<int> r = Status::Internal("boom");
  EXPECT_DEATH((void)r.value(), "BUG: value\\(\\) of a failed Result");
}

TEST(ResultDeathTest, ConstructingFromOkStatusAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Result<int> r = Status();
        (void)r;
      },
      "BUG: Result constructed from an OK Status");
}

}  // namespace
}  // namespace luksfs
