#include "fs/image/image.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace luksfs::fs {

namespace {

void Set(ImageStep* failed, ImageStep step) {
  if (failed != nullptr) *failed = step;
}

}  // namespace

Result<OpenedImage> OpenImage(const std::string& path, bool writable,
                              const StorageOptions& storage_opts,
                              const ContainerOptions& container_opts,
                              ImageStep* failed) {
  auto storage = OpenStorage(path, writable, storage_opts);
  if (!storage.ok()) {
    Set(failed, ImageStep::kStorage);
    return storage.status();
  }
  OpenedImage out;
  out.path = path;
  out.storage = std::move(storage).value();
  Set(failed, ImageStep::kImage);
  LUKSFS_ASSIGN_OR_RETURN(
      out.container,
      OpenContainer(out.storage.get(), writable, container_opts));
  const Container* c = out.container.get();
  out.read = [c](uint64_t off, std::span<uint8_t> dst) {
    return c->ReadLuks(off, dst);
  };
  // A container without a LUKS region (a plaintext qcow2) says why.
  if (out.luks_size() == 0) LUKSFS_RETURN_IF_ERROR(c->ReadLuks(0, {}));
  LUKSFS_ASSIGN_OR_RETURN(out.header,
                          crypto::ReadLuksHeader(out.read, out.luks_size()));
  return out;
}

Result<crypto::DataLayout> CheckImage(const OpenedImage& image) {
  LUKSFS_RETURN_IF_ERROR(crypto::CheckMountable(image.header));
  return crypto::ComputeDataLayout(image.header, image.luks_size());
}

Result<crypto::UnlockedKey> UnlockWithPassphrase(
    const OpenedImage& image, std::span<const uint8_t> pass,
    std::optional<int> slot, uint64_t max_kdf_memory_kib,
    double max_kdf_seconds) {
  crypto::UnlockLimits limits;
  limits.max_kdf_memory_kib = max_kdf_memory_kib;
  limits.max_kdf_seconds = max_kdf_seconds;
  return crypto::UnlockKeyslot(image.header, image.read, pass, slot, limits);
}

Result<std::optional<KmsBinding>> FindBinding(const OpenedImage& image) {
  for (const crypto::Token& t : image.header.tokens) {
    if (t.type != kKmsTokenType) continue;
    auto b = BindingFromJson(t.json);
    if (!b.ok()) {
      return b.status().WithContext("token " + std::to_string(t.index));
    }
    b->token = t.index;
    return std::optional<KmsBinding>(std::move(b).value());
  }
  // The container's own record (qcow2 header extension) wins over a
  // sidecar, which older luksfs versions wrote for qcow2 images too.
  if (image.container != nullptr) {
    auto record = image.container->BindingRecord();
    if (!record.ok()) return record.status();
    if (*record) {
      auto b = BindingFromJson(**record);
      if (!b.ok()) {
        return b.status().WithContext("qcow2 header extension");
      }
      b->in_container = true;
      return std::optional<KmsBinding>(std::move(b).value());
    }
  }
  if (image.header.version != 1 || IsS3Uri(image.path)) {
    return std::optional<KmsBinding>();
  }
  const std::string side = SidecarPath(image.path);
  UniqueFd fd(open(side.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<KmsBinding>();
    return Status::IOError(side + ": " + std::strerror(errno), errno);
  }
  std::string text(65536, '\0');
  ssize_t n = read(fd.get(), text.data(), text.size());
  const int err = errno;
  fd.reset();
  if (n < 0) return Status::IOError(side + ": " + std::strerror(err), err);
  text.resize(static_cast<size_t>(n));
  auto b = BindingFromJson(text);
  if (!b.ok()) return b.status().WithContext(side);
  return std::optional<KmsBinding>(std::move(b).value());
}

Result<Unlocked> UnlockImage(const OpenedImage& image,
                             const UnlockRequest& request, AuditLog* audit,
                             ImageStep* failed) {
  Unlocked out;
  std::optional<KmsBinding> binding;
  if (request.use_binding) {
    Set(failed, ImageStep::kImage);
    LUKSFS_ASSIGN_OR_RETURN(binding, FindBinding(image));
  }
  if (!binding) {
    Set(failed, ImageStep::kSecret);
    if (!request.read_secret) {
      return Status::InvalidArgument("no passphrase source");
    }
    LUKSFS_ASSIGN_OR_RETURN(SecureBuffer secret, request.read_secret());
    Set(failed, ImageStep::kUnlock);
    auto key = UnlockWithPassphrase(image, secret.span(), request.key_slot,
                                    request.max_kdf_memory_kib,
                                    request.max_kdf_seconds);
    secret.Wipe();
    if (!key.ok()) return key.status();
    out.key = std::move(key).value();
    return out;
  }
  // Key errors as vCenter raises them: the KMS unreachable, the key missing
  // on the server, or the key refused (by the KMS, or by the image).
  auto key_event = [&](const char* event, const std::string& reason) {
    if (audit == nullptr) return;
    audit->Event(event, {{"image_uuid", image.header.uuid},
                         {"kms", binding->kms},
                         {"key_id", binding->key_id},
                         {"reason", reason}});
  };
  auto kms_failure = [&](const Status& s) {
    switch (s.code()) {
      case Status::Code::kUnavailable: key_event("kms_unreachable", s.message()); break;
      case Status::Code::kNotFound: key_event("key_not_found", s.message()); break;
      case Status::Code::kKeyRevoked:
      case Status::Code::kPermissionDenied:
      case Status::Code::kCorruption: key_event("unwrap_refused", s.message()); break;
      default: break;  // a local problem (options, files): not a key event
    }
    return s;
  };
  Set(failed, ImageStep::kKms);
  auto client = kms::OpenKms(binding->kms, request.kms);
  if (!client.ok()) return kms_failure(client.status());
  out.kms = std::move(client).value();
  auto pass = out.kms->Unwrap(binding->wrapped);
  if (audit != nullptr) {
    audit->Event("unwrap", {{"image_uuid", image.header.uuid},
                            {"kms", binding->kms},
                            {"key_id", binding->key_id},
                            {"result", pass.ok() ? "ok" : pass.status().message()}});
  }
  if (!pass.ok()) return kms_failure(pass.status());
  Set(failed, ImageStep::kUnlock);
  auto key = UnlockWithPassphrase(image, pass->span(), binding->keyslot,
                                  request.max_kdf_memory_kib,
                                  request.max_kdf_seconds);
  pass->Wipe();
  if (!key.ok()) {
    key_event("unwrap_refused", "the unwrapped passphrase does not open keyslot " +
                                    std::to_string(binding->keyslot) + ": " +
                                    key.status().message());
    return key.status();
  }
  out.key = std::move(key).value();
  out.binding = std::move(binding);
  return out;
}

Status WriteLuksRegion(const OpenedImage& image,
                       const std::vector<crypto::ImageWrite>& writes,
                       bool flush_each) {
  for (const crypto::ImageWrite& x : writes) {
    LUKSFS_RETURN_IF_ERROR(image.container->WriteLuks(x.offset, x.bytes));
    if (flush_each) LUKSFS_RETURN_IF_ERROR(image.container->Flush());
  }
  if (!flush_each) return image.container->Flush();
  return Status();
}

}  // namespace luksfs::fs
