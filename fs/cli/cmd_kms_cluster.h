// `luksfs kms trust` and `luksfs kms clusters`: adding a KMS the way
// vCenter does (look at its certificate, pin it), and checking the named
// clusters of the KMS configuration file (kms-client/kms_config.h).
#pragma once

#include "fs/cli/options.h"

namespace luksfs::cli {

// kms trust TARGET [--save [--cluster NAME]]: TARGET is a kmip://,
// kp+https://, vault+https:// URI or kms-cluster:NAME. Prints each server
// certificate's subject, issuer, validity, SHA-1 and SHA-256 fingerprints;
// --save pins their SHA-256 fingerprints into the cluster (created from a
// literal URI with --cluster). Exit 5 when a server cannot be reached.
int RunKmsTrust(const Command& cmd);

// kms clusters: every configured cluster and, per server, whether it
// completes a trusted TLS handshake (TCP connect for scheme=http). Exit 5
// when any server is unreachable.
int RunKmsClusters(const Command& cmd);

}  // namespace luksfs::cli
