// OpenKms / CreateRootKey: dispatch by URI scheme to the drivers.
#include "kms-client/kms.h"

#include <string>

#include "kms-client/key_protect.h"
#include "kms-client/keystore.h"
#include "kms-client/kmip_client.h"
#include "kms-client/kms_config.h"
#include "kms-client/vault_transit.h"

namespace luksfs::kms {

namespace {

enum class Driver { kKmip, kKeyProtect, kVault, kKeystore, kCluster, kUnknown };

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

Driver DriverFor(std::string_view uri) {
  if (StartsWith(uri, "kmip://")) return Driver::kKmip;
  if (StartsWith(uri, "kp+https://") || StartsWith(uri, "kp+http://")) {
    return Driver::kKeyProtect;
  }
  if (StartsWith(uri, "vault+https://") || StartsWith(uri, "vault+http://")) {
    return Driver::kVault;
  }
  if (StartsWith(uri, "file:")) return Driver::kKeystore;
  if (IsClusterUri(uri)) return Driver::kCluster;
  return Driver::kUnknown;
}

Status UnknownScheme(std::string_view uri) {
  size_t colon = uri.find(':');
  std::string scheme(colon == std::string_view::npos ? uri
                                                     : uri.substr(0, colon));
  if (scheme.size() > 40) scheme = scheme.substr(0, 40) + "...";
  return Status::InvalidArgument(
      "KMS URI scheme \"" + scheme +
      "\" not supported (use kmip://, kp+https://, vault+https://, file: or "
      "kms-cluster:)");
}

// The cluster of a kms-cluster: URI, from the configuration file.
Result<KmsCluster> FindCluster(std::string_view uri, const KmsOptions& options,
                               std::string* key) {
  LUKSFS_ASSIGN_OR_RETURN(ClusterKey ck, ParseClusterUri(uri));
  LUKSFS_ASSIGN_OR_RETURN(KmsClusterConfig cfg, LoadKmsConfig(options.kms_config));
  const KmsCluster* c = cfg.Find(ck.cluster);
  if (c == nullptr) {
    return Status::InvalidArgument("KMS cluster '" + ck.cluster +
                                   "' is not in " + cfg.path);
  }
  *key = ck.key;
  return *c;
}

// A client whose uri() is the cluster URI the caller gave, not the
// addresses it resolved to (bindings and audit lines keep the name).
class NamedClient final : public KmsClient {
 public:
  NamedClient(std::string uri, std::unique_ptr<KmsClient> inner)
      : uri_(std::move(uri)), inner_(std::move(inner)) {}
  const std::string& uri() const override { return uri_; }
  const std::string& key_id() const override { return inner_->key_id(); }
  Result<std::vector<uint8_t>> Wrap(std::span<const uint8_t> p) override {
    return inner_->Wrap(p);
  }
  Result<SecureBuffer> Unwrap(std::span<const uint8_t> w) override {
    return inner_->Unwrap(w);
  }
  Result<KeyState> State() override { return inner_->State(); }
  Status Revoke(std::string_view reason) override {
    return inner_->Revoke(reason);
  }
  Status Destroy() override { return inner_->Destroy(); }
  Status RecordUse(const NewKeyAttributes& use) override {
    return inner_->RecordUse(use);
  }
  Result<std::vector<uint8_t>> Rewrap(std::span<const uint8_t> w) override {
    return inner_->Rewrap(w);
  }

 private:
  const std::string uri_;
  const std::unique_ptr<KmsClient> inner_;
};

}  // namespace

const char* KeyStateName(KeyState s) {
  switch (s) {
    case KeyState::kPreActive: return "pre-active";
    case KeyState::kActive: return "active";
    case KeyState::kSuspended: return "suspended";
    case KeyState::kDeactivated: return "deactivated";
    case KeyState::kCompromised: return "compromised";
    case KeyState::kDestroyed: return "destroyed";
  }
  return "unknown";
}

Result<std::unique_ptr<KmsClient>> OpenKms(std::string_view uri,
                                           const KmsOptions& options) {
  switch (DriverFor(uri)) {
    case Driver::kKmip: return OpenKmipClient(uri, options);
    case Driver::kKeyProtect: return OpenKeyProtect(uri, options);
    case Driver::kVault: return OpenVaultTransit(uri, options);
    case Driver::kKeystore: return OpenKeystore(uri, options);
    case Driver::kCluster: {
      std::string key;
      LUKSFS_ASSIGN_OR_RETURN(KmsCluster c, FindCluster(uri, options, &key));
      if (key.empty()) {
        return Status::InvalidArgument("KMS URI " + std::string(uri) +
                                       ": no key id (kms-cluster:NAME/KEY-ID)");
      }
      LUKSFS_ASSIGN_OR_RETURN(std::string driver_uri, ClusterDriverUri(c, key));
      LUKSFS_ASSIGN_OR_RETURN(
          std::unique_ptr<KmsClient> inner,
          OpenKms(driver_uri, MergeClusterOptions(c, options)));
      return std::unique_ptr<KmsClient>(
          std::make_unique<NamedClient>(std::string(uri), std::move(inner)));
    }
    case Driver::kUnknown: break;
  }
  return UnknownScheme(uri);
}

Result<std::string> CreateRootKey(std::string_view uri,
                                  const KmsOptions& options,
                                  const NewKeyAttributes& attributes) {
  switch (DriverFor(uri)) {
    case Driver::kKmip: return CreateKmipKey(uri, options, attributes);
    case Driver::kKeyProtect:
      return Status::NotSupported(
          "Key Protect: luksfs does not create root keys; create one in the "
          "IBM Cloud console or with the Key Protect API/CLI (ibmcloud kp "
          "key create NAME), then use kp+https://HOST/KEY-ID");
    case Driver::kVault:
      return CreateVaultTransitKey(uri, options, attributes);
    case Driver::kKeystore:
      return CreateKeystoreRootKey(uri, options, attributes);
    case Driver::kCluster: {
      std::string key;
      LUKSFS_ASSIGN_OR_RETURN(KmsCluster c, FindCluster(uri, options, &key));
      LUKSFS_ASSIGN_OR_RETURN(std::string driver_uri, ClusterDriverUri(c, key));
      LUKSFS_ASSIGN_OR_RETURN(
          std::string created,
          CreateRootKey(driver_uri, MergeClusterOptions(c, options), attributes));
      LUKSFS_ASSIGN_OR_RETURN(std::string id, ClusterKeyOf(c, created));
      return ClusterUri(c.name, id);
    }
    case Driver::kUnknown: break;
  }
  return UnknownScheme(uri);
}

}  // namespace luksfs::kms
