#include "common/atomic_file.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace luksfs {
namespace {

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/atomic_file_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    chmod(dir_.c_str(), 0700);
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static std::string Slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  int Entries() {
    int n = 0;
    DIR* d = opendir(dir_.c_str());
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
    return n;
  }
  std::string dir_;
};

TEST_F(AtomicFileTest, CreatesAndReplacesWithTheMode) {
  const std::string p = dir_ + "/f";
  ASSERT_TRUE(WriteFileAtomic(p, std::string_view("one\n")).ok());
  EXPECT_EQ(Slurp(p), "one\n");
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_TRUE(WriteFileAtomic(p, std::string_view("two"), 0640).ok());
  EXPECT_EQ(Slurp(p), "two");
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(Entries(), 1);  // no temporary file left
}

TEST_F(AtomicFileTest, ReplacesASymlinkInsteadOfFollowingIt) {
  const std::string target = dir_ + "/target", link = dir_ + "/link";
  std::ofstream(target) << "keep";
  ASSERT_EQ(symlink(target.c_str(), link.c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(link, std::string_view("new")).ok());
  EXPECT_EQ(Slurp(target), "keep");
  EXPECT_EQ(Slurp(link), "new");
}

TEST_F(AtomicFileTest, FailureNamesThePathAndLeavesNothing) {
  const std::string p = dir_ + "/sub/f";  // no such directory
  Status s = WriteFileAtomic(p, std::string_view("x"));
  ASSERT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(s.message(), "cannot write '" + p + "': No such file or directory");
  // Renaming over a directory fails after the temporary file was written.
  ASSERT_EQ(mkdir((dir_ + "/d").c_str(), 0700), 0);
  s = WriteFileAtomic(dir_ + "/d", std::string_view("x"));
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(Entries(), 1);  // only d: the temporary file was removed
}

TEST(DirectoryOfTest, Cases) {
  EXPECT_EQ(DirectoryOf("f"), ".");
  EXPECT_EQ(DirectoryOf("/f"), "/");
  EXPECT_EQ(DirectoryOf("a/b/c"), "a/b");
}

}  // namespace
}  // namespace luksfs
