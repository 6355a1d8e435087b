// Luks2Metadata: edits a LUKS2 JSON metadata document (adding and removing
// keyslots and tokens) and encodes the result as both on-disk header copies.
//
// Editing never touches the image: it produces the new JSON text and, via
// EncodeHeaders(), the exact bytes to write. The caller writes keyslot
// material first, then the secondary copy, then the primary copy, syncing
// in between, as cryptsetup does, so an interrupted update leaves one valid
// copy. The result is re-parsed with the strict reader before it is offered,
// so luksfs never writes a header it would itself refuse.
//
// Thread-safety: not thread-safe; one instance per edit.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "crypto/keyslot_create.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

// Bytes to write at an absolute image offset.
struct ImageWrite {
  uint64_t offset = 0;
  std::vector<uint8_t> bytes;
};

class Luks2Metadata {
 public:
  // REQUIRES: header.version == 2 and header.json as read from the image.
  // Errors: kCorruption if the JSON does not parse.
  static Result<std::unique_ptr<Luks2Metadata>> Load(const LuksHeader& header);
  ~Luks2Metadata();

  // Where a new keyslot of `material_bytes` would go: the lowest free
  // keyslot number (or `slot`), and the first 4096-aligned gap in the
  // keyslots area. Errors: kResourceExhausted (no free slot or space),
  // kInvalidArgument (`slot` taken).
  struct Placement {
    int index = 0;
    uint64_t area_offset = 0;
    uint64_t area_size = 0;
  };
  Result<Placement> PlanKeyslot(uint64_t material_bytes,
                                std::optional<int> slot) const;

  // Adds a "luks2" keyslot bound to segment 0's digest.
  Status AddKeyslot(const Placement& where, const NewKeyslot& slot,
                    const KeyslotSpec& spec, uint32_t key_bytes);

  // Removes keyslot `index` from keyslots and from every digest, and every
  // token that referenced only it. Errors: kNotFound.
  Status RemoveKeyslot(int index);

  // Adds a token (a JSON object with "type" and "keyslots"); returns its
  // number. Errors: kInvalidArgument (not an object), kResourceExhausted.
  Result<int> AddToken(const std::string& token_json);

  // Removes token `index`. Errors: kNotFound.
  Status RemoveToken(int index);

  // The compact JSON text.
  std::string Dump() const;

  // Both header copies for the current JSON with seqid + 1, secondary first.
  // Errors: kResourceExhausted if the JSON does not fit the JSON area;
  // kCorruption if the result would not pass the strict reader.
  Result<std::vector<ImageWrite>> EncodeHeaders(uint64_t image_size) const;

 private:
  struct Impl;
  explicit Luks2Metadata(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace luksfs::crypto
