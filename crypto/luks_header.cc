#include "crypto/luks_header.h"

#include <cstring>
#include <string>
#include <vector>

#include "crypto/sector_cipher.h"

namespace luksfs::crypto {

namespace {

constexpr uint8_t kLuksMagic[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
constexpr uint8_t kLuks2SecondaryMagic[6] = {'S', 'K', 'U', 'L', 0xba, 0xbe};

}  // namespace

const char* KdfName(KdfType type) {
  switch (type) {
    case KdfType::kPbkdf2: return "pbkdf2";
    case KdfType::kArgon2i: return "argon2i";
    case KdfType::kArgon2id: return "argon2id";
  }
  return "?";
}

Result<LuksHeader> ReadLuksHeader(const ReadFn& read, uint64_t image_size) {
  constexpr size_t kProbe = 592;  // the LUKS1 header; LUKS2's starts the same
  if (image_size < 8) {
    return Status::Corruption("not a LUKS image (only " +
                              std::to_string(image_size) + " bytes)");
  }
  std::vector<uint8_t> head(std::min<uint64_t>(kProbe, image_size));
  LUKSFS_RETURN_IF_ERROR(read(0, head));
  const bool primary_magic = std::memcmp(head.data(), kLuksMagic, 6) == 0;
  if (primary_magic) {
    const unsigned version = (unsigned{head[6]} << 8) | head[7];
    if (version == 1) return ParseLuks1Header(head, image_size);
    if (version == 2) return ReadLuks2Header(read, image_size);
    return Status::NotSupported("LUKS version " + std::to_string(version) +
                                " is not supported");
  }
  // The primary LUKS2 header may be wiped while a secondary survives at one
  // of the allowed header-area sizes (16 KiB .. 4 MiB).
  for (uint64_t off = 0x4000; off <= 0x400000; off *= 2) {
    if (image_size < off + 8) break;
    std::vector<uint8_t> second(8);
    LUKSFS_RETURN_IF_ERROR(read(off, second));
    if (std::memcmp(second.data(), kLuks2SecondaryMagic, 6) == 0) {
      return ReadLuks2Header(read, image_size);
    }
  }
  if (std::memcmp(head.data(), "QFI\xfb", 4) == 0) {
    return Status::NotSupported(
        "this is a qcow2 image: its LUKS header lies inside the qcow2 "
        "container (open it through the container)");
  }
  return Status::Corruption("not a LUKS image (bad magic)");
}

Status CheckMountable(const LuksHeader& h) {
  if (!h.requirements.empty()) {
    std::string list;
    for (const std::string& r : h.requirements) {
      list += (list.empty() ? "" : ", ") + r;
    }
    return Status::NotSupported(
        "LUKS2 mandatory requirement '" + list +
        "' is not supported (reencryption in progress or a hardware feature)");
  }
  int crypt_segments = 0;
  for (const Segment& s : h.segments) {
    if (s.type != "crypt") {
      return Status::NotSupported("segment " + std::to_string(s.index) +
                                  " of type '" + s.type +
                                  "' is not supported");
    }
    if (s.has_integrity) {
      return Status::NotSupported("segment " + std::to_string(s.index) +
                                  " uses integrity protection (dm-integrity/"
                                  "AEAD), which is not supported");
    }
    ++crypt_segments;
  }
  if (crypt_segments != 1) {
    return Status::NotSupported(std::to_string(crypt_segments) +
                                " data segments; exactly one is supported");
  }
  const Segment& seg = h.segments[0];
  // A LUKS2 header without its data (cryptsetup --header): the segment
  // starts inside the header itself, and serving it would let writes to the
  // view destroy the header.
  const uint64_t header_end =
      h.version == 2 ? 2 * h.hdr_size + h.keyslots_size : 0;
  if (h.version == 2 && seg.offset < header_end) {
    return Status::NotSupported(
        "detached header (data segment at byte " + std::to_string(seg.offset) +
        ", inside the " + std::to_string(header_end) +
        "-byte header area) is not supported");
  }
  if (h.keyslots.empty()) {
    // cryptsetup luksErase, or a luksfs shred: no key can open it again.
    return Status::PermissionDenied(
        "no key: the image has no keyslot left (shredded or erased)");
  }
  if (h.key_bytes == 0) {
    return Status::Corruption("no digest covers data segment 0");
  }
  LUKSFS_RETURN_IF_ERROR(ParseCipherSpec(seg.encryption, h.key_bytes).status());
  return Status();
}

Result<DataLayout> ComputeDataLayout(const LuksHeader& h, uint64_t image_size) {
  if (h.segments.empty()) return Status::Corruption("no data segment");
  const Segment& seg = h.segments[0];
  DataLayout l;
  l.offset = seg.offset;
  l.sector_size = seg.sector_size;
  l.iv_tweak = seg.iv_tweak;
  l.cipher = seg.encryption;
  if (seg.offset > image_size) {
    return Status::Corruption("image is truncated: data starts at byte " +
                              std::to_string(seg.offset) + " but the image has " +
                              std::to_string(image_size) + " bytes");
  }
  if (seg.size) {
    if (*seg.size > image_size - seg.offset) {
      return Status::Corruption("image is truncated: data segment needs " +
                                std::to_string(seg.offset + *seg.size) +
                                " bytes but the image has " +
                                std::to_string(image_size));
    }
    l.size = *seg.size / seg.sector_size * seg.sector_size;
  } else {
    l.size = (image_size - seg.offset) / seg.sector_size * seg.sector_size;
  }
  return l;
}

}  // namespace luksfs::crypto
