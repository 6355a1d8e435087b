#include "common/secret_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace luksfs {
namespace {

using Code = Status::Code;

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/secret_file_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::string Write(const std::string& name, const std::string& body) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p, std::ios::binary) << body;
    return p;
  }
  static std::string Text(const SecureBuffer& b) {
    return std::string(b.data(), b.data() + b.size());
  }
  std::string dir_;
};

TEST_F(SecretFileTest, FirstLineStopsAtTheNewlineAndKeepsTheRest) {
  const std::string p = Write("pw", "pass word \r\nsecond line\n");
  auto r = ReadSecretFile(p, "passphrase file", SecretFormat::kFirstLine, 64);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Text(*r), "pass word \r");  // cryptsetup strips nothing else
  r = ReadSecretFile(p, "password file", SecretFormat::kFirstLineCrlf, 64);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Text(*r), "pass word ");
}

TEST_F(SecretFileTest, WholeKeepsEveryByte) {
  const std::string body("a\nb\0c\n", 6);
  auto r = ReadSecretFile(Write("k", body), "key file", SecretFormat::kWhole, 6);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Text(*r), body);
}

TEST_F(SecretFileTest, NoNewlineAndEmptyFiles) {
  auto r = ReadSecretFile(Write("a", "abc"), "x", SecretFormat::kFirstLine, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Text(*r), "abc");
  r = ReadSecretFile(Write("e", ""), "x", SecretFormat::kWhole, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->empty());
}

TEST_F(SecretFileTest, LimitIsInclusiveAndNamed) {
  const std::string big(5000, 'x');
  auto r = ReadSecretFile(Write("b", big), "key file", SecretFormat::kWhole, 5000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 5000u);
  const std::string p = Write("c", big + "y");
  r = ReadSecretFile(p, "key file", SecretFormat::kWhole, 5000);
  ASSERT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "key file '" + p + "' is longer than 5000 bytes");
  // A long first line is too long even when the file ends later.
  r = ReadSecretFile(Write("d", big + "\n"), "f", SecretFormat::kFirstLine, 4999);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  // A short first line of a large file is fine.
  r = ReadSecretFile(Write("e", "ok\n" + big), "f", SecretFormat::kFirstLine, 16);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Text(*r), "ok");
}

TEST_F(SecretFileTest, MissingAndUnreadableFilesSayWhichFile) {
  const std::string p = dir_ + "/none";
  auto r = ReadSecretFile(p, "token file", SecretFormat::kWhole, 10);
  ASSERT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "token file '" + p + "' does not exist");
  r = ReadSecretFile(dir_, "token file", SecretFormat::kWhole, 10);
  ASSERT_EQ(r.status().code(), Code::kIOError);
  EXPECT_EQ(r.status().message(),
            "cannot read token file '" + dir_ + "': Is a directory");
}

TEST_F(SecretFileTest, PipeIsReadBytewiseUpToTheLine) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  const std::string body = "line\nrest";
  ASSERT_EQ(write(fds[1], body.data(), body.size()), ssize_t(body.size()));
  close(fds[1]);
  auto r = ReadSecretFd(fds[0], "pipe", SecretFormat::kFirstLine, 64);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Text(*r), "line");
  char rest[8] = {};
  EXPECT_EQ(read(fds[0], rest, sizeof rest), 4);  // nothing consumed
  EXPECT_EQ(std::string(rest), "rest");
  close(fds[0]);
}

}  // namespace
}  // namespace luksfs
