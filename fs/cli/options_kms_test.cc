// The KMS options added for clusters, trust and IBM IAM: long forms, the
// mount -o forms, and the kms trust / clusters verbs.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fs/cli/options.h"

namespace luksfs::cli {
namespace {

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

TEST(KmsOptionsTest, MountDashOFormsOfTheNewOptions) {
  Command c = MustParse({"img", "mnt", "-o",
                         "kms_config=/etc/k.conf,kms_api_key_file=/k,"
                         "iam_endpoint=https://private.iam.cloud.ibm.com"});
  EXPECT_EQ(c.mount.kms.options.kms_config, "/etc/k.conf");
  EXPECT_EQ(c.mount.kms.options.api_key_file, "/k");
  EXPECT_EQ(c.mount.kms.options.iam_endpoint,
            "https://private.iam.cloud.ibm.com");
}

TEST(KmsOptionsTest, LongForms) {
  Command c = MustParse({"wrap", "--kms", "kms-cluster:prod/7", "--in", "f",
                         "--kms-config", "/c", "--kms-api-key-file", "/a",
                         "--iam-endpoint", "http://h:1",
                         "--kms-fingerprint", "SHA1 Fingerprint=7B:D9"});
  EXPECT_EQ(c.kms.uri, "kms-cluster:prod/7");
  EXPECT_EQ(c.kms.options.kms_config, "/c");
  EXPECT_EQ(c.kms.options.api_key_file, "/a");
  EXPECT_EQ(c.kms.options.iam_endpoint, "http://h:1");
  EXPECT_EQ(c.kms.options.fingerprint, "SHA1 Fingerprint=7B:D9");
}

TEST(KmsOptionsTest, TrustAndClustersVerbs) {
  Command t = MustParse({"kms", "trust", "kmip://h/", "--save", "--cluster",
                         "prod"});
  EXPECT_EQ(t.kind, Command::Kind::kKmsAdmin);
  EXPECT_EQ(t.kms_verb, "trust");
  EXPECT_EQ(t.kms.uri, "kmip://h/");
  EXPECT_TRUE(t.kms.save);
  EXPECT_EQ(t.kms.cluster, "prod");
  Command l = MustParse({"kms", "clusters", "--kms-config", "/c"});
  EXPECT_EQ(l.kms_verb, "clusters");
  EXPECT_NE(MustFail({"kms", "trust"}).find("URI"), std::string::npos);
  EXPECT_NE(MustFail({"kms", "state", "kmip://h/1", "--save"}).find("--save"),
            std::string::npos);
}

}  // namespace
}  // namespace luksfs::cli
