#include "fs/cli/binding_store.h"

#include "fs/cli/created_key.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

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

std::optional<CliError> PlaceNewBinding(const std::string& dst,
                                        const RecordFits& fits, KmsBinding* b,
                                        NewBindingPlace* out) {
  const bool s3 = fs::IsS3Uri(dst);
  const std::string json = BindingToJson(*b);
  std::string why_sidecar;
  if (fits) {
    Status s = fits(json);
    if (s.ok()) {
      b->in_container = true;
      out->record = json;
      out->sidecar.clear();
      out->where = "qcow2 header extension " +
                   fs::qcow2::Hex(fs::qcow2::kExtLuksfsKms);
      return std::nullopt;
    }
    if (s.code() != Status::Code::kResourceExhausted) {
      return CliError{kExitUsage, dst + ": " + s.message()};
    }
    if (s3) {
      return CliError{kExitUsage, dst + ": " + s.message() +
                                      "; an s3:// image has no sidecar"};
    }
    why_sidecar = " (" + s.message() + ")";
  } else if (s3) {
    return CliError{kExitUsage,
                    dst + ": --kms on a LUKS1 image in S3 has nowhere to keep "
                          "the binding (no token area, no sidecar): use "
                          "--type luks2 or qcow2"};
  }
  b->in_container = false;
  out->record.clear();
  out->sidecar = SidecarPath(dst);
  out->where = "sidecar " + out->sidecar + why_sidecar;
  return std::nullopt;
}

std::optional<CliError> PrecheckNewBinding(const std::string& dst,
                                           const std::string& kms_uri,
                                           const RecordFits& fits) {
  if (!fs::IsS3Uri(dst)) return std::nullopt;
  KmsBinding shortest;
  shortest.keyslot = 0;
  shortest.kms = kms_uri;
  shortest.wrapped.assign(64, 0);  // a WDEK is at least the passphrase
  shortest.created = NowRfc3339();
  NewBindingPlace ignored;
  return PlaceNewBinding(dst, fits, &shortest, &ignored);
}

NewSidecar::~NewSidecar() {
  if (!armed_) return;
  if (previous_) {
    (void)WriteFileAtomic(path_, std::string_view(*previous_));
  } else {
    (void)unlink(path_.c_str());
  }
}

std::optional<CliError> NewSidecar::Write(const std::string& path,
                                          const std::string& json) {
  path_ = path;
  previous_.reset();
  std::ifstream old(path, std::ios::binary);
  if (old) {
    std::ostringstream text;
    text << old.rdbuf();
    previous_ = text.str();
  }
  Status s = WriteFileAtomic(path, std::string_view(json));
  if (!s.ok()) return CliError{kExitStorage, s.message()};
  armed_ = true;
  return std::nullopt;
}

void RemoveReplacedSidecar(const std::string& image) {
  if (fs::IsS3Uri(image)) return;
  const std::string side = SidecarPath(image);
  if (unlink(side.c_str()) != 0 && errno != ENOENT) {
    std::cerr << "luksfs: warning: cannot remove '" << side
              << "' (the binding in the image header wins): "
              << std::strerror(errno) << "\n";
  }
}

std::optional<CliError> CheckNewBinding(const std::string& path,
                                        const fs::StorageOptions& storage,
                                        std::span<const uint8_t> pass,
                                        const KmsBinding& b) {
  OpenedImage again;
  if (auto e = OpenImage(path, false, storage, &again)) {
    return CliError{kExitBadImage, "BUG: the new image does not open: " + e->message};
  }
  std::optional<KmsBinding> found;
  if (auto e = FindBinding(again, &found)) {
    return CliError{kExitBadImage, "BUG: the new image's binding: " + e->message};
  }
  if (!found || found->wrapped != b.wrapped || found->keyslot != b.keyslot) {
    return CliError{kExitBadImage, "BUG: " + path + ": the binding just written is not found"};
  }
  crypto::UnlockedKey check;
  if (auto e = UnlockWithPassphrase(again, pass, b.keyslot, 1048576, &check)) {
    return CliError{kExitBadImage, "BUG: the new image does not open: " + e->message};
  }
  return std::nullopt;
}

void WarnSidecarHoldsKey(const std::string& path, const KmsBinding& b,
                         const NewBindingPlace& place) {
  if (place.sidecar.empty()) return;
  std::cerr << "luksfs: " << path << ": bound to " << b.kms << " (keyslot " << b.keyslot
            << ", " << place.where << ": keep it with the image, it holds the only key)\n";
}

std::optional<CliError> SettleNewBinding(const std::string& path,
                                         const fs::StorageOptions& storage,
                                         std::span<const uint8_t> pass,
                                         const KmsBinding& b,
                                         const NewBindingPlace& place,
                                         NewSidecar* sidecar,
                                         CreatedKeyGuard* created_key) {
  if (auto e = CheckNewBinding(path, storage, pass, b)) {
    if (!fs::IsS3Uri(path)) unlink(path.c_str());
    return e;
  }
  sidecar->Keep();
  if (created_key != nullptr) created_key->Disarm();
  if (!place.record.empty()) RemoveReplacedSidecar(path);
  return std::nullopt;
}

}  // namespace luksfs::cli
