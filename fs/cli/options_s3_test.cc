// The S3 options of every command that takes them.
#include <gtest/gtest.h>

#include "fs/cli/options.h"

namespace luksfs::cli {
namespace {

using Args = std::vector<std::string>;

TEST(OptionsS3, MountLongOptions) {
  ParseResult r = ParseCommandLine(
      {"mount", "s3://b1/k/x.luks", "/mnt", "--s3-endpoint", "http://127.0.0.1:7480",
       "--s3-region", "eu-1", "--s3-path-style", "--s3-ca", "/ca.pem", "--cache-dir",
       "/var/cache/luksfs", "--cache-size", "64", "--read-ahead", "0",
       "--commit-interval", "5", "--s3-retries", "3"});
  ASSERT_TRUE(r.command) << r.error;
  const fs::S3Options& o = r.command->mount.storage.s3;
  EXPECT_EQ(r.command->mount.image, "s3://b1/k/x.luks");
  EXPECT_EQ(o.endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(o.region, "eu-1");
  EXPECT_EQ(o.addressing, fs::S3Addressing::kPathStyle);
  EXPECT_EQ(o.ca_file, "/ca.pem");
  EXPECT_EQ(o.cache_dir, "/var/cache/luksfs");
  EXPECT_EQ(o.cache_mib, 64u);
  EXPECT_EQ(o.read_ahead_kib, 0u);
  EXPECT_EQ(o.commit_interval_s, 5u);
  EXPECT_EQ(o.max_retries, 3u);
}

TEST(OptionsS3, Defaults) {
  ParseResult r = ParseCommandLine({"mount", "s3://b1/k", "/mnt"});
  ASSERT_TRUE(r.command) << r.error;
  const fs::S3Options& o = r.command->mount.storage.s3;
  EXPECT_EQ(o.addressing, fs::S3Addressing::kAuto);
  EXPECT_EQ(o.cache_mib, 256u);
  EXPECT_EQ(o.read_ahead_kib, 16384u);
  EXPECT_EQ(o.commit_interval_s, 30u);
}

TEST(OptionsS3, MountDashO) {
  ParseResult r = ParseCommandLine(
      {"s3://b1/k", "/mnt", "-o",
       "ro,s3_endpoint=https://s3.example:9000,s3_virtual_host,cache_dir=/c,"
       "cache_size=32,read_ahead=1024,commit_interval=0,s3_region=r,s3_ca=/ca"});
  ASSERT_TRUE(r.command) << r.error;
  const fs::S3Options& o = r.command->mount.storage.s3;
  EXPECT_TRUE(r.command->mount.read_only);
  EXPECT_EQ(o.endpoint, "https://s3.example:9000");
  EXPECT_EQ(o.addressing, fs::S3Addressing::kVirtualHost);
  EXPECT_EQ(o.cache_dir, "/c");
  EXPECT_EQ(o.cache_mib, 32u);
  EXPECT_EQ(o.read_ahead_kib, 1024u);
  EXPECT_EQ(o.commit_interval_s, 0u);
  EXPECT_EQ(o.region, "r");
  EXPECT_EQ(o.ca_file, "/ca");
}

TEST(OptionsS3, StreamWindow) {
  ParseResult d = ParseCommandLine({"mount", "s3://b1/k", "/mnt"});
  ASSERT_TRUE(d.command) << d.error;
  EXPECT_EQ(d.command->mount.storage.s3.stream_window_mib, 256u);
  ParseResult r = ParseCommandLine({"mount", "s3://b1/k", "/mnt", "--s3-stream-window", "0"});
  ASSERT_TRUE(r.command) << r.error;
  EXPECT_EQ(r.command->mount.storage.s3.stream_window_mib, 0u);
  ParseResult o = ParseCommandLine({"s3://b1/k", "/mnt", "-o", "ro,s3_stream_window=64"});
  ASSERT_TRUE(o.command) << o.error;
  EXPECT_EQ(o.command->mount.storage.s3.stream_window_mib, 64u);
  ParseResult bad =
      ParseCommandLine({"mount", "s3://b1/k", "/mnt", "--s3-stream-window", "9999999"});
  EXPECT_FALSE(bad.command);
  EXPECT_NE(bad.error.find("--s3-stream-window"), std::string::npos) << bad.error;
}

TEST(OptionsS3, InfoAndCheck) {
  ParseResult i = ParseCommandLine({"info", "s3://b1/k", "--s3-endpoint", "http://h:1"});
  ASSERT_TRUE(i.command) << i.error;
  EXPECT_EQ(i.command->storage.s3.endpoint, "http://h:1");
  ParseResult c = ParseCommandLine(
      {"check", "s3://b1/k", "--s3-path-style", "--passphrase-file", "pw"});
  ASSERT_TRUE(c.command) << c.error;
  EXPECT_EQ(c.command->storage.s3.addressing, fs::S3Addressing::kPathStyle);
}

TEST(OptionsS3, Rejects) {
  for (const Args& a : {Args{"mount", "s3://b1/k", "/m", "--s3-path-style", "--s3-virtual-host"},
                        Args{"mount", "s3://b1/k", "/m", "--s3-endpoint", "127.0.0.1:7480"},
                        Args{"mount", "s3://b1/k", "/m", "--cache-size", "0"},
                        Args{"info", "s3://b1/k", "--s3-retries", "1000"},
                        Args{"mount", "s3://b1/k", "/m", "-o", "s3_bogus=1"}}) {
    ParseResult r = ParseCommandLine(a);
    EXPECT_FALSE(r.command) << a[3];
    EXPECT_FALSE(r.error.empty());
  }
}

// Every command that takes the S3 group parses all of it, whichever options
// are given (bind used to drop --s3-ca and --s3-path-style unless
// --s3-endpoint or --s3-region was given too).
TEST(OptionsS3, EveryCommandParsesTheWholeGroup) {
  const Args s3 = {"--s3-ca", "/ca.pem", "--s3-path-style", "--s3-retries", "4",
                   "--cache-size", "16"};
  for (const Args& head : {Args{"mount", "s3://b/k", "/mnt"}, Args{"info", "s3://b/k"},
                           Args{"check", "s3://b/k"},
                           Args{"bind", "s3://b/k", "--kms", "file:/ks#k"},
                           Args{"unbind", "s3://b/k"}, Args{"shred", "s3://b/k"},
                           Args{"rewrap", "s3://b/k", "--kms", "file:/ks#k"}}) {
    Args a = head;
    a.insert(a.end(), s3.begin(), s3.end());
    ParseResult r = ParseCommandLine(a);
    ASSERT_TRUE(r.command) << head[0] << ": " << r.error;
    const fs::S3Options& o = head[0] == "mount" ? r.command->mount.storage.s3
                                                : r.command->storage.s3;
    EXPECT_EQ(o.ca_file, "/ca.pem") << head[0];
    EXPECT_EQ(o.addressing, fs::S3Addressing::kPathStyle) << head[0];
    EXPECT_EQ(o.max_retries, 4u) << head[0];
    EXPECT_EQ(o.cache_mib, 16u) << head[0];
    // And checks it: the same bad value is refused by every command.
    Args bad = head;
    bad.insert(bad.end(), {"--s3-path-style", "--s3-virtual-host"});
    EXPECT_FALSE(ParseCommandLine(bad).command) << head[0];
  }
}

// Commands without the S3 group refuse its options.
TEST(OptionsS3, CommandsWithoutTheGroupRefuseIt) {
  for (const Args& a : {Args{"wrap", "--kms", "file:/ks#k", "--in", "f", "--s3-ca", "/c"},
                        Args{"umount", "/mnt", "--s3-ca", "/c"}}) {
    EXPECT_FALSE(ParseCommandLine(a).command) << a[0];
  }
}

}  // namespace
}  // namespace luksfs::cli
