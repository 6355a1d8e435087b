#include "fs/cli/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace luksfs::cli {
namespace {

using Kind = Command::Kind;
using Args = std::vector<std::string>;

// Parses and asserts success; returns the command.
Command MustParse(const Args& args) {
  ParseResult r = ParseCommandLine(args);
  EXPECT_TRUE(r.command.has_value()) << "error: " << r.error;
  EXPECT_EQ(r.error, "");
  return r.command.value_or(Command{});
}

// Parses and asserts failure; returns the error message.
std::string MustFail(const Args& args) {
  ParseResult r = ParseCommandLine(args);
  EXPECT_FALSE(r.command.has_value())
      << "unexpectedly parsed, kind " << static_cast<int>(r.command->kind);
  EXPECT_FALSE(r.error.empty());
  return r.error;
}

bool Contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// ----- top level -----

TEST(ParseCommandLineTest, NoArgsIsHelp) {
  Command c = MustParse({});
  EXPECT_EQ(c.kind, Kind::kHelp);
  EXPECT_TRUE(c.usage_error);  // on stderr, exit 1
  EXPECT_TRUE(Contains(c.help_text, "usage: luksfs mount"));
  EXPECT_FALSE(MustParse({"--help"}).usage_error);
}

// COMMAND --help shows that command's usage and options only.
TEST(ParseCommandLineTest, CommandHelpIsTheCommandsOnly) {
  const std::string umount = MustParse({"umount", "--help"}).help_text;
  EXPECT_TRUE(Contains(umount, "usage: luksfs umount MOUNTPOINT"));
  EXPECT_FALSE(Contains(umount, "luksfs mount")) << umount;
  EXPECT_FALSE(Contains(umount, "--passphrase-file")) << umount;
  const std::string info = MustParse({"info", "--help"}).help_text;
  EXPECT_TRUE(Contains(info, "--s3-endpoint"));
  EXPECT_FALSE(Contains(info, "--passphrase-file")) << info;
  EXPECT_FALSE(Contains(info, "--kms")) << info;
  const std::string kms = MustParse({"kms", "--help"}).help_text;
  for (const char* verb : {"create-key", "revoke", "destroy", "state"}) {
    EXPECT_TRUE(Contains(kms, std::string("  ") + verb + " URI")) << kms;
  }
  const std::string wrap = MustParse({"wrap", "--help"}).help_text;
  EXPECT_TRUE(Contains(wrap, "--in"));
  EXPECT_FALSE(Contains(wrap, "--s3-ca")) << wrap;
}

TEST(ParseCommandLineTest, TopLevelHelpSpellings) {
  for (const char* h : {"--help", "-h", "help"}) {
    Command c = MustParse({h});
    EXPECT_EQ(c.kind, Kind::kHelp) << h;
    EXPECT_TRUE(Contains(c.help_text, "usage:")) << h;
  }
}

TEST(ParseCommandLineTest, Version) {
  EXPECT_EQ(MustParse({"--version"}).kind, Kind::kVersion);
  EXPECT_EQ(MustParse({"-V"}).kind, Kind::kVersion);
}

TEST(ParseCommandLineTest, HelpForEachVerb) {
  for (const char* verb : {"mount", "umount", "pid", "info", "check"}) {
    for (const char* h : {"--help", "-h"}) {
      Command c = MustParse({verb, h});
      EXPECT_EQ(c.kind, Kind::kHelp) << verb << " " << h;
      EXPECT_TRUE(Contains(c.help_text, "usage:")) << verb;
    }
  }
  // Verb help lists the verb's own options.
  EXPECT_TRUE(
      Contains(MustParse({"mount", "--help"}).help_text, "--read-only"));
  EXPECT_TRUE(
      Contains(MustParse({"check", "--help"}).help_text, "--passphrase-file"));
  EXPECT_TRUE(Contains(MustParse({"info", "--help"}).help_text, "--json"));
  // --help wins over missing positionals.
  EXPECT_EQ(MustParse({"mount", "--help"}).kind, Kind::kHelp);
}

// ----- mount -----

TEST(ParseCommandLineTest, MountDefaults) {
  Command c = MustParse({"mount", "img.luks", "/mnt/x"});
  ASSERT_EQ(c.kind, Kind::kMount);
  const MountConfig& m = c.mount;
  EXPECT_EQ(m.image, "img.luks");
  EXPECT_EQ(m.mountpoint, "/mnt/x");
  EXPECT_EQ(m.name, "disk.raw");
  EXPECT_FALSE(m.read_only);
  EXPECT_FALSE(m.foreground);
  EXPECT_FALSE(m.allow_other);
  EXPECT_FALSE(m.direct_io);
  EXPECT_FALSE(m.debug);
  EXPECT_EQ(m.threads, 0u);
  EXPECT_EQ(m.secret.passphrase_file, "");
  EXPECT_EQ(m.secret.key_file, "");
  EXPECT_FALSE(m.secret.key_slot.has_value());
  EXPECT_EQ(m.secret.max_kdf_memory_kib, 1048576u);
}

TEST(ParseCommandLineTest, MountLongOptions) {
  Command c = MustParse(
      {"mount", "--read-only", "--foreground", "--allow-other", "--direct-io",
       "--debug", "--name=vm.img", "--threads", "8", "--passphrase-file",
       "/etc/pw", "--key-slot=3", "--max-kdf-memory=65536", "img", "mnt"});
  ASSERT_EQ(c.kind, Kind::kMount);
  const MountConfig& m = c.mount;
  EXPECT_EQ(m.image, "img");
  EXPECT_EQ(m.mountpoint, "mnt");
  EXPECT_TRUE(m.read_only);
  EXPECT_TRUE(m.foreground);
  EXPECT_TRUE(m.allow_other);
  EXPECT_TRUE(m.direct_io);
  EXPECT_TRUE(m.debug);
  EXPECT_EQ(m.name, "vm.img");
  EXPECT_EQ(m.threads, 8u);
  EXPECT_EQ(m.secret.passphrase_file, "/etc/pw");
  ASSERT_TRUE(m.secret.key_slot.has_value());
  EXPECT_EQ(*m.secret.key_slot, 3);
  EXPECT_EQ(m.secret.max_kdf_memory_kib, 65536u);
}

TEST(ParseCommandLineTest, MountShortOptions) {
  Command c = MustParse({"mount", "-r", "-f", "-d", "img", "mnt"});
  ASSERT_EQ(c.kind, Kind::kMount);
  EXPECT_TRUE(c.mount.read_only);
  EXPECT_TRUE(c.mount.foreground);
  EXPECT_TRUE(c.mount.debug);
  EXPECT_FALSE(c.mount.allow_other);
}

TEST(ParseCommandLineTest, MountHelperFormWithDashO) {
  // mount.fuse3 / fstab style: no verb, IMAGE MNT -o list.
  Command c = MustParse(
      {"/img/a.luks", "/mnt/a", "-o", "ro,name=x,passphrase_file=/p"});
  ASSERT_EQ(c.kind, Kind::kMount);
  EXPECT_EQ(c.mount.image, "/img/a.luks");
  EXPECT_EQ(c.mount.mountpoint, "/mnt/a");
  EXPECT_TRUE(c.mount.read_only);
  EXPECT_EQ(c.mount.name, "x");
  EXPECT_EQ(c.mount.secret.passphrase_file, "/p");
  EXPECT_EQ(c.mount.secret.key_file, "");
}

TEST(ParseCommandLineTest, MountDashOGluedForm) {
  Command c = MustParse({"img", "mnt", "-oro,allow_other,threads=4"});
  ASSERT_EQ(c.kind, Kind::kMount);
  EXPECT_TRUE(c.mount.read_only);
  EXPECT_TRUE(c.mount.allow_other);
  EXPECT_EQ(c.mount.threads, 4u);
  EXPECT_FALSE(c.mount.direct_io);
}

TEST(ParseCommandLineTest, MountDashOWithVerbAndBeforePositionals) {
  Command c = MustParse(
      {"mount", "-o", "direct_io,key_file=/k,key_slot=7", "img", "mnt"});
  ASSERT_EQ(c.kind, Kind::kMount);
  EXPECT_TRUE(c.mount.direct_io);
  EXPECT_EQ(c.mount.secret.key_file, "/k");
  ASSERT_TRUE(c.mount.secret.key_slot.has_value());
  EXPECT_EQ(*c.mount.secret.key_slot, 7);
  EXPECT_FALSE(c.mount.read_only);
}

TEST(ParseCommandLineTest, MountAllowDiscards) {
  EXPECT_FALSE(MustParse({"img", "mnt"}).mount.allow_discards);
  EXPECT_TRUE(MustParse({"img", "mnt", "-o", "allow_discards"}).mount.allow_discards);
  EXPECT_TRUE(MustParse({"mount", "--allow-discards", "img", "mnt"})
                  .mount.allow_discards);
}

TEST(ParseCommandLineTest, MountDashOIgnoresGenericWords) {
  Command c = MustParse({"img", "mnt", "-o",
                         "defaults,nodev,_netdev,nosuid,noauto,rw,nofail,"
                         "noatime,user,debug"});
  ASSERT_EQ(c.kind, Kind::kMount);
  EXPECT_TRUE(c.mount.debug);
  EXPECT_FALSE(c.mount.read_only);  // "rw" is ignored, not an error
  EXPECT_EQ(c.mount.name, "disk.raw");
}

TEST(ParseCommandLineTest, MountDashOUnknownWordIsNamed) {
  std::string err = MustFail({"img", "mnt", "-o", "ro,frobnicate,nodev"});
  EXPECT_TRUE(Contains(err, "frobnicate")) << err;
  err = MustFail({"img", "mnt", "-obogus=1"});
  EXPECT_TRUE(Contains(err, "bogus=1")) << err;
  // A flag word given a value is unknown, as is a value word without one.
  err = MustFail({"img", "mnt", "-o", "ro=1"});
  EXPECT_TRUE(Contains(err, "ro=1")) << err;
  err = MustFail({"img", "mnt", "-o", "name"});
  EXPECT_TRUE(Contains(err, "name")) << err;
}

TEST(ParseCommandLineTest, MountDashOWithoutValue) {
  std::string err = MustFail({"img", "mnt", "-o"});
  EXPECT_TRUE(Contains(err, "-o")) << err;
}

TEST(ParseCommandLineTest, MountMissingPositionals) {
  EXPECT_TRUE(Contains(MustFail({"mount"}), "required"));
  EXPECT_TRUE(Contains(MustFail({"mount", "img"}), "required"));
  EXPECT_TRUE(Contains(MustFail({"mount", "-r", "img"}), "required"));
  // Helper form with only one positional.
  EXPECT_TRUE(Contains(MustFail({"img", "-o", "ro"}), "required"));
}

TEST(ParseCommandLineTest, MountTooManyPositionals) {
  MustFail({"mount", "img", "mnt", "extra"});
}

TEST(ParseCommandLineTest, MountUnknownLongOption) {
  std::string err = MustFail({"mount", "--frobnicate", "img", "mnt"});
  EXPECT_TRUE(Contains(err, "frobnicate")) << err;
}

TEST(ParseCommandLineTest, PassphraseFileAndKeyFileExclusive) {
  std::string err = MustFail(
      {"mount", "--passphrase-file=/a", "--key-file=/b", "img", "mnt"});
  EXPECT_TRUE(Contains(err, "exclude")) << err;
  err = MustFail({"img", "mnt", "-o", "passphrase_file=/a,key_file=/b"});
  EXPECT_TRUE(Contains(err, "exclude")) << err;
  err =
      MustFail({"check", "img", "--passphrase-file", "/a", "--key-file", "/b"});
  EXPECT_TRUE(Contains(err, "exclude")) << err;
}

TEST(ParseCommandLineTest, KeySlotRange) {
  for (const char* ok : {"0", "1", "7", "31"}) {
    Command c = MustParse({"mount", std::string("--key-slot=") + ok, "i", "m"});
    ASSERT_TRUE(c.mount.secret.key_slot.has_value()) << ok;
    EXPECT_EQ(*c.mount.secret.key_slot, std::stoi(ok));
  }
  for (const char* bad : {"32", "-1", "1000"}) {
    std::string err =
        MustFail({"mount", std::string("--key-slot=") + bad, "i", "m"});
    EXPECT_TRUE(Contains(err, "key-slot")) << bad << ": " << err;
  }
  // Not a number at all.
  MustFail({"mount", "--key-slot=abc", "i", "m"});
  // check applies the same range.
  EXPECT_TRUE(
      Contains(MustFail({"check", "img", "--key-slot=32"}), "key-slot"));
  Command c = MustParse({"check", "img", "--key-slot", "31"});
  EXPECT_EQ(c.secret.key_slot.value_or(-1), 31);
}

TEST(ParseCommandLineTest, NameMustBePlainFileName) {
  for (const char* bad : {"a/b", "/abs", "x/", ".", ".."}) {
    std::string err =
        MustFail({"mount", std::string("--name=") + bad, "img", "mnt"});
    EXPECT_TRUE(Contains(err, "name")) << bad << ": " << err;
  }
  MustFail({"img", "mnt", "-o", "name=dir/file"});
  MustFail({"mount", "--name=" + std::string(256, 'a'), "img", "mnt"});
  Command c = MustParse({"mount", "--name=" + std::string(255, 'a'), "i", "m"});
  EXPECT_EQ(c.mount.name.size(), 255u);
}

TEST(ParseCommandLineTest, ThreadsBound) {
  EXPECT_EQ(MustParse({"mount", "--threads=256", "i", "m"}).mount.threads,
            256u);
  EXPECT_TRUE(
      Contains(MustFail({"mount", "--threads=257", "i", "m"}), "threads"));
}

TEST(ParseCommandLineTest, MaxKdfMemoryLowerBound) {
  EXPECT_TRUE(Contains(MustFail({"mount", "--max-kdf-memory=31", "i", "m"}),
                       "max-kdf-memory"));
  EXPECT_EQ(MustParse({"mount", "--max-kdf-memory=32", "i", "m"})
                .mount.secret.max_kdf_memory_kib,
            32u);
}

// boost::program_options' message formatting looped forever on an option
// text holding one of its %placeholders% (options_fuzz found it).
TEST(ParseCommandLineTest, PercentPlaceholdersInOptionsDoNotHang) {
  EXPECT_TRUE(Contains(MustFail({"mount", "i", "m", "--x%canonical_option%"}),
                       "cannot parse the argument \"--x%canonical_option%\""));
  EXPECT_TRUE(Contains(
      MustFail({"kms", "create-key", "-%kms-%original_token%_"}), "cannot parse"));
  EXPECT_TRUE(Contains(MustFail({"mount", "--threads=%value%", "i", "m"}),
                       "cannot parse"));
}

TEST(ParseCommandLineTest, MaxKdfTime) {
  EXPECT_EQ(MustParse({"mount", "i", "m"}).mount.secret.max_kdf_seconds, 60.0);
  EXPECT_EQ(MustParse({"mount", "--max-kdf-time=2.5", "i", "m"})
                .mount.secret.max_kdf_seconds,
            2.5);
  EXPECT_EQ(MustParse({"i", "m", "-o", "max_kdf_time=5"})
                .mount.secret.max_kdf_seconds,
            5.0);
  EXPECT_TRUE(Contains(MustFail({"mount", "--max-kdf-time=0", "i", "m"}),
                       "--max-kdf-time"));
  EXPECT_TRUE(Contains(MustFail({"mount", "--max-kdf-time=nan", "i", "m"}),
                       "max-kdf-time"));
}

// ----- umount / pid / info / check -----

TEST(ParseCommandLineTest, Umount) {
  Command c = MustParse({"umount", "/mnt/x"});
  EXPECT_EQ(c.kind, Kind::kUmount);
  EXPECT_EQ(c.mountpoint, "/mnt/x");
  EXPECT_TRUE(Contains(MustFail({"umount"}), "MOUNTPOINT"));
  MustFail({"umount", "/a", "/b"});
  MustFail({"umount", "--read-only", "/a"});  // a mount option
}

TEST(ParseCommandLineTest, Pid) {
  Command c = MustParse({"pid", "/mnt/x"});
  EXPECT_EQ(c.kind, Kind::kPid);
  EXPECT_EQ(c.mountpoint, "/mnt/x");
  EXPECT_TRUE(Contains(MustFail({"pid"}), "pid: MOUNTPOINT"));
  MustFail({"pid", "/a", "/b"});
  MustFail({"pid", "--json", "/a"});
  EXPECT_TRUE(
      Contains(MustParse({"--help"}).help_text, "luksfs pid MOUNTPOINT"));
}

TEST(ParseCommandLineTest, Info) {
  Command c = MustParse({"info", "img.luks"});
  EXPECT_EQ(c.kind, Kind::kInfo);
  EXPECT_EQ(c.image, "img.luks");
  EXPECT_FALSE(c.json);
  Command j = MustParse({"info", "--json", "img.luks"});
  EXPECT_EQ(j.kind, Kind::kInfo);
  EXPECT_TRUE(j.json);
  EXPECT_EQ(j.image, "img.luks");
  EXPECT_TRUE(Contains(MustFail({"info"}), "IMAGE"));
  MustFail({"info", "--passphrase-file=/p", "img"});  // not an info option
}

TEST(ParseCommandLineTest, Check) {
  Command c = MustParse({"check", "img.luks", "--key-file", "/k"});
  EXPECT_EQ(c.kind, Kind::kCheck);
  EXPECT_EQ(c.image, "img.luks");
  EXPECT_EQ(c.secret.key_file, "/k");
  EXPECT_EQ(c.secret.passphrase_file, "");
  EXPECT_FALSE(c.secret.key_slot.has_value());
  Command d = MustParse({"check", "--passphrase-file=-", "img"});
  EXPECT_EQ(d.secret.passphrase_file, "-");
  EXPECT_TRUE(Contains(MustFail({"check"}), "IMAGE"));
  MustFail({"check", "--read-only", "img"});  // a mount option
}

TEST(ParseCommandLineTest, VerbsDoNotExpandDashO) {
  // -o belongs to mount only.
  MustFail({"check", "img", "-o", "ro"});
  MustFail({"info", "img", "-o", "ro"});
}

// ----- ExpandMountOptions -----

TEST(ExpandMountOptionsTest, ExpandsWordsInOrder) {
  std::vector<std::string> out;
  ParseResult r = ExpandMountOptions(
      {"a", "-o", "ro,name=v.raw,threads=2", "b", "-odirect_io,allow_other"},
      &out);
  ASSERT_TRUE(r.command.has_value()) << r.error;
  EXPECT_EQ(out, (std::vector<std::string>{"a", "--read-only", "--name=v.raw",
                                           "--threads=2", "b", "--direct-io",
                                           "--allow-other"}));
}

TEST(ExpandMountOptionsTest, AllValueWords) {
  std::vector<std::string> out;
  ParseResult r = ExpandMountOptions(
      {"-o",
       "passphrase_file=/p,key_file=/k,key_slot=2,max_kdf_memory=64,"
       "foreground,debug"},
      &out);
  ASSERT_TRUE(r.command.has_value()) << r.error;
  EXPECT_EQ(out, (std::vector<std::string>{
                     "--passphrase-file=/p", "--key-file=/k", "--key-slot=2",
                     "--max-kdf-memory=64", "--foreground", "--debug"}));
}

TEST(ExpandMountOptionsTest, ValueMayContainEquals) {
  std::vector<std::string> out;
  ParseResult r = ExpandMountOptions({"-o", "passphrase_file=/a=b"}, &out);
  ASSERT_TRUE(r.command.has_value()) << r.error;
  EXPECT_EQ(out, (std::vector<std::string>{"--passphrase-file=/a=b"}));
}

TEST(ExpandMountOptionsTest, IgnoredAndEmptyWordsVanish) {
  std::vector<std::string> out;
  ParseResult r = ExpandMountOptions(
      {"-o", "defaults,,nodev,_netdev,noexec,relatime,sync,async,users"}, &out);
  ASSERT_TRUE(r.command.has_value()) << r.error;
  EXPECT_TRUE(out.empty()) << out.size() << " words, first " << out[0];
}

TEST(ExpandMountOptionsTest, PassesOtherArgsThrough) {
  std::vector<std::string> out;
  ParseResult r =
      ExpandMountOptions({"--read-only", "-f", "img", "--name=x"}, &out);
  ASSERT_TRUE(r.command.has_value());
  EXPECT_EQ(out,
            (std::vector<std::string>{"--read-only", "-f", "img", "--name=x"}));
}

TEST(ExpandMountOptionsTest, UnknownWordIsNamed) {
  std::vector<std::string> out;
  ParseResult r = ExpandMountOptions({"-o", "ro,frobnicate=1000"}, &out);
  EXPECT_FALSE(r.command.has_value());
  EXPECT_TRUE(Contains(r.error, "frobnicate=1000")) << r.error;
}

TEST(ParseMountTest, AccessAndLockWords) {
  ParseResult r = ParseCommandLine(
      {"mount", "-o", "allow_other,uid=107,gid=108,umask=0027,nonempty,nolock",
       "img", "mnt"});
  ASSERT_TRUE(r.command.has_value()) << r.error;
  const MountConfig& m = r.command->mount;
  EXPECT_TRUE(m.allow_other);
  EXPECT_EQ(m.uid, 107u);
  EXPECT_EQ(m.gid, 108u);
  EXPECT_EQ(m.umask, 027u);
  EXPECT_FALSE(m.mode.has_value());
  EXPECT_TRUE(m.nonempty);
  EXPECT_TRUE(m.no_lock);
  r = ParseCommandLine({"mount", "--mode", "0660", "img", "mnt"});
  ASSERT_TRUE(r.command.has_value()) << r.error;
  EXPECT_EQ(r.command->mount.mode, 0660u);
  EXPECT_FALSE(r.command->mount.no_lock);
}

TEST(ParseMountTest, PartitionFilesAreOnUnlessTurnedOff) {
  ParseResult r = ParseCommandLine({"mount", "img", "mnt"});
  ASSERT_TRUE(r.command.has_value()) << r.error;
  EXPECT_FALSE(r.command->mount.no_partitions);
  r = ParseCommandLine({"mount", "--no-partitions", "img", "mnt"});
  ASSERT_TRUE(r.command.has_value()) << r.error;
  EXPECT_TRUE(r.command->mount.no_partitions);
  r = ParseCommandLine({"mount", "-o", "ro,nopartitions", "img", "mnt"});
  ASSERT_TRUE(r.command.has_value()) << r.error;
  EXPECT_TRUE(r.command->mount.no_partitions);
  EXPECT_TRUE(r.command->mount.read_only);
}

TEST(ParseMountTest, BadModesAreUsageErrors) {
  for (const char* bad : {"mode=8", "mode=", "umask=0x1", "mode=17777", "umask=-1"}) {
    ParseResult r = ParseCommandLine({"mount", "-o", bad, "img", "mnt"});
    EXPECT_FALSE(r.command.has_value()) << bad;
  }
  ParseResult r = ParseCommandLine({"mount", "-o", "mode=600,umask=077", "img", "mnt"});
  EXPECT_FALSE(r.command.has_value());
  EXPECT_TRUE(Contains(r.error, "exclude")) << r.error;
}

TEST(ExpandMountOptionsTest, DashOAtEndIsError) {
  std::vector<std::string> out;
  ParseResult r = ExpandMountOptions({"img", "-o"}, &out);
  EXPECT_FALSE(r.command.has_value());
  EXPECT_TRUE(Contains(r.error, "-o")) << r.error;
}

// ----- option groups: each command that takes a group parses all of it -----

TEST(OptionGroupsTest, SecretGroupForEveryCommandThatTakesIt) {
  for (const Args& head : {Args{"mount", "img", "/mnt"}, Args{"check", "img"},
                           Args{"bind", "img", "--kms", "file:/ks#k"},
                           Args{"unbind", "img"}, Args{"shred", "img"},
                           Args{"rewrap", "img", "--kms", "file:/ks#k"}}) {
    Args a = head;
    a.insert(a.end(), {"--key-file", "/k", "--key-slot", "2", "--max-kdf-memory", "4096"});
    Command c = MustParse(a);
    const SecretOptions& s = head[0] == "mount" ? c.mount.secret : c.secret;
    EXPECT_EQ(s.key_file, "/k") << head[0];
    EXPECT_EQ(s.key_slot.value_or(-1), 2) << head[0];
    EXPECT_EQ(s.max_kdf_memory_kib, 4096u) << head[0];
    Args bad = head;
    bad.insert(bad.end(), {"--key-slot", "32"});
    EXPECT_TRUE(Contains(MustFail(bad), "--key-slot must be 0..31")) << head[0];
  }
  MustFail({"info", "img", "--key-file", "/k"});
  MustFail({"wrap", "--kms", "file:/ks#k", "--in", "f", "--key-file", "/k"});
}

TEST(OptionGroupsTest, KmsGroupForEveryCommandThatTakesIt) {
  for (const Args& head :
       {Args{"mount", "img", "/mnt"}, Args{"check", "img"}, Args{"bind", "img"},
        Args{"unbind", "img"}, Args{"shred", "img"}, Args{"rewrap", "img"},
        Args{"wrap", "--in", "f"}, Args{"unwrap", "--in", "f"},
        Args{"kms", "state"}}) {
    Args a = head;
    a.insert(a.end(), {"--kms", "file:/ks#k", "--kms-ca", "/ca", "--keystore-passphrase-file", "/p"});
    Command c = MustParse(a);
    const KmsConfig& k = head[0] == "mount" ? c.mount.kms : c.kms;
    EXPECT_EQ(k.uri, "file:/ks#k") << head[0];
    EXPECT_EQ(k.options.ca_file, "/ca") << head[0];
    EXPECT_EQ(k.options.keystore_passphrase_file, "/p") << head[0];
  }
  MustFail({"info", "img", "--kms-ca", "/ca"});
}

}  // namespace
}  // namespace luksfs::cli
