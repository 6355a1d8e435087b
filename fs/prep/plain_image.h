// PlainImage: the plaintext of an image for the preparation commands,
// whatever its container: a raw file (the bytes are the plaintext), a raw
// LUKS1/LUKS2 image (segment 0, decrypted by a CryptEngine: the fast path),
// or any other container of the image layer (qcow2 with LUKS, once it is
// there) through a read-only Volume on the container's BlockMap.
//
// Reading is split in two steps so that a pipeline can overlap them:
// ReadStored() is only I/O (the stored bytes of a plaintext range) and
// Decrypt() only CPU (in place). Read() does both.
//
// Units: plaintext byte offsets. For LUKS, offsets and lengths must be
// multiples of sector_size in ReadStored/Decrypt (size is one); Read()
// takes any range (unaligned LUKS ranges go through a bounce buffer).
// Thread-safety: ReadStored/Decrypt/Read may be called concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/result.h"
#include "crypto/crypt_engine.h"
#include "fs/image/block_map.h"
#include "fs/image/image.h"
#include "fs/prep/format.h"
#include "fs/storage/storage.h"
#include "fs/volume.h"

namespace luksfs::fs::prep {

enum class Container { kRaw, kLuks1, kLuks2, kQcow2 };

// Looks at the first bytes: "LUKS\xba\xbe" + version, or qcow2's "QFI\xfb";
// anything else (and an image under 8 bytes) is raw.
// Errors: kIOError from storage.
Result<Container> ProbeContainer(const Storage& storage);
const char* ContainerName(Container c);

struct PlainImage {
  Container container = Container::kRaw;
  std::unique_ptr<Storage> storage;
  uint64_t data_offset = 0;  // bytes: where the plaintext (or ciphertext) starts
  uint64_t size = 0;         // plaintext bytes
  uint32_t sector_size = 512;
  uint64_t iv_tweak = 0;     // 512-byte units
  std::unique_ptr<crypto::CryptEngine> engine;  // null: raw, or volume
  // Other containers: the opened image (owns storage and container) and a
  // read-only Volume over its map. ReadStored then yields plaintext and
  // Decrypt does nothing. Declared in this order: volume is destroyed first.
  std::unique_ptr<OpenedImage> opened;
  std::unique_ptr<Volume> volume;
  // A plaintext qcow2 (crypt_method 0): its map over `storage`; ReadStored
  // reads the data extents and zero-fills the rest. Destroyed before
  // storage (declared after it).
  std::unique_ptr<BlockMap> map;
  // A LUKS SRC's format, for a re-keyed DST (InheritFormat).
  SourceFormat format;

  bool encrypted() const { return engine != nullptr || volume != nullptr; }
  Status ReadStored(uint64_t offset, std::span<uint8_t> dst) const;
  Status Decrypt(uint64_t offset, std::span<uint8_t> buf) const;
  Status Read(uint64_t offset, std::span<uint8_t> dst) const;
  // The first byte at or after `offset` that may hold data (size if
  // none): qcow2 holes and zero clusters before it need not be read by a
  // sparse copy. Raw and raw LUKS images: `offset`. Errors: those of the
  // map.
  Result<uint64_t> NextData(uint64_t offset) const;
};

// The plaintext of an opened, unlocked image through its container's
// BlockMap and a read-only Volume (any container, raw included).
// `volume_key` is wiped. Errors: those of CheckImage, CryptEngine::Create
// and Container::OpenMap.
// The plaintext of a qcow2 image with no encryption (crypt_method 0),
// through a read-only Qcow2Map; `storage` is taken. Returns nullopt for an
// encrypted qcow2 (the caller unlocks it). Errors: those of ParseHeader and
// Qcow2Map::Open (kCorruption, kNotSupported), kIOError.
Result<std::optional<PlainImage>> OpenPlainQcow2(std::unique_ptr<Storage>* storage);

Result<PlainImage> PlainThroughContainer(std::unique_ptr<OpenedImage> image,
                                         SecureBuffer volume_key,
                                         unsigned threads);

}  // namespace luksfs::fs::prep
