// KmsBinding: the record that binds an image to a KMS root key — which
// keyslot holds the generated passphrase, which key wraps it, and the
// wrapped passphrase (the WDEK). LUKS2 keeps it as a header token of type
// "luksfs-kms" (visible to `cryptsetup token export`); LUKS1 has no token
// area: inside a qcow2+LUKS image (LUKS1 inside) it is luksfs's own qcow2
// header extension (fs/image/qcow2_binding.h); beside a raw local LUKS1
// image (or a qcow2 whose header cluster has no room) it is the sidecar
// IMAGE.luksfs-kms.
//
// Token JSON: {"type":"luksfs-kms","keyslots":["N"],"version":1,
//   "kms":"URI","key_id":"...","wrapped":"BASE64","created":"RFC3339"}
// Nothing in it is secret: the passphrase is only in wrapped form.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace luksfs::fs {

inline constexpr char kKmsTokenType[] = "luksfs-kms";

struct KmsBinding {
  int token = -1;  // LUKS2 token number; -1 for a sidecar
  bool in_container = false;  // the container's record (qcow2 extension)
  int keyslot = -1;
  std::string kms;
  std::string key_id;
  std::vector<uint8_t> wrapped;
  std::string created;
};

std::string BindingToJson(const KmsBinding& b);
// Errors: kCorruption naming the bad field.
Result<KmsBinding> BindingFromJson(const std::string& json);

// Where a LUKS1 image's binding lives.
std::string SidecarPath(const std::string& image);

// The current time as RFC 3339 UTC.
std::string NowRfc3339();

}  // namespace luksfs::fs
