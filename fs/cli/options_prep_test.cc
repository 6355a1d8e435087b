// Command-line parsing of create, convert and compare.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fs/cli/options.h"

namespace luksfs::cli {
namespace {

using Kind = Command::Kind;
using Args = std::vector<std::string>;

Command MustParse(const Args& args) {
  ParseResult r = ParseCommandLine(args);
  EXPECT_TRUE(r.command.has_value()) << "error: " << r.error;
  return r.command.value_or(Command{});
}

std::string MustFail(const Args& args) {
  ParseResult r = ParseCommandLine(args);
  EXPECT_FALSE(r.command.has_value());
  return r.error;
}

TEST(OptionsPrepTest, Create) {
  Command c = MustParse({"create", "--type", "luks1", "--key-size", "256",
                         "--passphrase-file", "pw", "--iter-time", "50", "img", "1G"});
  EXPECT_EQ(c.kind, Kind::kCreate);
  EXPECT_EQ(c.prep.a, "img");
  EXPECT_EQ(c.prep.size, 1ull << 30);
  EXPECT_EQ(c.prep.format.version, 1);
  EXPECT_EQ(c.prep.format.key_bits, 256u);
  EXPECT_EQ(c.prep.format.iter_time_ms, 50u);
  EXPECT_EQ(c.prep.new_secret.passphrase_file, "pw");
  c = MustParse({"create", "--sector-size", "512", "--pbkdf", "argon2i",
                 "--pbkdf-memory", "65536", "--pbkdf-parallel", "2", "--label", "x",
                 "--force", "img", "4096"});
  EXPECT_EQ(*c.prep.format.sector_size, 512u);
  EXPECT_EQ(c.prep.format.pbkdf, "argon2i");
  EXPECT_EQ(*c.prep.format.memory_kib, 65536u);
  EXPECT_EQ(*c.prep.format.parallel, 2u);
  EXPECT_TRUE(c.prep.force);
}

TEST(OptionsPrepTest, CreateRefusals) {
  EXPECT_NE(MustFail({"create", "img"}).find("SIZE"), std::string::npos);
  EXPECT_NE(MustFail({"create", "img", "0"}).find("above 0"), std::string::npos);
  EXPECT_NE(MustFail({"create", "--type", "qcow3", "img", "1M"}).find("qcow2"),
            std::string::npos);
  EXPECT_NE(MustFail({"create", "--cluster-size", "4K", "img", "1M"}).find("--type qcow2"),
            std::string::npos);
  MustFail({"create", "--type", "qcow2", "--cluster-size", "x", "img", "1M"});
  MustFail({"create", "--sector-size", "3000", "img", "1M"});
  MustFail({"create", "--type", "luks1", "--label", "x", "img", "1M"});
  MustFail({"create", "--passphrase-file", "a", "--key-file", "b", "img", "1M"});
  MustFail({"create", "--kms", "file:/k#a", "--passphrase-file", "a", "img", "1M"});
  MustFail({"create", "img", "1X"});
}

TEST(OptionsPrepTest, Qcow2) {
  Command c = MustParse({"create", "--type", "qcow2", "--cluster-size", "2M",
                         "--refcount-bits", "1", "--extended-l2", "img", "100G"});
  EXPECT_TRUE(c.prep.format.qcow2.enabled);
  EXPECT_TRUE(c.prep.format.qcow2.encrypted);
  EXPECT_EQ(c.prep.format.version, 1);
  EXPECT_EQ(c.prep.format.qcow2.cluster_size, 2u << 20);
  EXPECT_EQ(c.prep.format.qcow2.refcount_bits, 1u);
  EXPECT_TRUE(c.prep.format.qcow2.extended_l2);
  c = MustParse({"create", "--type", "qcow2-plain", "img", "1G"});
  EXPECT_TRUE(c.prep.format.qcow2.enabled);
  EXPECT_FALSE(c.prep.format.qcow2.encrypted);
  EXPECT_EQ(c.prep.format.qcow2.cluster_size, 65536u);
  c = MustParse({"convert", "-O", "qcow2", "--cluster-size", "512", "s", "d"});
  EXPECT_EQ(c.prep.out_type, "qcow2");
  EXPECT_TRUE(c.prep.format.qcow2.enabled);
  EXPECT_EQ(c.prep.format.qcow2.cluster_size, 512u);
  c = MustParse({"convert", "--type", "qcow2-plain", "s", "d"});
  EXPECT_EQ(c.prep.out_type, "qcow2-plain");
  EXPECT_FALSE(c.prep.format.qcow2.encrypted);
  MustFail({"convert", "-O", "luks2", "--cluster-size", "4K", "s", "d"});
}

TEST(OptionsPrepTest, Convert) {
  Command c = MustParse({"convert", "-p", "-O", "raw", "--passphrase-file", "a",
                         "--block-size", "4", "--threads", "2", "src", "dst"});
  EXPECT_EQ(c.kind, Kind::kConvert);
  EXPECT_EQ(c.prep.a, "src");
  EXPECT_EQ(c.prep.b, "dst");
  EXPECT_EQ(c.prep.out_type, "raw");
  EXPECT_TRUE(c.prep.progress);
  EXPECT_EQ(c.prep.chunk_bytes, 4u << 20);
  EXPECT_EQ(c.prep.threads, 2u);
  EXPECT_EQ(c.secret.passphrase_file, "a");
  c = MustParse({"convert", "--type", "luks1", "--new-key-file", "k",
                 "--json-progress", "s", "d"});
  EXPECT_EQ(c.prep.out_type, "luks1");
  EXPECT_EQ(c.prep.new_secret.key_file, "k");
  EXPECT_TRUE(c.prep.json_progress);
  MustFail({"convert", "s"});
  MustFail({"convert", "-O", "qcow3", "s", "d"});
  MustFail({"convert", "-O", "raw", "--type", "luks1", "s", "d"});
  MustFail({"convert", "--block-size", "0", "s", "d"});
}

TEST(OptionsPrepTest, CompareSecretsPerSide) {
  Command c = MustParse({"compare", "-s", "--key-file", "ka", "--b-passphrase-file",
                         "pb", "--b-key-slot", "3", "a", "b"});
  EXPECT_EQ(c.kind, Kind::kCompare);
  EXPECT_TRUE(c.prep.strict);
  EXPECT_EQ(c.secret.key_file, "ka");
  EXPECT_EQ(c.prep.new_secret.passphrase_file, "pb");
  EXPECT_EQ(*c.prep.new_secret.key_slot, 3);
  MustFail({"compare", "a"});
  MustFail({"compare", "--b-key-slot", "40", "a", "b"});
}

}  // namespace
}  // namespace luksfs::cli
