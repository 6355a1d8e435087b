// LUKS1 on-disk header (cryptsetup lib/luks1/luks.h; LUKS1 spec 1.2.3).
// All integers are big-endian. The header proper is 592 bytes.
#include <cstring>
#include <string>

#include "crypto/af.h"
#include "crypto/hash.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

namespace {

constexpr uint8_t kMagic[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
constexpr size_t kHeaderBytes = 592;
constexpr int kSlots = 8;
constexpr uint32_t kSlotActive = 0x00AC71F3;
constexpr uint32_t kSlotDisabled = 0x0000DEAD;
constexpr uint32_t kStripes = 4000;

#pragma pack(push, 1)
struct Luks1KeyBlock {
  uint8_t active[4];             // active @+0
  uint8_t iterations[4];         // passwordIterations @+4
  uint8_t salt[32];              // passwordSalt @+8
  uint8_t key_material_offset[4];  // keyMaterialOffset @+40, 512-byte sectors
  uint8_t stripes[4];            // stripes @+44
};
struct Luks1Disk {
  uint8_t magic[6];              // magic @0
  uint8_t version[2];            // version @6
  char cipher_name[32];          // cipherName @8
  char cipher_mode[32];          // cipherMode @40
  char hash_spec[32];            // hashSpec @72
  uint8_t payload_offset[4];     // payloadOffset @104, 512-byte sectors
  uint8_t key_bytes[4];          // keyBytes @108
  uint8_t mk_digest[20];         // mkDigest @112
  uint8_t mk_digest_salt[32];    // mkDigestSalt @132
  uint8_t mk_digest_iter[4];     // mkDigestIterations @164
  char uuid[40];                 // uuid @168
  Luks1KeyBlock slots[kSlots];   // keyblock[8] @208
};
#pragma pack(pop)
static_assert(sizeof(Luks1Disk) == kHeaderBytes, "LUKS1 header is 592 bytes");

uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | p[3];
}

// A fixed-size NUL-padded field as a string; it must be printable ASCII.
Result<std::string> Field(const char* p, size_t n, const char* what) {
  size_t len = strnlen(p, n);
  if (len == n) len = n - 1;  // cryptsetup force-terminates at [n-1]
  std::string s(p, len);
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) {
      return Status::Corruption(std::string("LUKS1 header: ") + what +
                                " is not printable text");
    }
  }
  return s;
}

}  // namespace

Result<LuksHeader> ParseLuks1Header(std::span<const uint8_t> bytes,
                                    uint64_t image_size) {
  if (bytes.size() < kHeaderBytes || image_size < kHeaderBytes) {
    return Status::Corruption("image is truncated: LUKS1 header needs " +
                              std::to_string(kHeaderBytes) + " bytes");
  }
  Luks1Disk d;
  std::memcpy(&d, bytes.data(), sizeof d);
  if (std::memcmp(d.magic, kMagic, sizeof kMagic) != 0) {
    return Status::Corruption("not a LUKS image (bad magic)");
  }
  if (d.version[0] != 0 || d.version[1] != 1) {
    return Status::Corruption("LUKS1 parser called for another version");
  }
  LuksHeader h;
  h.version = 1;
  LUKSFS_ASSIGN_OR_RETURN(std::string cipher,
                          Field(d.cipher_name, sizeof d.cipher_name, "cipherName"));
  LUKSFS_ASSIGN_OR_RETURN(std::string mode,
                          Field(d.cipher_mode, sizeof d.cipher_mode, "cipherMode"));
  LUKSFS_ASSIGN_OR_RETURN(std::string hash,
                          Field(d.hash_spec, sizeof d.hash_spec, "hashSpec"));
  LUKSFS_ASSIGN_OR_RETURN(h.uuid, Field(d.uuid, sizeof d.uuid, "uuid"));
  const std::string spec = cipher + "-" + mode;
  const uint32_t key_bytes = Be32(d.key_bytes);
  const uint64_t payload = uint64_t{Be32(d.payload_offset)} * 512;
  if (key_bytes == 0 || key_bytes > 512) {
    return Status::Corruption("LUKS1 header: keyBytes " +
                              std::to_string(key_bytes) + " is out of range");
  }
  if (Be32(d.mk_digest_iter) == 0) {
    return Status::Corruption("LUKS1 header: mkDigestIterations is 0");
  }
  if (payload == 0) {
    return Status::NotSupported(
        "LUKS1 header: detached header (payloadOffset 0) is not supported");
  }
  h.key_bytes = key_bytes;

  Digest dg;
  dg.type = "pbkdf2";
  dg.hash = hash;
  dg.iterations = Be32(d.mk_digest_iter);
  dg.salt.assign(d.mk_digest_salt, d.mk_digest_salt + 32);
  dg.value.assign(d.mk_digest, d.mk_digest + 20);
  dg.segments = {0};

  const uint64_t material = AfSplitSize(key_bytes, kStripes);
  for (int i = 0; i < kSlots; ++i) {
    const Luks1KeyBlock& kb = d.slots[i];
    const uint32_t state = Be32(kb.active);
    if (state == kSlotDisabled || state == 0) continue;
    if (state != kSlotActive) {
      return Status::Corruption("LUKS1 header: keyslot " + std::to_string(i) +
                                " has an invalid state");
    }
    Keyslot ks;
    ks.index = i;
    ks.type = "luks1";
    ks.key_bytes = key_bytes;
    ks.kdf.type = KdfType::kPbkdf2;
    ks.kdf.hash = hash;
    ks.kdf.iterations = Be32(kb.iterations);
    ks.kdf.salt.assign(kb.salt, kb.salt + 32);
    ks.af_hash = hash;
    ks.stripes = Be32(kb.stripes);
    ks.area_offset = uint64_t{Be32(kb.key_material_offset)} * 512;
    ks.area_size = material;
    ks.area_cipher = spec;
    ks.area_key_bytes = key_bytes;
    const std::string where = "LUKS1 header: keyslot " + std::to_string(i);
    if (ks.stripes != kStripes) {
      return Status::Corruption(where + ": stripes " +
                                std::to_string(ks.stripes) + " != 4000");
    }
    if (ks.kdf.iterations == 0) {
      return Status::Corruption(where + ": 0 iterations");
    }
    if (ks.area_offset < 1024 || ks.area_offset + material > payload) {
      return Status::Corruption(where + ": key material at byte " +
                                std::to_string(ks.area_offset) +
                                " is outside the header area");
    }
    for (const Keyslot& other : h.keyslots) {
      if (ks.area_offset < other.area_offset + other.area_size &&
          other.area_offset < ks.area_offset + material) {
        return Status::Corruption(where + ": key material overlaps keyslot " +
                                  std::to_string(other.index));
      }
    }
    dg.keyslots.push_back(i);
    h.keyslots.push_back(std::move(ks));
  }
  h.digests.push_back(std::move(dg));

  Segment seg;
  seg.type = "crypt";
  seg.offset = payload;
  seg.encryption = spec;
  seg.sector_size = 512;
  h.segments.push_back(std::move(seg));
  return h;
}

}  // namespace luksfs::crypto
