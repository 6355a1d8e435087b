// Named KMS clusters: the operator's configuration file (default
// /etc/luksfs/kms.conf, or --kms-config FILE) names groups of key servers
// that hold the same keys, as vCenter's KMS clusters do. A binding then
// stores "kms-cluster:NAME/KEY-ID" (also accepted: "kmip-cluster:") instead
// of server addresses, so moving a KMS means editing this one file.
//
// Format (one setting a line; '#' at the start of a line, or after
// whitespace, starts a comment):
//   [cluster NAME]              NAME: letters, digits, '.', '_', '-'
//   driver = kmip               kmip (default) | kp (Key Protect, also Hyper
//                               Protect Crypto Services) | vault
//   server = HOST[:PORT]        repeatable; KMIP tries them in order (REST
//                               drivers use the first)
//   scheme = https              REST only: https (default) | http (tests)
//   mode = local                KMIP only: server | local
//   ca = FILE                   PEM CA bundle
//   fingerprint = PIN           repeatable: a pinned server certificate,
//                               SHA-1 or SHA-256 (as --kms-fingerprint)
//   client-cert = FILE, client-key = FILE     KMIP mutual TLS
//   username = NAME, password-file = FILE     KMIP credential
//   token-file = FILE           REST bearer token
//   api-key-file = FILE, iam-endpoint = URL   IBM IAM API key (Key Protect)
//   instance = GUID             Key Protect instance (bluemix-instance)
// Options given on the command line win over the file's.
//
// Thread-safety: values and pure functions; LoadKmsConfig reads a file.
// Secrets: the file names credential files, it holds none.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "kms-client/kms.h"

namespace luksfs::kms {

inline constexpr char kDefaultKmsConfig[] = "/etc/luksfs/kms.conf";

struct KmsCluster {
  std::string name;
  std::string driver = "kmip";
  std::vector<std::string> servers;
  std::string scheme = "https";
  std::string mode;
  std::vector<std::string> fingerprints;
  std::string ca_file, client_cert_file, client_key_file;
  std::string username, password_file, token_file;
  std::string api_key_file, iam_endpoint, instance_id;
};

struct KmsClusterConfig {
  std::string path;
  std::vector<KmsCluster> clusters;
  const KmsCluster* Find(std::string_view name) const;
};

// Errors: kInvalidArgument "PATH:LINE: what is wrong".
Result<KmsClusterConfig> ParseKmsConfig(std::string_view text,
                                        const std::string& path);
// Reads `path` ("" = kDefaultKmsConfig). Errors: kInvalidArgument for a
// missing or unreadable file (naming it), or a parse error.
Result<KmsClusterConfig> LoadKmsConfig(const std::string& path);

bool IsClusterUri(std::string_view uri);
struct ClusterKey {
  std::string cluster;
  std::string key;  // may be empty (kms create-key)
};
// "kms-cluster:NAME/KEY-ID". Errors: kInvalidArgument.
Result<ClusterKey> ParseClusterUri(std::string_view uri);
std::string ClusterUri(std::string_view cluster, std::string_view key);

// The driver URI for `key` in cluster `c` (kmip://S1,S2/KEY?mode=...,
// kp+https://S1/KEY, vault+https://S1/KEY). Errors: kInvalidArgument (no
// server, unknown driver).
Result<std::string> ClusterDriverUri(const KmsCluster& c, std::string_view key);
// `given` with the cluster's settings filled in where `given` has none.
KmsOptions MergeClusterOptions(const KmsCluster& c, const KmsOptions& given);
// The key id of a driver URI made for cluster `c` (inverse of
// ClusterDriverUri). Errors: kInvalidArgument.
Result<std::string> ClusterKeyOf(const KmsCluster& c, std::string_view uri);

// `text` with the fingerprint lines of cluster `name` replaced by
// `fingerprints` (each preceded by its comment line, if any); a cluster
// that is not there is appended with `created` (its driver and servers).
// Other lines are kept as they are.
std::string WithPinnedFingerprints(std::string_view text,
                                   const KmsCluster& created,
                                   const std::vector<std::string>& fingerprints,
                                   const std::vector<std::string>& comments);

}  // namespace luksfs::kms
