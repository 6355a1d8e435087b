#include "fs/cli/mount_helper.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace luksfs::cli {
namespace {

using Args = std::vector<std::string>;

TEST(MountHelperTest, Name) {
  EXPECT_TRUE(IsMountHelperName("mount.luksfs"));
  EXPECT_TRUE(IsMountHelperName("/sbin/mount.luksfs"));
  EXPECT_FALSE(IsMountHelperName("/usr/bin/luksfs"));
  EXPECT_FALSE(IsMountHelperName("mount.luksfs2"));
}

TEST(MountHelperTest, FlagsAsMountPassesThem) {
  ParseResult r = ParseMountHelper(
      {"/img", "/mnt", "-sfnv", "-N", "1234", "-o", "ro,passphrase_file=/pw"});
  ASSERT_TRUE(r.command) << r.error;
  const MountConfig& m = r.command->mount;
  EXPECT_EQ(r.command->kind, Command::Kind::kMount);
  EXPECT_EQ(m.image, "/img");
  EXPECT_EQ(m.mountpoint, "/mnt");
  EXPECT_TRUE(m.fake);
  EXPECT_FALSE(m.foreground);  // -f is fake here, not foreground
  EXPECT_TRUE(m.verbose);
  EXPECT_TRUE(m.read_only);
  EXPECT_EQ(m.mount_namespace, "1234");
  EXPECT_EQ(m.secret.passphrase_file, "/pw");
}

TEST(MountHelperTest, GluedValuesAndTypeAndReadOnlyFlag) {
  ParseResult r = ParseMountHelper({"/img", "/mnt", "-r", "-t", "fuse.luksfs",
                                    "-okey_file=/k", "-N/proc/7/ns/mnt"});
  ASSERT_TRUE(r.command) << r.error;
  EXPECT_TRUE(r.command->mount.read_only);
  EXPECT_EQ(r.command->mount.secret.key_file, "/k");
  EXPECT_EQ(r.command->mount.mount_namespace, "/proc/7/ns/mnt");
  EXPECT_FALSE(r.command->mount.fake);
}

TEST(MountHelperTest, MountAndSystemdWordsAreIgnored) {
  ParseResult r = ParseMountHelper(
      {"/img", "/mnt", "-o",
       "defaults,x-systemd.automount,x-systemd.device-timeout=5,_netdev,nofail,"
       "noauto,auto,user,users,nouser,owner,group,rw,nosuid,nodev,noatime,"
       "comment=systemd.automount,x-mount.mkdir,threads=2"});
  ASSERT_TRUE(r.command) << r.error;
  EXPECT_EQ(r.command->mount.threads, 2u);
  EXPECT_FALSE(r.command->mount.read_only);
  // The same words through the mount.fuse3 form (luksfs IMAGE MNT -o ...).
  ParseResult f = ParseCommandLine(
      {"/img", "/mnt", "-o", "x-systemd.automount,_netdev,nofail,comment=x,threads=3"});
  ASSERT_TRUE(f.command) << f.error;
  EXPECT_EQ(f.command->mount.threads, 3u);
}

TEST(MountHelperTest, SloppyDropsOnlyUnknownWords) {
  ParseResult strict = ParseMountHelper({"/img", "/mnt", "-o", "bogus,threads=2"});
  EXPECT_FALSE(strict.command);
  EXPECT_NE(strict.error.find("unknown mount option 'bogus'"), std::string::npos)
      << strict.error;
  ParseResult sloppy = ParseMountHelper({"/img", "/mnt", "-s", "-o", "bogus,threads=2"});
  ASSERT_TRUE(sloppy.command) << sloppy.error;
  EXPECT_EQ(sloppy.command->mount.threads, 2u);
}

TEST(MountHelperTest, Errors) {
  EXPECT_FALSE(ParseMountHelper({"/img"}).command);
  EXPECT_FALSE(ParseMountHelper({"/img", "/mnt", "-o"}).command);
  EXPECT_FALSE(ParseMountHelper({"/img", "/mnt", "-N"}).command);
  ParseResult r = ParseMountHelper({"/img", "/mnt", "-x"});
  EXPECT_FALSE(r.command);
  EXPECT_NE(r.error.find("-x"), std::string::npos);
}

TEST(MountHelperTest, VerboseQuietAndLogFileOptions) {
  ParseResult r = ParseCommandLine({"mount", "-q", "--log-file", "/l", "/img", "/mnt"});
  ASSERT_TRUE(r.command) << r.error;
  EXPECT_TRUE(r.command->mount.quiet);
  EXPECT_EQ(r.command->mount.log_file, "/l");
  r = ParseCommandLine({"/img", "/mnt", "-o", "verbose,log_file=/x"});
  ASSERT_TRUE(r.command) << r.error;
  EXPECT_TRUE(r.command->mount.verbose);
  EXPECT_EQ(r.command->mount.log_file, "/x");
  EXPECT_FALSE(ParseCommandLine({"mount", "-v", "-q", "/img", "/mnt"}).command);
}

}  // namespace
}  // namespace luksfs::cli
