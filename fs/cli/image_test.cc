#include "fs/cli/image.h"

#include <gtest/gtest.h>

namespace luksfs::cli {
namespace {

using fs::ImageStep;

TEST(ExitCodeForTest, OneTableForEveryStep) {
  const Status nf = Status::NotFound("x"), io = Status::IOError("x", 5),
               bad = Status::Corruption("x"), ns = Status::NotSupported("x"),
               usage = Status::InvalidArgument("x"),
               denied = Status::PermissionDenied("x"),
               down = Status::Unavailable("x"), revoked = Status::KeyRevoked("x");
  EXPECT_EQ(ExitCodeFor(ImageStep::kStorage, usage), kExitUsage);
  EXPECT_EQ(ExitCodeFor(ImageStep::kStorage, nf), kExitStorage);
  EXPECT_EQ(ExitCodeFor(ImageStep::kStorage, down), kExitStorage);
  EXPECT_EQ(ExitCodeFor(ImageStep::kImage, io), kExitStorage);
  EXPECT_EQ(ExitCodeFor(ImageStep::kImage, bad), kExitBadImage);
  EXPECT_EQ(ExitCodeFor(ImageStep::kImage, ns), kExitBadImage);
  EXPECT_EQ(ExitCodeFor(ImageStep::kSecret, usage), kExitUsage);
  EXPECT_EQ(ExitCodeFor(ImageStep::kSecret, nf), kExitStorage);
  EXPECT_EQ(ExitCodeFor(ImageStep::kUnlock, denied), kExitNoKey);
  EXPECT_EQ(ExitCodeFor(ImageStep::kUnlock, nf), kExitNoKey);
  EXPECT_EQ(ExitCodeFor(ImageStep::kUnlock, io), kExitStorage);
  EXPECT_EQ(ExitCodeFor(ImageStep::kUnlock, bad), kExitBadImage);
  // Whatever the KMS says, even the codes that mean "no key" elsewhere.
  for (const Status& s : {denied, nf, down, revoked, bad}) {
    EXPECT_EQ(ExitCodeFor(ImageStep::kKms, s), kExitKms) << s.ToString();
  }
}

}  // namespace
}  // namespace luksfs::cli
