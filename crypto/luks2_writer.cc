#include "crypto/luks2_writer.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "crypto/af.h"
#include "crypto/base64.h"
#include "crypto/hash.h"
#include "crypto/kdf.h"
#include "crypto/luks2_json.h"
#include "crypto/sector_cipher.h"

namespace luksfs::crypto {

namespace {

using Json = nlohmann::ordered_json;

constexpr uint32_t kStripes = 4000;
constexpr uint64_t kAlign = 4096;

uint64_t RoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Checks what both formats share: the cipher and key size (by building a
// cipher with a dummy key), the hash, the digest iterations, the UUID.
Status CheckCommon(const NewLuksSpec& spec, std::span<const uint8_t> vk) {
  if (vk.size() != spec.key_bytes || spec.key_bytes == 0 ||
      spec.key_bytes > 512) {
    return Status::InvalidArgument("volume key size " +
                                   std::to_string(vk.size()) +
                                   " does not match the key size " +
                                   std::to_string(spec.key_bytes));
  }
  std::vector<uint8_t> dummy(spec.key_bytes, 0x5a);
  auto c = SectorCipher::Create(spec.cipher, dummy, 512);
  if (!c.ok()) {
    return Status::NotSupported("cipher " + spec.cipher + " with a " +
                                std::to_string(spec.key_bytes * 8) +
                                "-bit key: " + c.status().message());
  }
  LUKSFS_RETURN_IF_ERROR(HashSize(spec.hash).status());
  if (spec.digest_iterations < 1000) {
    return Status::InvalidArgument("digest iterations must be at least 1000");
  }
  if (!spec.uuid.empty() && !IsUuidText(spec.uuid)) {
    return Status::InvalidArgument("UUID '" + spec.uuid +
                                   "' is not of the form "
                                   "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx");
  }
  return Status();
}

Result<std::vector<uint8_t>> VolumeKeyDigest(const NewLuksSpec& spec,
                                             std::span<const uint8_t> vk,
                                             std::span<const uint8_t> salt,
                                             size_t bytes) {
  std::vector<uint8_t> digest(bytes);
  LUKSFS_RETURN_IF_ERROR(
      Pbkdf2(spec.hash, vk, salt, spec.digest_iterations, digest));
  return digest;
}

}  // namespace

Result<std::string> RandomUuid() {
  uint8_t b[16];
  LUKSFS_RETURN_IF_ERROR(RandomBytes(b));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  static const char* d = "0123456789abcdef";
  std::string s;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) s += '-';
    s += d[b[i] >> 4];
    s += d[b[i] & 15];
  }
  return s;
}

bool IsUuidText(const std::string& t) {
  if (t.size() != 36) return false;
  for (size_t i = 0; i < t.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? t[i] != '-' : !std::isxdigit(static_cast<unsigned char>(t[i]))) {
      return false;
    }
  }
  return true;
}

Result<NewLuksHeader> FormatLuks2(const NewLuksSpec& spec,
                                  std::span<const uint8_t> passphrase,
                                  std::span<const uint8_t> volume_key) {
  LUKSFS_RETURN_IF_ERROR(CheckCommon(spec, volume_key));
  const uint32_t ss = spec.sector_size;
  if (ss < 512 || ss > 4096 || (ss & (ss - 1)) != 0) {
    return Status::InvalidArgument("sector size " + std::to_string(ss) +
                                   " is not 512, 1024, 2048 or 4096");
  }
  if (spec.label.size() >= 48) {
    return Status::InvalidArgument("label is longer than 47 bytes");
  }
  const uint64_t hdr = kLuks2DefaultHdrSize;
  const uint64_t data = spec.data_offset ? spec.data_offset
                                         : kLuks2DefaultDataOffset;
  const uint64_t material = AfSplitSize(spec.key_bytes, kStripes);
  if (data % kAlign != 0 || data < 2 * hdr + RoundUp(material, kAlign) ||
      data - 2 * hdr > kLuks2MaxKeyslotsSize) {
    return Status::InvalidArgument(
        "data offset " + std::to_string(data) +
        " must be 4096-aligned, leave room for one keyslot and at most 128 "
        "MiB of keyslots");
  }
  NewLuksHeader out;
  out.data_offset = data;
  if (spec.uuid.empty()) {
    LUKSFS_ASSIGN_OR_RETURN(out.uuid, RandomUuid());
  } else {
    out.uuid = spec.uuid;
  }
  LUKSFS_ASSIGN_OR_RETURN(const size_t hash_bytes, HashSize(spec.hash));
  std::vector<uint8_t> salt(32);
  LUKSFS_RETURN_IF_ERROR(RandomBytes(salt));
  LUKSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> digest,
                          VolumeKeyDigest(spec, volume_key, salt, hash_bytes));

  Json doc;
  doc["keyslots"] = Json::object();
  doc["tokens"] = Json::object();
  doc["segments"]["0"] = {{"type", "crypt"},
                          {"offset", std::to_string(data)},
                          {"size", "dynamic"},
                          {"iv_tweak", "0"},
                          {"encryption", spec.cipher},
                          {"sector_size", ss}};
  doc["digests"]["0"] = {{"type", "pbkdf2"},
                         {"keyslots", Json::array()},
                         {"segments", Json::array({"0"})},
                         {"hash", spec.hash},
                         {"iterations", spec.digest_iterations},
                         {"salt", Base64Encode(salt)},
                         {"digest", Base64Encode(digest)}};
  doc["config"] = {{"json_size", std::to_string(hdr - 4096)},
                   {"keyslots_size", std::to_string(data - 2 * hdr)}};

  LuksHeader h;
  h.version = 2;
  h.uuid = out.uuid;
  h.label = spec.label;
  h.hdr_size = hdr;
  h.seqid = 0;  // EncodeHeaders writes seqid + 1
  h.checksum_alg = "sha256";
  h.keyslots_size = data - 2 * hdr;
  h.key_bytes = spec.key_bytes;
  h.json = doc.dump();
  LUKSFS_ASSIGN_OR_RETURN(auto md, Luks2Metadata::Load(h));

  KeyslotSpec ks_spec;
  ks_spec.kdf = spec.kdf;
  ks_spec.area_cipher = spec.cipher;
  ks_spec.area_key_bytes = spec.key_bytes;
  ks_spec.af_hash = spec.hash;
  ks_spec.stripes = kStripes;
  LUKSFS_ASSIGN_OR_RETURN(NewKeyslot slot,
                          MakeKeyslot(passphrase, volume_key, ks_spec));
  LUKSFS_ASSIGN_OR_RETURN(auto where,
                          md->PlanKeyslot(slot.material.size(), std::nullopt));
  LUKSFS_RETURN_IF_ERROR(md->AddKeyslot(where, slot, ks_spec, spec.key_bytes));
  for (const std::string& token : spec.tokens) {
    LUKSFS_RETURN_IF_ERROR(md->AddToken(token).status());
  }
  LUKSFS_ASSIGN_OR_RETURN(auto headers, md->EncodeHeaders(data));
  out.keyslot = where.index;
  out.writes.push_back({where.area_offset, std::move(slot.material)});
  for (auto& w : headers) out.writes.push_back(std::move(w));
  return out;
}

namespace {
void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = v >> 24;
  p[1] = v >> 16;
  p[2] = v >> 8;
  p[3] = v;
}
void PutStr(uint8_t* p, size_t cap, const std::string& s) {
  std::memcpy(p, s.data(), std::min(s.size(), cap - 1));
}
}  // namespace

Result<NewLuksHeader> FormatLuks1(const NewLuksSpec& spec,
                                  std::span<const uint8_t> passphrase,
                                  std::span<const uint8_t> volume_key) {
  LUKSFS_RETURN_IF_ERROR(CheckCommon(spec, volume_key));
  if (spec.kdf.type != KdfType::kPbkdf2) {
    return Status::InvalidArgument("LUKS1 keyslots use pbkdf2 only");
  }
  if (!spec.label.empty() || !spec.tokens.empty()) {
    return Status::InvalidArgument("LUKS1 has no label and no tokens");
  }
  if (spec.sector_size != 512) {
    return Status::InvalidArgument("LUKS1 encrypts 512-byte sectors only");
  }
  const size_t dash = spec.cipher.find('-');
  if (dash == std::string::npos || dash >= 31 ||
      spec.cipher.size() - dash - 1 >= 32 || spec.hash.size() >= 32) {
    return Status::InvalidArgument("cipher " + spec.cipher +
                                   " does not fit a LUKS1 header");
  }
  const uint64_t slot_sectors =
      RoundUp(AfSplitSize(spec.key_bytes, kStripes) / 512, kAlign / 512);
  const uint64_t first = kAlign / 512;
  const uint64_t end = first + 8 * slot_sectors;           // sectors
  const uint64_t min_payload = RoundUp(end, (1 << 20) / 512);
  uint64_t payload = min_payload;
  if (spec.data_offset) {
    if (spec.data_offset % 512 != 0 || spec.data_offset / 512 < end ||
        spec.data_offset / 512 > UINT32_MAX) {
      return Status::InvalidArgument("data offset " +
                                     std::to_string(spec.data_offset) +
                                     " is not a sector after the keyslots");
    }
    payload = spec.data_offset / 512;
  }
  NewLuksHeader out;
  out.data_offset = payload * 512;
  if (spec.uuid.empty()) {
    LUKSFS_ASSIGN_OR_RETURN(out.uuid, RandomUuid());
  } else {
    out.uuid = spec.uuid;
  }
  std::vector<uint8_t> hdr(592, 0);
  const uint8_t magic[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
  std::memcpy(hdr.data(), magic, 6);
  hdr[7] = 1;
  PutStr(hdr.data() + 8, 32, spec.cipher.substr(0, dash));
  PutStr(hdr.data() + 40, 32, spec.cipher.substr(dash + 1));
  PutStr(hdr.data() + 72, 32, spec.hash);
  PutBe32(hdr.data() + 104, static_cast<uint32_t>(payload));
  PutBe32(hdr.data() + 108, spec.key_bytes);
  std::vector<uint8_t> salt(32);
  LUKSFS_RETURN_IF_ERROR(RandomBytes(salt));
  LUKSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> digest,
                          VolumeKeyDigest(spec, volume_key, salt, 20));
  std::memcpy(hdr.data() + 112, digest.data(), 20);
  std::memcpy(hdr.data() + 132, salt.data(), 32);
  PutBe32(hdr.data() + 164, spec.digest_iterations);
  PutStr(hdr.data() + 168, 40, out.uuid);
  for (int i = 0; i < 8; ++i) {
    uint8_t* kb = hdr.data() + 208 + 48 * i;
    PutBe32(kb, 0x0000DEAD);
    PutBe32(kb + 40, static_cast<uint32_t>(first + i * slot_sectors));
    PutBe32(kb + 44, kStripes);
  }
  KeyslotSpec ks_spec;
  ks_spec.kdf = spec.kdf;
  ks_spec.kdf.hash = spec.hash;
  ks_spec.area_cipher = spec.cipher;
  ks_spec.area_key_bytes = spec.key_bytes;
  ks_spec.af_hash = spec.hash;
  ks_spec.stripes = kStripes;
  LUKSFS_ASSIGN_OR_RETURN(NewKeyslot slot,
                          MakeKeyslot(passphrase, volume_key, ks_spec));
  uint8_t* kb = hdr.data() + 208;
  PutBe32(kb, 0x00AC71F3);
  PutBe32(kb + 4, slot.kdf.iterations);
  std::memcpy(kb + 8, slot.kdf.salt.data(), 32);
  // Self-check: the strict reader must accept what we write.
  auto check = ParseLuks1Header(hdr, out.data_offset);
  if (!check.ok()) {
    return Status::Corruption("BUG: the new LUKS1 header fails validation: " +
                              check.status().message());
  }
  out.writes.push_back({first * 512, std::move(slot.material)});
  out.writes.push_back({0, std::move(hdr)});
  return out;
}

}  // namespace luksfs::crypto
