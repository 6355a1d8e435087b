// Opening an image, below the CLI: storage, container (raw or qcow2), the
// LUKS header read THROUGH the container, the KMS binding, and the unlock.
// Every step returns Status/Result; the CLI turns (step, Status) into an
// exit code in one place (fs/cli/image.cc).
//
// Errors and steps: a Status code alone cannot say which exit code a
// failure deserves (kNotFound is a missing file at kStorage but a missing
// keyslot at kUnlock; a KMS says kPermissionDenied too). So the functions
// that span several steps report the failing ImageStep through an out
// parameter, and the CLI maps per step:
//   kStorage  opening/writing storage      kInvalidArgument: usage, else storage
//   kImage    container, header, binding   kIOError/kNotFound: storage, else bad image
//   kSecret   reading the secret           kInvalidArgument: usage, else storage
//   kUnlock   opening a keyslot            kPermissionDenied/kNotFound: no key,
//                                          kIOError: storage, else bad image
//   kKms      the KMS (open, unwrap)       always the KMS exit code
// Messages do not name the image; the caller prefixes the path.
//
// Ownership: OpenedImage owns the Storage and the Container (which borrows
// the Storage); BlockMaps from container->OpenMap borrow the Storage too,
// so the OpenedImage must outlive them (and the Volume using them).
// Thread-safety: an OpenedImage is used by one thread while it is opened
// and unlocked; afterwards only its Storage/Container are shared, as their
// headers allow.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "crypto/luks2_metadata.h"
#include "crypto/keyslot_unlock.h"
#include "crypto/luks_header.h"
#include "fs/audit_log.h"
#include "fs/image/container.h"
#include "fs/image/kms_binding.h"
#include "fs/storage/open_storage.h"
#include "fs/storage/s3_uri.h"
#include "fs/storage/storage.h"
#include "kms-client/kms.h"

namespace luksfs::fs {

enum class ImageStep { kStorage, kImage, kSecret, kUnlock, kKms };

struct OpenedImage {
  std::string path;
  std::unique_ptr<Storage> storage;      // declared first: outlives container
  std::unique_ptr<Container> container;  // borrows storage
  crypto::LuksHeader header;
  // Reads the LUKS region (container->ReadLuks): what crypto/ parses and
  // unlocks from. Offsets are relative to the region.
  crypto::ReadFn read;

  // Bytes of the LUKS region: the "image size" for every header offset
  // (ComputeDataLayout, EncodeHeaders, ImageWrite). raw: the storage size.
  uint64_t luks_size() const { return container->luks_region_size(); }
};

// Opens storage (a file or an s3:// URI, fs/storage/open_storage.h), probes
// the container, and parses the LUKS header from its region (does not check
// mountability). On failure *failed (if set) is kStorage or kImage.
Result<OpenedImage> OpenImage(const std::string& path, bool writable,
                              const StorageOptions& storage,
                              const ContainerOptions& container,
                              ImageStep* failed);

// CheckMountable + ComputeDataLayout over the LUKS region. The result's
// cipher and sector_size configure the CryptEngine; for raw images it is
// the data layout itself. Where qcow2 data lives is the BlockMap's business
// (container->OpenMap). Step: kImage.
Result<crypto::DataLayout> CheckImage(const OpenedImage& image);

// The image's binding, first found of: a luksfs-kms LUKS2 token, the
// container's record (qcow2 header extension), the sidecar of a local
// LUKS1 image. nullopt if there is none. Step: kImage.
Result<std::optional<KmsBinding>> FindBinding(const OpenedImage& image);

// Unlocks with a given passphrase (optionally only `slot`). Step: kUnlock.
Result<crypto::UnlockedKey> UnlockWithPassphrase(
    const OpenedImage& image, std::span<const uint8_t> pass,
    std::optional<int> slot, uint64_t max_kdf_memory_kib,
    double max_kdf_seconds = 60);  // --max-kdf-time: all KDF work of the open

struct UnlockRequest {
  // Look for a binding first (false when a secret source was given).
  bool use_binding = true;
  std::optional<int> key_slot;
  uint64_t max_kdf_memory_kib = 1048576;
  double max_kdf_seconds = 60;  // --max-kdf-time
  // Reads the secret when there is no binding (file, stdin, terminal).
  std::function<Result<SecureBuffer>()> read_secret;
  kms::KmsOptions kms;
};

// How an image was unlocked.
struct Unlocked {
  crypto::UnlockedKey key;
  std::optional<KmsBinding> binding;    // set when the KMS unwrapped it
  std::unique_ptr<kms::KmsClient> kms;  // the client that did
};

// Unlocks a keyslot: with the image's binding (the KMS unwraps the
// passphrase; audited as "unwrap" when `audit` is set) if use_binding and
// there is one, else with read_secret(). Secrets are wiped before return.
// On failure *failed (if set) names the step.
Result<Unlocked> UnlockImage(const OpenedImage& image,
                             const UnlockRequest& request, AuditLog* audit,
                             ImageStep* failed);

// Writes each ImageWrite (offsets in the LUKS region) through
// Container::WriteLuks in order, flushing the container after each one (or,
// with flush_each false, once after all), so key material is durable
// before the header that points at it. Step: kStorage.
Status WriteLuksRegion(const OpenedImage& image,
                       const std::vector<crypto::ImageWrite>& writes,
                       bool flush_each);

}  // namespace luksfs::fs
