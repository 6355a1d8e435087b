#include "fs/cli/image.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fs/cli/edit_outcome.h"
#include "fs/cli/secrets.h"

namespace luksfs::cli {

namespace {

CliError Err(fs::ImageStep step, const std::string& name, const Status& s) {
  const std::string where =
      step == fs::ImageStep::kKms ? name + ": KMS" : name;
  return CliError{ExitCodeFor(step, s), where + ": " + s.message()};
}

}  // namespace

int ExitCodeFor(fs::ImageStep step, const Status& s) {
  using Code = Status::Code;
  switch (step) {
    case fs::ImageStep::kStorage:
      if (s.code() == Code::kCorruption) return kExitBadImage;  // e.g. a damaged partition table
      return s.code() == Code::kInvalidArgument ? kExitUsage : kExitStorage;
    case fs::ImageStep::kSecret:
      return s.code() == Code::kInvalidArgument ? kExitUsage : kExitStorage;
    case fs::ImageStep::kImage:
      return s.code() == Code::kIOError || s.code() == Code::kNotFound
                 ? kExitStorage
                 : kExitBadImage;
    case fs::ImageStep::kUnlock:
      switch (s.code()) {
        case Code::kPermissionDenied:
        case Code::kNotFound:
          return kExitNoKey;
        case Code::kIOError:
          return kExitStorage;
        default:
          return kExitBadImage;
      }
    case fs::ImageStep::kKms:
      return kExitKms;
  }
  return kExitBadImage;
}

int Report(const CliError& e) {
  std::string line = "luksfs: " + e.message + "\n";
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  return e.exit_code;
}

std::optional<CliError> OpenImage(const std::string& path, bool writable,
                                  const fs::StorageOptions& storage_opts,
                                  OpenedImage* out) {
  return OpenImage(path, writable, storage_opts, fs::ContainerOptions{}, out);
}

std::optional<CliError> OpenImage(const std::string& path, bool writable,
                                  const fs::StorageOptions& storage_opts,
                                  const fs::ContainerOptions& container_opts,
                                  OpenedImage* out) {
  fs::ImageStep step = fs::ImageStep::kStorage;
  auto image = fs::OpenImage(path, writable, storage_opts, container_opts,
                             &step);
  if (!image.ok()) return Err(step, path, image.status());
  *out = std::move(image).value();
  return std::nullopt;
}

std::optional<CliError> CheckImage(const OpenedImage& image,
                                   crypto::DataLayout* layout) {
  auto l = fs::CheckImage(image);
  if (!l.ok()) {
    // A verdict about the image (exit 3), except an image with no keyslot
    // left (shredded or erased), which is "no key" (exit 2) as in cryptsetup.
    return CliError{l.status().code() == Status::Code::kPermissionDenied
                        ? kExitNoKey
                        : kExitBadImage,
                    image.path + ": " + l.status().message()};
  }
  *layout = *l;
  return std::nullopt;
}

std::optional<CliError> UnlockWithPassphrase(const OpenedImage& image,
                                             std::span<const uint8_t> pass,
                                             std::optional<int> slot,
                                             uint64_t max_kdf_memory_kib,
                                             crypto::UnlockedKey* out,
                                             double max_kdf_seconds) {
  auto key = fs::UnlockWithPassphrase(image, pass, slot, max_kdf_memory_kib,
                                      max_kdf_seconds);
  if (!key.ok()) return Err(fs::ImageStep::kUnlock, image.path, key.status());
  *out = std::move(key).value();
  return std::nullopt;
}

CliError KmsError(const std::string& what, const Status& s) {
  return CliError{kExitKms, what + ": " + s.message()};
}

std::optional<CliError> FindBinding(const OpenedImage& image,
                                    std::optional<KmsBinding>* out) {
  auto b = fs::FindBinding(image);
  if (!b.ok()) return Err(fs::ImageStep::kImage, image.path, b.status());
  *out = std::move(b).value();
  return std::nullopt;
}

std::optional<CliError> UnlockImage(const OpenedImage& image,
                                    const SecretOptions& opts,
                                    const KmsConfig& kms, fs::AuditLog* audit,
                                    Unlocked* out) {
  fs::UnlockRequest req;
  req.use_binding = opts.passphrase_file.empty() && opts.key_file.empty();
  req.key_slot = opts.key_slot;
  req.max_kdf_memory_kib = opts.max_kdf_memory_kib;
  req.max_kdf_seconds = opts.max_kdf_seconds;
  req.read_secret = [&] { return ReadSecret(opts, image.path); };
  req.kms = kms.options;
  fs::ImageStep step = fs::ImageStep::kImage;
  auto u = fs::UnlockImage(image, req, audit, &step);
  if (!u.ok()) return Err(step, image.path, u.status());
  *out = std::move(u).value();
  return std::nullopt;
}

std::optional<CliError> ApplyWrites(const OpenedImage& image,
                                    const std::vector<crypto::ImageWrite>& w,
                                    bool flush_each) {
  Status s = fs::WriteLuksRegion(image, w, flush_each);
  if (!s.ok()) {
    // On a failed write, say what the image holds now (edit_outcome.h).
    CliError e{kExitStorage, image.path + ": " + s.message()};
    e.message += "; " + DescribeOnDisk(image);
    return e;
  }
  return std::nullopt;
}

}  // namespace luksfs::cli
