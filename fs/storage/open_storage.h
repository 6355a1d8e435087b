// OpenStorage: the one place that picks a Storage implementation for an
// image name: "s3://bucket/key" -> S3Storage, anything else -> FileStorage.
// Errors: those of the chosen implementation (kNotFound, kIOError,
// kInvalidArgument for a malformed URI or S3 option).
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "fs/storage/s3_uri.h"
#include "fs/storage/storage.h"

namespace luksfs::fs {

struct StorageOptions {
  S3Options s3;  // used for s3:// images only
  uint64_t offset = 0;  // --offset: bytes skipped (in the partition, if any)
  int partition = 0;    // --partition N: the image is partition N of a disk
};

Result<std::unique_ptr<Storage>> OpenStorage(const std::string& image,
                                             bool writable,
                                             const StorageOptions& opts);

}  // namespace luksfs::fs
