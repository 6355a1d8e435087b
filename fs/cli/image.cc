#include "fs/cli/image.h"

#include <unistd.h>

#include "fs/cli/secrets.h"
#include "fs/storage/open_storage.h"

namespace luksfs::cli {

namespace {

CliError Err(int code, const std::string& name, const Status& s) {
  return CliError{code, name + ": " + s.message()};
}

// Exit code for a failure while reading storage or parsing the header.
int ImageExitCode(const Status& s) {
  switch (s.code()) {
    case Status::Code::kIOError:
    case Status::Code::kNotFound:
      return kExitStorage;
    default:
      return kExitBadImage;
  }
}

}  // namespace

int Report(const CliError& e) {
  std::string line = "luksfs: " + e.message + "\n";
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
  return e.exit_code;
}

std::optional<CliError> OpenImage(const std::string& path, bool writable,
                                  const fs::StorageOptions& storage_opts,
                                  OpenedImage* out) {
  auto storage = fs::OpenStorage(path, writable, storage_opts);
  if (!storage.ok()) {
    const int code = storage.status().code() == Status::Code::kInvalidArgument
                         ? kExitUsage
                         : kExitStorage;
    return Err(code, path, storage.status());
  }
  out->path = path;
  out->storage = std::move(storage).value();
  fs::Storage* st = out->storage.get();
  out->read = [st](uint64_t off, std::span<uint8_t> dst) {
    return st->ReadAt(off, dst);
  };
  auto header = crypto::ReadLuksHeader(out->read, st->Size());
  if (!header.ok()) {
    return Err(ImageExitCode(header.status()), path, header.status());
  }
  out->header = std::move(header).value();
  return std::nullopt;
}

std::optional<CliError> CheckImage(const OpenedImage& image,
                                   crypto::DataLayout* layout) {
  Status s = crypto::CheckMountable(image.header);
  if (!s.ok()) return Err(kExitBadImage, image.path, s);
  auto l = crypto::ComputeDataLayout(image.header, image.storage->Size());
  if (!l.ok()) return Err(kExitBadImage, image.path, l.status());
  *layout = *l;
  return std::nullopt;
}

std::optional<CliError> UnlockImage(const OpenedImage& image,
                                    const SecretOptions& opts,
                                    crypto::UnlockedKey* out) {
  auto secret = ReadSecret(opts, image.path);
  if (!secret.ok()) {
    const Status& s = secret.status();
    const int code = s.code() == Status::Code::kInvalidArgument ? kExitUsage
                                                                : kExitStorage;
    return CliError{code, image.path + ": " + s.message()};
  }
  crypto::UnlockLimits limits;
  limits.max_kdf_memory_kib = opts.max_kdf_memory_kib;
  auto key = crypto::UnlockKeyslot(image.header, image.read, secret->span(),
                                   opts.key_slot, limits);
  secret->Wipe();
  if (!key.ok()) {
    const Status& s = key.status();
    switch (s.code()) {
      case Status::Code::kPermissionDenied:
      case Status::Code::kNotFound:
        return Err(kExitNoKey, image.path, s);
      case Status::Code::kIOError:
        return Err(kExitStorage, image.path, s);
      default:
        return Err(kExitBadImage, image.path, s);
    }
  }
  *out = std::move(key).value();
  return std::nullopt;
}

}  // namespace luksfs::cli
