#include "fs/fuse/mount_diagnosis.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace luksfs::fs {
namespace {

bool Contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

class MountDiagnosisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/luksfs-fuseconf-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    conf_ = dir_ + "/fuse.conf";
    dev_ = dir_ + "/fuse";  // a regular file stands in for an openable device
    std::ofstream(dev_) << "";
  }
  void TearDown() override {
    unlink(conf_.c_str());
    unlink(dev_.c_str());
    rmdir(dir_.c_str());
  }
  void Conf(const std::string& text) { std::ofstream(conf_) << text; }

  std::string dir_, conf_, dev_;
};

TEST_F(MountDiagnosisTest, UserAllowOtherLine) {
  EXPECT_FALSE(UserAllowOther(conf_));  // no file
  Conf("# user_allow_other\nmount_max = 1000\n");
  EXPECT_FALSE(UserAllowOther(conf_));
  Conf("mount_max = 1000\n  user_allow_other \r\n");
  EXPECT_TRUE(UserAllowOther(conf_));
}

TEST_F(MountDiagnosisTest, NamesMissingUserAllowOther) {
  Conf("#user_allow_other\n");
  std::string why = MountFailureReason(true, 1000, dev_, conf_);
  EXPECT_TRUE(Contains(why, "user_allow_other")) << why;
  EXPECT_TRUE(Contains(why, conf_)) << why;
  // Root, or no allow_other: not that.
  EXPECT_FALSE(Contains(MountFailureReason(true, 0, dev_, conf_), "user_allow_other"));
  EXPECT_FALSE(Contains(MountFailureReason(false, 1000, dev_, conf_), "user_allow_other"));
  Conf("user_allow_other\n");
  EXPECT_FALSE(Contains(MountFailureReason(true, 1000, dev_, conf_), "user_allow_other"));
}

TEST_F(MountDiagnosisTest, NamesTheDevice) {
  std::string why = MountFailureReason(false, 1000, dir_ + "/absent", conf_);
  EXPECT_TRUE(Contains(why, "no " + dir_ + "/absent")) << why;
  if (geteuid() != 0) {  // root opens a mode-0000 file all the same
    ASSERT_EQ(chmod(dev_.c_str(), 0), 0);
    why = MountFailureReason(false, 1000, dev_, conf_);
    EXPECT_TRUE(Contains(why, "cannot open " + dev_)) << why;
  }
}

}  // namespace
}  // namespace luksfs::fs
