#include "fs/cli/image.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "fs/cli/edit_outcome.h"
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

std::optional<CliError> UnlockWithPassphrase(const OpenedImage& image,
                                             std::span<const uint8_t> pass,
                                             std::optional<int> slot,
                                             uint64_t max_kdf_memory_kib,
                                             crypto::UnlockedKey* out,
                                             double max_kdf_seconds) {
  crypto::UnlockLimits limits;
  limits.max_kdf_memory_kib = max_kdf_memory_kib;
  limits.max_kdf_seconds = max_kdf_seconds;
  auto key = crypto::UnlockKeyslot(image.header, image.read, pass, slot, limits);
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

CliError KmsError(const std::string& what, const Status& s) {
  return CliError{kExitKms, what + ": " + s.message()};
}

std::optional<CliError> FindBinding(const OpenedImage& image,
                                    std::optional<KmsBinding>* out) {
  out->reset();
  for (const crypto::Token& t : image.header.tokens) {
    if (t.type != kKmsTokenType) continue;
    auto b = BindingFromJson(t.json);
    if (!b.ok()) {
      return Err(kExitBadImage, image.path,
                 b.status().WithContext("token " + std::to_string(t.index)));
    }
    b->token = t.index;
    *out = std::move(b).value();
    return std::nullopt;
  }
  if (image.header.version != 1 || image.path.rfind("s3://", 0) == 0) {
    return std::nullopt;
  }
  const std::string side = SidecarPath(image.path);
  int fd = open(side.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    return CliError{kExitStorage, side + ": " + std::strerror(errno)};
  }
  std::string text(65536, '\0');
  ssize_t n = read(fd, text.data(), text.size());
  close(fd);
  if (n < 0) return CliError{kExitStorage, side + ": " + std::strerror(errno)};
  text.resize(static_cast<size_t>(n));
  auto b = BindingFromJson(text);
  if (!b.ok()) return CliError{kExitBadImage, side + ": " + b.status().message()};
  *out = std::move(b).value();
  return std::nullopt;
}

std::optional<CliError> UnlockImage(const OpenedImage& image,
                                    const SecretOptions& opts,
                                    const KmsConfig& kms, fs::AuditLog* audit,
                                    Unlocked* out) {
  std::optional<KmsBinding> binding;
  if (opts.passphrase_file.empty() && opts.key_file.empty()) {
    if (auto e = FindBinding(image, &binding)) return e;
  }
  if (!binding) {
    auto secret = ReadSecret(opts, image.path);
    if (!secret.ok()) {
      const Status& s = secret.status();
      const int code = s.code() == Status::Code::kInvalidArgument ? kExitUsage
                                                                  : kExitStorage;
      return CliError{code, image.path + ": " + s.message()};
    }
    auto e = UnlockWithPassphrase(image, secret->span(), opts.key_slot,
                                  opts.max_kdf_memory_kib, &out->key,
                                  opts.max_kdf_seconds);
    secret->Wipe();
    return e;
  }
  const std::string where = image.path + ": KMS";
  auto client = kms::OpenKms(binding->kms, kms.options);
  if (!client.ok()) return KmsError(where, client.status());
  auto pass = (*client)->Unwrap(binding->wrapped);
  if (audit != nullptr) {
    audit->Event("unwrap", {{"image_uuid", image.header.uuid},
                            {"kms", binding->kms},
                            {"key_id", binding->key_id},
                            {"result", pass.ok() ? "ok" : pass.status().message()}});
  }
  if (!pass.ok()) return KmsError(where, pass.status());
  auto e = UnlockWithPassphrase(image, pass->span(), binding->keyslot,
                                opts.max_kdf_memory_kib, &out->key,
                                opts.max_kdf_seconds);
  pass->Wipe();
  if (e) return e;
  out->binding = std::move(binding);
  out->kms = std::move(client).value();
  return std::nullopt;
}

std::optional<CliError> ApplyWrites(const OpenedImage& image,
                                    const std::vector<crypto::ImageWrite>& w,
                                    bool flush_each) {
  // On a failed write, say what the image holds now (edit_outcome.h).
  auto failed = [&image](const Status& s) {
    CliError e = Err(kExitStorage, image.path, s);
    e.message += "; " + DescribeOnDisk(image);
    return e;
  };
  for (const crypto::ImageWrite& x : w) {
    Status s = image.storage->WriteAt(x.offset, x.bytes);
    if (s.ok() && flush_each) s = image.storage->Flush();
    if (!s.ok()) return failed(s);
  }
  if (!flush_each) {
    Status s = image.storage->Flush();
    if (!s.ok()) return failed(s);
  }
  return std::nullopt;
}

}  // namespace luksfs::cli
