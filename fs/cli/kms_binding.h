// The KMS binding record now lives in the image layer
// (fs/image/kms_binding.h); these names keep the CLI's spelling.
#pragma once

#include "fs/image/kms_binding.h"

namespace luksfs::cli {

using fs::BindingFromJson;
using fs::BindingToJson;
using fs::KmsBinding;
using fs::kKmsTokenType;
using fs::NowRfc3339;
using fs::SidecarPath;

}  // namespace luksfs::cli
