#include "fs/cli/prep_open.h"

#include <csignal>

#include "common/exit_codes.h"
#include "fs/cli/secrets.h"

namespace luksfs::cli {

std::optional<CliError> OpenPlain(const std::string& path,
                                  const SecretOptions& secret,
                                  const KmsConfig& kms,
                                  const fs::StorageOptions& storage_opts,
                                  unsigned threads, fs::prep::PlainImage* out,
                                  SecureBuffer* passphrase) {
  auto storage = fs::OpenStorage(path, false, storage_opts);
  if (!storage.ok()) {
    const int code = storage.status().code() == Status::Code::kInvalidArgument
                         ? kExitUsage
                         : kExitStorage;
    return CliError{code, path + ": " + storage.status().message()};
  }
  auto kind = fs::prep::ProbeContainer(**storage);
  if (!kind.ok()) return CliError{kExitStorage, path + ": " + kind.status().message()};
  out->container = *kind;
  if (*kind == fs::prep::Container::kRaw) {
    out->size = (*storage)->Size();
    out->storage = std::move(storage).value();
    return std::nullopt;
  }
  if (*kind == fs::prep::Container::kQcow2) {
    auto plain = fs::prep::OpenPlainQcow2(&*storage);
    if (!plain.ok()) {
      const int code = plain.status().code() == Status::Code::kIOError ? kExitStorage
                                                                      : kExitBadImage;
      return CliError{code, path + ": " + plain.status().message()};
    }
    if (*plain) {
      *out = std::move(**plain);
      return std::nullopt;
    }
  }
  storage->reset();
  OpenedImage image;
  if (auto e = OpenImage(path, false, storage_opts, &image)) return e;
  crypto::DataLayout layout;
  if (auto e = CheckImage(image, &layout)) return e;
  crypto::UnlockedKey key;
  std::optional<KmsBinding> binding;
  if (secret.passphrase_file.empty() && secret.key_file.empty()) {
    if (auto e = FindBinding(image, &binding)) return e;
  }
  if (binding) {
    Unlocked u;
    if (auto e = UnlockImage(image, secret, kms, nullptr, &u)) return e;
    key = std::move(u.key);
  } else {
    auto pass = ReadSecret(secret, path);
    if (!pass.ok()) {
      const int code = pass.status().code() == Status::Code::kInvalidArgument
                           ? kExitNoKey
                           : kExitStorage;
      return CliError{code, path + ": " + pass.status().message()};
    }
    if (auto e = UnlockWithPassphrase(image, pass->span(), secret.key_slot,
                                      secret.max_kdf_memory_kib, &key)) {
      return e;
    }
    if (passphrase) *passphrase = std::move(pass).value();
  }
  fs::prep::SourceFormat format;
  format.cipher = layout.cipher;
  format.key_bits = image.header.key_bytes * 8;
  format.sector_size = layout.sector_size;
  format.label = image.header.label;
  if (!image.header.digests.empty()) format.hash = image.header.digests[0].hash;
  if (*kind == fs::prep::Container::kQcow2) {
    // Through the container's block map (holes read as zeros).
    auto p = fs::prep::PlainThroughContainer(
        std::make_unique<OpenedImage>(std::move(image)), std::move(key.volume_key),
        threads);
    if (!p.ok()) return CliError{kExitBadImage, path + ": " + p.status().message()};
    *out = std::move(p).value();
    out->format = format;
    return std::nullopt;
  }
  out->format = format;
  crypto::EngineOptions eo;
  eo.threads = threads;
  auto engine = crypto::CryptEngine::Create(layout.cipher, key.volume_key.span(),
                                            layout.sector_size, eo);
  key.volume_key.Wipe();
  if (!engine.ok()) return CliError{kExitBadImage, path + ": " + engine.status().message()};
  out->storage = std::move(image.storage);
  out->data_offset = layout.offset;
  out->size = layout.size;
  out->sector_size = layout.sector_size;
  out->iv_tweak = layout.iv_tweak;
  out->engine = std::move(engine).value();
  return std::nullopt;
}

int PrepExitCode(const Status& s) {
  switch (s.code()) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotSupported:
      return kExitUsage;
    case Status::Code::kIOError:
    case Status::Code::kNotFound:
      return kExitStorage;
    case Status::Code::kUnavailable:
      return 128 + SIGINT;
    default:
      return kExitBadImage;
  }
}

}  // namespace luksfs::cli
