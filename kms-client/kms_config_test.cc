// The KMS cluster configuration file: parsing, URI resolution both ways,
// option merging, and the rewrite `kms trust --save` does.
#include "kms-client/kms_config.h"

#include <gtest/gtest.h>

namespace luksfs::kms {
namespace {

constexpr char kConfig[] = R"(# clusters
[cluster vsphere-prod]
server = kms1.example.com:5696
server = [2001:db8::1]:5697
mode = local
ca = /etc/luksfs/ca.pem
client-cert = /etc/luksfs/c.pem
client-key = /etc/luksfs/c.key
fingerprint = SHA1 Fingerprint=7B:D9:46:BE:0C:1E:B0:27:CE:33:B5:2E:22:0F:00:84:F9:18:C6:61

[cluster ibm]   # IBM Cloud
driver = kp     # Key Protect
server = us-south.kms.cloud.ibm.com
instance = 0123-guid
api-key-file = /etc/luksfs/apikey
)";

TEST(KmsConfigTest, ParsesClusters) {
  Result<KmsClusterConfig> cfg = ParseKmsConfig(kConfig, "kms.conf");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString();
  ASSERT_EQ(cfg->clusters.size(), 2u);
  const KmsCluster* v = cfg->Find("vsphere-prod");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->driver, "kmip");
  EXPECT_EQ(v->servers.size(), 2u);
  EXPECT_EQ(v->fingerprints.size(), 1u);
  EXPECT_EQ(cfg->Find("nope"), nullptr);
  EXPECT_EQ(cfg->Find("ibm")->driver, "kp");  // trailing comments stripped

  Result<std::string> uri = ClusterDriverUri(*v, "42");
  ASSERT_TRUE(uri.ok()) << uri.status().ToString();
  EXPECT_EQ(*uri, "kmip://kms1.example.com:5696,[2001:db8::1]:5697/42?mode=local");
  Result<std::string> key = ClusterKeyOf(*v, *uri);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(*key, "42");

  const KmsCluster* kp = cfg->Find("ibm");
  ASSERT_NE(kp, nullptr);
  uri = ClusterDriverUri(*kp, "key-1");
  ASSERT_TRUE(uri.ok());
  EXPECT_EQ(*uri, "kp+https://us-south.kms.cloud.ibm.com/key-1");
  EXPECT_EQ(*ClusterKeyOf(*kp, *uri), "key-1");
  EXPECT_FALSE(ClusterKeyOf(*kp, "kp+https://elsewhere/key-1").ok());

  KmsOptions given;
  given.ca_file = "/mine.pem";
  KmsOptions merged = MergeClusterOptions(*v, given);
  EXPECT_EQ(merged.ca_file, "/mine.pem");  // the command line wins
  EXPECT_EQ(merged.client_cert_file, "/etc/luksfs/c.pem");
  EXPECT_NE(merged.fingerprint.find("SHA1 Fingerprint=7B:D9"), std::string::npos);
  EXPECT_EQ(MergeClusterOptions(*kp, {}).api_key_file, "/etc/luksfs/apikey");
}

TEST(KmsConfigTest, RejectsBadLinesNamingThem) {
  for (const char* bad :
       {"server = x\n", "[cluster]\n", "[cluster a b]\n", "[cluster a]\nfoo = 1\n",
        "[cluster a]\ndriver = aws\n", "[cluster a]\nserver\n",
        "[cluster a]\n[cluster a]\n", "[cluster a]\nmode = fast\n"}) {
    Result<KmsClusterConfig> cfg = ParseKmsConfig(bad, "f.conf");
    EXPECT_FALSE(cfg.ok()) << bad;
    if (!cfg.ok()) {
      EXPECT_EQ(cfg.status().message().rfind("f.conf:", 0), 0u)
          << cfg.status().message();
    }
  }
}

TEST(KmsConfigTest, ClusterUris) {
  Result<ClusterKey> ck = ParseClusterUri("kms-cluster:prod/17");
  ASSERT_TRUE(ck.ok());
  EXPECT_EQ(ck->cluster, "prod");
  EXPECT_EQ(ck->key, "17");
  ck = ParseClusterUri("kmip-cluster:prod/transit/k");
  ASSERT_TRUE(ck.ok());
  EXPECT_EQ(ck->key, "transit/k");
  EXPECT_FALSE(ParseClusterUri("kms-cluster:/17").ok());
  EXPECT_FALSE(ParseClusterUri("kms-cluster:a b/17").ok());
  EXPECT_TRUE(IsClusterUri("kms-cluster:x/1"));
  EXPECT_FALSE(IsClusterUri("kmip://x/1"));
  EXPECT_EQ(ClusterUri("prod", "9"), "kms-cluster:prod/9");
}

TEST(KmsConfigTest, SavingPinsReplacesOnlyThatClustersFingerprints) {
  KmsCluster c;
  c.name = "vsphere-prod";
  std::string text = WithPinnedFingerprints(kConfig, c, {"sha256 Fingerprint=AA"},
                                            {"pinned by luksfs kms trust: x"});
  EXPECT_EQ(text.find("SHA1 Fingerprint=7B:D9"), std::string::npos) << text;
  EXPECT_NE(text.find("# pinned by luksfs kms trust: x\nfingerprint = sha256 "
                      "Fingerprint=AA\n\n[cluster ibm]"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("api-key-file = /etc/luksfs/apikey"), std::string::npos);
  // A second save replaces the first one's pin and comment.
  std::string again = WithPinnedFingerprints(text, c, {"sha256 Fingerprint=BB"},
                                             {"pinned by luksfs kms trust: y"});
  EXPECT_EQ(again.find("Fingerprint=AA"), std::string::npos) << again;
  EXPECT_EQ(again.find("trust: x"), std::string::npos) << again;
  // A section header with a trailing comment is still found.
  KmsCluster ibm;
  ibm.name = "ibm";
  std::string commented = WithPinnedFingerprints(
      "[cluster ibm]   # IBM\nfingerprint = old\n", ibm,
      {"sha256 Fingerprint=DD"}, {});
  EXPECT_EQ(commented.find("old"), std::string::npos) << commented;
  EXPECT_EQ(commented.find("[cluster ibm]", 20), std::string::npos) << commented;
  // A new cluster is appended with its driver and servers.
  KmsCluster n;
  n.name = "new";
  n.servers = {"10.0.0.1:5696"};
  std::string added = WithPinnedFingerprints(kConfig, n, {"sha256 Fingerprint=CC"}, {});
  Result<KmsClusterConfig> cfg = ParseKmsConfig(added, "f");
  ASSERT_TRUE(cfg.ok()) << cfg.status().ToString() << "\n" << added;
  ASSERT_NE(cfg->Find("new"), nullptr);
  EXPECT_EQ(cfg->Find("new")->servers[0], "10.0.0.1:5696");
  EXPECT_EQ(cfg->Find("new")->fingerprints[0], "sha256 Fingerprint=CC");
  EXPECT_EQ(cfg->Find("vsphere-prod")->fingerprints.size(), 1u);
}

}  // namespace
}  // namespace luksfs::kms
