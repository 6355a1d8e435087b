// OpenKms / CreateRootKey: dispatch by URI scheme to the drivers.
#include "kms-client/kms.h"

#include <string>

#include "kms-client/key_protect.h"
#include "kms-client/keystore.h"
#include "kms-client/kmip_client.h"
#include "kms-client/vault_transit.h"

namespace luksfs::kms {

namespace {

enum class Driver { kKmip, kKeyProtect, kVault, kKeystore, kUnknown };

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
  return Driver::kUnknown;
}

Status UnknownScheme(std::string_view uri) {
  size_t colon = uri.find(':');
  std::string scheme(colon == std::string_view::npos ? uri
                                                     : uri.substr(0, colon));
  if (scheme.size() > 40) scheme = scheme.substr(0, 40) + "...";
  return Status::InvalidArgument(
      "KMS URI scheme \"" + scheme +
      "\" not supported (use kmip://, kp+https://, vault+https:// or file:)");
}

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
    case Driver::kUnknown: break;
  }
  return UnknownScheme(uri);
}

}  // namespace luksfs::kms
