#include "fs/cli/binding_store.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/atomic_file.h"
#include "fs/cli/edit_outcome.h"
#include "fs/image/qcow2_binding.h"
#include "fs/storage/s3_uri.h"

namespace luksfs::cli {

namespace {

CliError WriteFailed(const OpenedImage& image, const Status& s) {
  return CliError{kExitStorage,
                  image.path + ": " + s.message() + "; " + DescribeOnDisk(image)};
}

std::optional<CliError> RemoveSidecar(const OpenedImage& image) {
  if (fs::IsS3Uri(image.path)) return std::nullopt;
  const std::string side = SidecarPath(image.path);
  if (unlink(side.c_str()) != 0 && errno != ENOENT) {
    const std::string why = std::strerror(errno);
    return CliError{kExitStorage, "cannot remove '" + side + "': " + why +
                                      "; " + DescribeOnDisk(image)};
  }
  return std::nullopt;
}

}  // namespace

std::optional<CliError> StoreLuks1Binding(const OpenedImage& image,
                                          KmsBinding* b, std::string* where) {
  const std::string json = BindingToJson(*b);
  std::string why_sidecar;
  if (image.container->KeepsBindingRecord()) {
    Status s = image.container->WriteBindingRecord(json);
    if (s.ok()) {
      b->in_container = true;
      *where = "qcow2 header extension " +
               fs::qcow2::Hex(fs::qcow2::kExtLuksfsKms);
      return RemoveSidecar(image);
    }
    if (s.code() != Status::Code::kResourceExhausted) {
      return WriteFailed(image, s);
    }
    if (fs::IsS3Uri(image.path)) {
      return CliError{kExitUsage, image.path + ": " + s.message() +
                                      "; an s3:// image has no sidecar"};
    }
    why_sidecar = " (" + s.message() + ")";
  } else if (fs::IsS3Uri(image.path)) {
    return CliError{kExitUsage, image.path +
                                    ": LUKS1 images in S3 cannot be bound (no "
                                    "token area); convert to LUKS2 first"};
  }
  b->in_container = false;
  const std::string side = SidecarPath(image.path);
  Status s = WriteFileAtomic(side, std::string_view(json));
  if (!s.ok()) {
    return CliError{kExitStorage, s.message() + "; " + DescribeOnDisk(image)};
  }
  *where = "sidecar " + side + why_sidecar;
  return std::nullopt;
}

std::optional<CliError> DropLuks1Binding(const OpenedImage& image) {
  if (image.container->KeepsBindingRecord()) {
    auto record = image.container->BindingRecord();
    if (!record.ok() || *record) {  // an unreadable record goes too
      Status s = image.container->WriteBindingRecord(std::nullopt);
      if (!s.ok()) return WriteFailed(image, s);
    }
  }
  return RemoveSidecar(image);
}

}  // namespace luksfs::cli
