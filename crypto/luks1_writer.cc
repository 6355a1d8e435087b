#include "crypto/luks1_writer.h"

#include <cstring>

#include "crypto/af.h"

namespace luksfs::crypto {

namespace {

constexpr size_t kHeaderBytes = 592;
constexpr size_t kKeyblocks = 208;   // keyblock[0] @208, 48 bytes each
constexpr uint32_t kActive = 0x00AC71F3;
constexpr uint32_t kDisabled = 0x0000DEAD;
constexpr uint32_t kStripes = 4000;

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | p[3];
}
void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}

// Checks that keyslot `index`'s key material lies between the header and
// the payload and overlaps no other keyslot's material, as cryptsetup's
// LUKS_check_keyslots does for every slot: the writers never trust an
// offset the parser did not validate (it only validates active slots).
Result<uint64_t> MaterialOffset(const std::vector<uint8_t>& hdr, int index) {
  const uint32_t key_bytes = Be32(hdr.data() + 108);
  const uint64_t payload = uint64_t{Be32(hdr.data() + 104)} * 512;
  const uint64_t size = AfSplitSize(key_bytes, kStripes);
  auto offset_of = [&](int i) {
    return uint64_t{Be32(hdr.data() + kKeyblocks + 48 * i + 40)} * 512;
  };
  const uint64_t off = offset_of(index);
  if (key_bytes == 0 || key_bytes > 512 || off < 1024 || payload == 0 ||
      off + size > payload) {
    return Status::Corruption("keyslot " + std::to_string(index) +
                              ": key material offset is outside the header");
  }
  for (int i = 0; i < 8; ++i) {
    const uint64_t other = offset_of(i);
    if (i != index && off < other + size && other < off + size) {
      return Status::Corruption("keyslot " + std::to_string(index) +
                                ": key material overlaps keyslot " +
                                std::to_string(i));
    }
  }
  return off;
}

Result<std::vector<uint8_t>> CheckedHeader(std::span<const uint8_t> raw) {
  const uint8_t magic[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
  if (raw.size() < kHeaderBytes || std::memcmp(raw.data(), magic, 6) != 0 ||
      raw[6] != 0 || raw[7] != 1) {
    return Status::Corruption("not a LUKS1 header");
  }
  return std::vector<uint8_t>(raw.begin(), raw.begin() + kHeaderBytes);
}

}  // namespace

KeyslotSpec Luks1KeyslotSpec(const LuksHeader& header, uint32_t iterations) {
  KeyslotSpec spec;
  const std::string hash = header.digests.empty() ? "sha256"
                                                  : header.digests[0].hash;
  spec.kdf.type = KdfType::kPbkdf2;
  spec.kdf.hash = hash;
  spec.kdf.iterations = iterations;
  spec.area_cipher = header.segments.empty() ? "" : header.segments[0].encryption;
  spec.area_key_bytes = header.key_bytes;
  spec.af_hash = hash;
  spec.stripes = kStripes;
  return spec;
}

Result<std::vector<ImageWrite>> Luks1AddKeyslot(std::span<const uint8_t> raw,
                                                const NewKeyslot& keyslot,
                                                std::optional<int> slot,
                                                int* chosen) {
  LUKSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> hdr, CheckedHeader(raw));
  int index = -1;
  for (int i = 0; i < 8; ++i) {
    const bool active = Be32(hdr.data() + kKeyblocks + 48 * i) == kActive;
    if (slot ? i == *slot : !active) {
      if (active) {
        return Status::InvalidArgument("keyslot " + std::to_string(i) +
                                       " is in use");
      }
      index = i;
      break;
    }
  }
  if (index < 0) {
    return slot ? Status::InvalidArgument("keyslot " + std::to_string(*slot) +
                                          " is out of range 0..7")
                : Status::ResourceExhausted("all 8 LUKS1 keyslots are in use");
  }
  uint8_t* kb = hdr.data() + kKeyblocks + 48 * index;
  LUKSFS_ASSIGN_OR_RETURN(const uint64_t material_offset,
                          MaterialOffset(hdr, index));
  if (keyslot.kdf.salt.size() != 32 ||
      keyslot.material.size() != AfSplitSize(Be32(hdr.data() + 108), kStripes)) {
    return Status::InvalidArgument("keyslot material does not fit LUKS1");
  }
  PutBe32(kb, kActive);
  PutBe32(kb + 4, keyslot.kdf.iterations);
  std::memcpy(kb + 8, keyslot.kdf.salt.data(), 32);
  PutBe32(kb + 44, kStripes);
  *chosen = index;
  std::vector<ImageWrite> writes;
  writes.push_back({material_offset, keyslot.material});
  writes.push_back({0, std::move(hdr)});
  return writes;
}

Result<std::vector<ImageWrite>> Luks1DisableKeyslots(
    std::span<const uint8_t> raw, const std::vector<int>& slots) {
  LUKSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> hdr, CheckedHeader(raw));
  const uint32_t key_bytes = Be32(hdr.data() + 108);
  std::vector<ImageWrite> writes;
  for (int i : slots) {
    if (i < 0 || i > 7) {
      return Status::NotFound("keyslot " + std::to_string(i) + " does not exist");
    }
    uint8_t* kb = hdr.data() + kKeyblocks + 48 * i;
    LUKSFS_ASSIGN_OR_RETURN(const uint64_t material_offset,
                            MaterialOffset(hdr, i));
    ImageWrite wipe{material_offset,
                    std::vector<uint8_t>(AfSplitSize(key_bytes, kStripes))};
    LUKSFS_RETURN_IF_ERROR(RandomBytes(wipe.bytes));
    writes.push_back(std::move(wipe));
    PutBe32(kb, kDisabled);
    PutBe32(kb + 4, 0);
    std::memset(kb + 8, 0, 32);
  }
  writes.push_back({0, std::move(hdr)});
  return writes;
}

}  // namespace luksfs::crypto
