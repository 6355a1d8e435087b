#include "fs/storage/open_storage.h"

#include "fs/storage/file_storage.h"
#include "fs/storage/s3_storage.h"
#include "fs/storage/window_storage.h"

namespace luksfs::fs {

Result<std::unique_ptr<Storage>> OpenStorage(const std::string& image,
                                             bool writable,
                                             const StorageOptions& opts) {
  if (IsS3Uri(image)) {
    auto s = S3Storage::Open(image, writable, opts.s3, ProcessEnv());
    if (!s.ok()) return s.status();
    return ApplyWindow(std::unique_ptr<Storage>(std::move(s).value()),
                       opts.offset, opts.partition);
  }
  auto f = FileStorage::Open(image, writable);
  if (!f.ok()) return f.status();
  return ApplyWindow(std::unique_ptr<Storage>(std::move(f).value()),
                     opts.offset, opts.partition);
}

}  // namespace luksfs::fs
