// Where a LUKS1 image's KMS binding is written and removed (LUKS2 images
// keep theirs in a token, edited with the header in cmd_kms.cc):
//   1. inside the container when it keeps a record (qcow2+LUKS: luksfs's
//      header extension, fs/image/qcow2_binding.h) — travels with the file,
//      local or s3://;
//   2. else, or when the qcow2 header cluster has no room (512-byte
//      clusters and a long record), the sidecar IMAGE.luksfs-kms beside a
//      local image (written atomically: tmp + rename).
// Writing into the container removes a sidecar left by an older luksfs
// (the in-file record wins on reading anyway, fs/image/image.h FindBinding).
//
// Thread-safety: CLI, one thread, under the image's edit lock.
// Errors: CliError with the documented exit code; a failed container write
// says what is on disk now (edit_outcome.h).
#pragma once

#include <optional>
#include <string>

#include "fs/cli/image.h"

namespace luksfs::cli {

// Writes `b` (sets b->in_container) and says where in *where ("qcow2
// header extension 0x4c4b4d53" or "sidecar PATH").
std::optional<CliError> StoreLuks1Binding(const OpenedImage& image,
                                          KmsBinding* b, std::string* where);

// Removes the container's record (if any) and the sidecar (if any).
std::optional<CliError> DropLuks1Binding(const OpenedImage& image);

}  // namespace luksfs::cli
