#include "fs/fuse/mountinfo.h"

#include <gtest/gtest.h>

#include <string>

namespace luksfs::fs {
namespace {

constexpr char kView[] =
    "41 26 0:52 / /mnt/img rw,nosuid,nodev,relatime shared:7 - fuse.luksfs "
    "/var/img.luks rw,user_id=1000,group_id=1000,default_permissions";

TEST(MountInfoTest, ParsesAFuseLine) {
  Result<MountInfo> m = ParseMountInfoLine(kView);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->major, 0u);
  EXPECT_EQ(m->minor, 52u);
  EXPECT_EQ(m->root, "/");
  EXPECT_EQ(m->mount_point, "/mnt/img");
  EXPECT_EQ(m->fstype, "fuse.luksfs");
  EXPECT_EQ(m->source, "/var/img.luks");
  EXPECT_EQ(m->super_options,
            "rw,user_id=1000,group_id=1000,default_permissions");
}

TEST(MountInfoTest, OptionalFieldsZeroOrMany) {
  Result<MountInfo> none =
      ParseMountInfoLine("21 26 0:20 / /proc rw,relatime - proc proc rw");
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->fstype, "proc");
  Result<MountInfo> many = ParseMountInfoLine(
      "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 propagate_from:3 "
      "- ext3 /dev/root rw,errors=continue");
  ASSERT_TRUE(many.ok()) << many.status().ToString();
  EXPECT_EQ(many->major, 98u);
  EXPECT_EQ(many->minor, 0u);
  EXPECT_EQ(many->root, "/mnt1");
  EXPECT_EQ(many->mount_point, "/mnt2");
  EXPECT_EQ(many->fstype, "ext3");
  EXPECT_EQ(many->source, "/dev/root");
}

TEST(MountInfoTest, UnescapesOctal) {
  EXPECT_EQ(UnescapeMountInfo("/mnt/a\\040b"), "/mnt/a b");
  EXPECT_EQ(UnescapeMountInfo("\\011tab\\012nl\\134bs"), "\ttab\nnl\\bs");
  EXPECT_EQ(UnescapeMountInfo("end\\040"), "end ");
  // Not three octal digits: kept as it is.
  EXPECT_EQ(UnescapeMountInfo("a\\04"), "a\\04");
  EXPECT_EQ(UnescapeMountInfo("a\\089"), "a\\089");
  EXPECT_EQ(UnescapeMountInfo("a\\"), "a\\");
  EXPECT_EQ(UnescapeMountInfo(""), "");

  Result<MountInfo> m = ParseMountInfoLine(
      "50 26 0:60 / /tmp/my\\040mnt\\134x rw - fuse.luksfs /img\\040a.luks "
      "rw,user_id=0,group_id=0");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->mount_point, "/tmp/my mnt\\x");
  EXPECT_EQ(m->source, "/img a.luks");
}

TEST(MountInfoTest, MalformedLines) {
  for (const char* line : {
           "",
           "41 26 0:52 / /mnt/img",                                 // too short
           "41 26 0:52 / /mnt/img rw shared:7 fuse.luksfs src rw",  // no "-"
           "41 26 0-52 / /mnt/img rw - fuse.luksfs src rw",         // device
           "41 26 a:b / /mnt/img rw - fuse.luksfs src rw",
           "41 26 0: / /mnt/img rw - fuse.luksfs src rw",
           "41 26 :52 / /mnt/img rw - fuse.luksfs src rw",
           "x 26 0:52 / /mnt/img rw - fuse.luksfs src rw",  // mount ID
           "41 26 0:52 / /mnt/img rw - fuse.luksfs src",    // 2 after "-"
           "41 26 0:52 / /mnt/img rw - fuse.luksfs src rw extra",
           "41 26 0:52 /  rw - fuse.luksfs src rw",  // empty field
       }) {
    Result<MountInfo> m = ParseMountInfoLine(line);
    EXPECT_FALSE(m.ok()) << "parsed: " << line;
    if (!m.ok()) {
      EXPECT_EQ(m.status().code(), Status::Code::kCorruption) << line;
      EXPECT_NE(m.status().message().find("mountinfo line"), std::string::npos);
    }
  }
}

TEST(MountInfoTest, FindsTheLastOfStackedMounts) {
  const std::string text =
      "26 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
      "41 26 0:52 / /mnt/img rw - fuse.luksfs /a.luks rw,user_id=0\n"
      "42 26 0:53 / /mnt/other rw - fuse.luksfs /b.luks rw,user_id=0\n"
      "43 41 0:54 / /mnt/img rw - tmpfs tmpfs rw\n";
  Result<MountInfo> m = FindMountIn(text, "/mnt/img");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->minor, 54u);
  EXPECT_EQ(m->fstype, "tmpfs");
  // Without a trailing newline, and matching whole paths only.
  Result<MountInfo> other =
      FindMountIn(text.substr(0, text.size() - 1), "/mnt/other");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->minor, 53u);
  EXPECT_FALSE(FindMountIn(text, "/mnt/im").ok());
  EXPECT_FALSE(FindMountIn(text, "/mnt/img/").ok());
}

TEST(MountInfoTest, MissingEntryIsNotFound) {
  Result<MountInfo> m =
      FindMountIn("26 1 8:1 / / rw - ext4 /dev/sda1 rw\n", "/mnt/img");
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(m.status().message(), "/mnt/img: not a mount point");
  EXPECT_FALSE(FindMountIn("", "/").ok());
}

TEST(MountInfoTest, SkipsMalformedLines) {
  const std::string text =
      "garbage\n"
      "\n"
      "41 26 0:52 / /mnt/img rw - fuse.luksfs /a.luks rw,user_id=0\n"
      "42 26 0:9 / /mnt/img rw\n";  // a later, broken entry does not win
  Result<MountInfo> m = FindMountIn(text, "/mnt/img");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->minor, 52u);
}

TEST(MountInfoTest, MatchesTheUnescapedMountPoint) {
  const std::string text =
      "41 26 0:52 / /mnt/a\\040b rw - fuse.luksfs /a.luks rw,user_id=0\n";
  EXPECT_TRUE(FindMountIn(text, "/mnt/a b").ok());
  EXPECT_FALSE(FindMountIn(text, "/mnt/a\\040b").ok());
}

TEST(MountInfoTest, SuperOption) {
  Result<MountInfo> m = ParseMountInfoLine(kView);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(SuperOption(*m, "user_id"), "1000");
  EXPECT_EQ(SuperOption(*m, "group_id"), "1000");
  EXPECT_EQ(SuperOption(*m, "default_permissions"), "");
  EXPECT_EQ(SuperOption(*m, "rw"), "");
  EXPECT_EQ(SuperOption(*m, "user"), std::nullopt);
  EXPECT_EQ(SuperOption(*m, "allow_other"), std::nullopt);
  MountInfo empty;
  EXPECT_EQ(SuperOption(empty, "user_id"), std::nullopt);
}

TEST(MountInfoTest, ReadsThisProcess) {
  Result<MountInfo> m = FindMount("/proc");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->fstype, "proc");
  Result<MountInfo> none = FindMount("/no/such/mount/point");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Status::Code::kNotFound);
}

}  // namespace
}  // namespace luksfs::fs
