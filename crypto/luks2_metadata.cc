#include "crypto/luks2_metadata.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "crypto/base64.h"
#include "crypto/luks2_disk_header.h"
#include "crypto/luks2_json.h"

namespace luksfs::crypto {

using Json = nlohmann::ordered_json;

struct Luks2Metadata::Impl {
  LuksHeader header;  // as loaded (for hdr_size, seqid, uuid, ...)
  Json doc;
};

namespace {

constexpr uint64_t kAreaAlign = 4096;

std::string Dec(uint64_t v) { return std::to_string(v); }

bool HasKey(const Json& obj, const std::string& k) {
  return obj.is_object() && obj.contains(k);
}

// The first unused decimal key in 0..limit-1 of object `obj`.
std::optional<int> FreeIndex(const Json& obj, int limit) {
  for (int i = 0; i < limit; ++i) {
    if (!HasKey(obj, std::to_string(i))) return i;
  }
  return std::nullopt;
}

}  // namespace

Luks2Metadata::Luks2Metadata(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
Luks2Metadata::~Luks2Metadata() = default;

Result<std::unique_ptr<Luks2Metadata>> Luks2Metadata::Load(
    const LuksHeader& header) {
  if (header.version != 2) {
    return Status::InvalidArgument("not a LUKS2 header");
  }
  auto impl = std::make_unique<Impl>();
  impl->header = header;
  impl->doc = Json::parse(header.json, nullptr, /*allow_exceptions=*/false);
  if (impl->doc.is_discarded() || !impl->doc.is_object()) {
    return Status::Corruption("LUKS2 metadata does not parse");
  }
  for (const char* k : {"keyslots", "tokens", "digests", "segments"}) {
    if (!HasKey(impl->doc, k) || !impl->doc[k].is_object()) {
      return Status::Corruption(std::string("LUKS2 metadata has no ") + k);
    }
  }
  return std::unique_ptr<Luks2Metadata>(new Luks2Metadata(std::move(impl)));
}

Result<Luks2Metadata::Placement> Luks2Metadata::PlanKeyslot(
    uint64_t material_bytes, std::optional<int> slot) const {
  const LuksHeader& h = impl_->header;
  Placement p;
  if (slot) {
    if (*slot < 0 || *slot >= kLuks2MaxKeyslots) {
      return Status::InvalidArgument("keyslot " + std::to_string(*slot) +
                                     " is out of range 0..31");
    }
    if (HasKey(impl_->doc["keyslots"], std::to_string(*slot))) {
      return Status::InvalidArgument("keyslot " + std::to_string(*slot) +
                                     " is in use");
    }
    p.index = *slot;
  } else {
    auto free = FreeIndex(impl_->doc["keyslots"], kLuks2MaxKeyslots);
    if (!free) return Status::ResourceExhausted("all 32 keyslots are in use");
    p.index = *free;
  }
  p.area_size = (material_bytes + kAreaAlign - 1) / kAreaAlign * kAreaAlign;
  // Occupied areas, sorted; every keyslot (any type) has an area.
  std::vector<std::pair<uint64_t, uint64_t>> used;
  for (const Keyslot& ks : h.keyslots) {
    used.emplace_back(ks.area_offset, ks.area_offset + ks.area_size);
  }
  std::sort(used.begin(), used.end());
  const uint64_t begin = 2 * h.hdr_size;
  const uint64_t end = begin + h.keyslots_size;
  uint64_t candidate = begin;
  for (const auto& [lo, hi] : used) {
    if (candidate + p.area_size <= lo) break;
    candidate = std::max(candidate, (hi + kAreaAlign - 1) / kAreaAlign * kAreaAlign);
  }
  if (candidate + p.area_size > end) {
    return Status::ResourceExhausted(
        "no room for a new keyslot in the keyslots area (" + Dec(h.keyslots_size) +
        " bytes)");
  }
  p.area_offset = candidate;
  return p;
}

Status Luks2Metadata::AddKeyslot(const Placement& where, const NewKeyslot& slot,
                                 const KeyslotSpec& spec, uint32_t key_bytes) {
  Json& doc = impl_->doc;
  // Bind the slot to the digest that covers segment 0.
  std::string digest_key;
  for (auto& [k, d] : doc["digests"].items()) {
    if (!d.is_object() || !HasKey(d, "segments")) continue;
    for (const auto& s : d["segments"]) {
      if (s.is_string() && s.get<std::string>() == "0") digest_key = k;
    }
  }
  if (digest_key.empty()) {
    return Status::Corruption("no digest covers data segment 0");
  }
  Json kdf;
  kdf["type"] = KdfName(slot.kdf.type);
  if (slot.kdf.type == KdfType::kPbkdf2) {
    kdf["hash"] = slot.kdf.hash;
    kdf["iterations"] = slot.kdf.iterations;
  } else {
    kdf["time"] = slot.kdf.iterations;
    kdf["memory"] = slot.kdf.memory_kib;
    kdf["cpus"] = slot.kdf.cpus;
  }
  kdf["salt"] = Base64Encode(slot.kdf.salt);
  Json ks;
  ks["type"] = "luks2";
  ks["key_size"] = key_bytes;
  ks["af"] = {{"type", "luks1"}, {"stripes", spec.stripes}, {"hash", spec.af_hash}};
  ks["area"] = {{"type", "raw"},
                {"offset", Dec(where.area_offset)},
                {"size", Dec(where.area_size)},
                {"encryption", spec.area_cipher},
                {"key_size", spec.area_key_bytes}};
  ks["kdf"] = kdf;
  doc["keyslots"][std::to_string(where.index)] = ks;
  doc["digests"][digest_key]["keyslots"].push_back(std::to_string(where.index));
  return Status();
}

Status Luks2Metadata::RemoveKeyslot(int index) {
  Json& doc = impl_->doc;
  const std::string key = std::to_string(index);
  if (!HasKey(doc["keyslots"], key)) {
    return Status::NotFound("keyslot " + key + " does not exist");
  }
  doc["keyslots"].erase(key);
  for (auto& [k, d] : doc["digests"].items()) {
    if (!HasKey(d, "keyslots") || !d["keyslots"].is_array()) continue;
    Json kept = Json::array();
    for (const auto& s : d["keyslots"]) {
      if (!(s.is_string() && s.get<std::string>() == key)) kept.push_back(s);
    }
    d["keyslots"] = kept;
  }
  std::vector<std::string> drop;
  for (auto& [k, t] : doc["tokens"].items()) {
    if (!HasKey(t, "keyslots") || !t["keyslots"].is_array()) continue;
    Json kept = Json::array();
    for (const auto& s : t["keyslots"]) {
      if (!(s.is_string() && s.get<std::string>() == key)) kept.push_back(s);
    }
    if (kept.empty() && !t["keyslots"].empty()) drop.push_back(k);
    t["keyslots"] = kept;
  }
  for (const std::string& k : drop) doc["tokens"].erase(k);
  return Status();
}

Result<int> Luks2Metadata::AddToken(const std::string& token_json) {
  Json t = Json::parse(token_json, nullptr, false);
  if (t.is_discarded() || !t.is_object() || !HasKey(t, "type") ||
      !t["type"].is_string() || !HasKey(t, "keyslots") ||
      !t["keyslots"].is_array()) {
    return Status::InvalidArgument("a token needs \"type\" and \"keyslots\"");
  }
  auto free = FreeIndex(impl_->doc["tokens"], kLuks2MaxTokens);
  if (!free) return Status::ResourceExhausted("all 32 tokens are in use");
  impl_->doc["tokens"][std::to_string(*free)] = t;
  return *free;
}

Status Luks2Metadata::RemoveToken(int index) {
  const std::string key = std::to_string(index);
  if (!HasKey(impl_->doc["tokens"], key)) {
    return Status::NotFound("token " + key + " does not exist");
  }
  impl_->doc["tokens"].erase(key);
  return Status();
}

std::string Luks2Metadata::Dump() const {
  return impl_->doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<std::vector<ImageWrite>> Luks2Metadata::EncodeHeaders(
    uint64_t image_size) const {
  const LuksHeader& h = impl_->header;
  const std::string json = Dump();
  const uint64_t area = h.hdr_size - kLuks2BinHeaderSize;
  if (json.size() + 1 > area) {
    return Status::ResourceExhausted("the LUKS2 metadata would need " +
                                     Dec(json.size()) + " bytes; the JSON area has " +
                                     Dec(area));
  }
  std::vector<ImageWrite> writes;
  for (bool secondary : {true, false}) {
    ImageWrite w;
    w.offset = secondary ? h.hdr_size : 0;
    w.bytes.assign(h.hdr_size, 0);
    Luks2DiskHeader d;
    std::memset(&d, 0, sizeof d);
    std::memcpy(d.magic, secondary ? kLuks2SecondaryMagic : kLuks2PrimaryMagic,
                6);
    d.version[1] = 2;
    StoreBe64(d.hdr_size, h.hdr_size);
    StoreBe64(d.seqid, h.seqid + 1);
    std::strncpy(d.label, h.label.c_str(), sizeof d.label - 1);
    std::strncpy(d.checksum_alg, h.checksum_alg.c_str(), sizeof d.checksum_alg - 1);
    LUKSFS_RETURN_IF_ERROR(RandomBytes(d.salt));
    std::strncpy(d.uuid, h.uuid.c_str(), sizeof d.uuid - 1);
    std::strncpy(d.subsystem, h.subsystem.c_str(), sizeof d.subsystem - 1);
    StoreBe64(d.hdr_offset, w.offset);
    std::memcpy(w.bytes.data(), &d, sizeof d);
    std::memcpy(w.bytes.data() + kLuks2BinHeaderSize, json.data(), json.size());
    std::span<uint8_t, 64> csum(w.bytes.data() + offsetof(Luks2DiskHeader, csum),
                                64);
    LUKSFS_RETURN_IF_ERROR(ComputeLuks2Checksum(w.bytes, h.checksum_alg, csum));
    writes.push_back(std::move(w));
  }
  // Self-check: the strict reader must accept both copies as written.
  for (const ImageWrite& w : writes) {
    ReadFn read = [&](uint64_t off, std::span<uint8_t> dst) -> Status {
      if (off < w.offset || off + dst.size() > w.offset + w.bytes.size()) {
        return Status::Corruption("image is truncated");
      }
      std::memcpy(dst.data(), w.bytes.data() + (off - w.offset), dst.size());
      return Status();
    };
    auto check = ReadLuks2Copy(read, image_size, w.offset, w.offset != 0);
    if (!check.ok()) {
      return Status::Corruption("BUG: the new LUKS2 header fails validation: " +
                                check.status().message());
    }
  }
  return writes;
}

}  // namespace luksfs::crypto
