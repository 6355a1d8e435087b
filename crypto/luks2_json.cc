#include "crypto/luks2_json.h"

#include <algorithm>
#include <exception>
#include <limits>
#include <new>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "crypto/base64.h"

namespace luksfs::crypto {

namespace {

using Json = nlohmann::json;

constexpr uint64_t kBinHeaderSize = 4096;
constexpr uint32_t kStripes = 4000;
constexpr uint32_t kMaxKeyBytes = 512;
constexpr size_t kSaltBytes = 32;

// 's', cut to 64 bytes, control bytes shown as '?': keeps messages one line.
std::string Quote(std::string_view s) {
  std::string out = "'";
  for (char c : s.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return out + "'";
}

Status Bad(std::string_view where, std::string_view what) {
  return Status::Corruption(std::string(where) + ": " + std::string(what));
}

// ---- Pre-parse scan -------------------------------------------------------

// Returns the length of the top-level JSON object at the start of `area`
// after checking nesting depth and that only NULs follow it.
Result<size_t> ScanJsonArea(std::span<const uint8_t> area) {
  if (area.empty() || area[0] != '{') {
    return Status::Corruption("JSON area does not start with '{'");
  }
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  size_t end = 0;
  for (size_t i = 0; i < area.size() && end == 0; ++i) {
    const uint8_t c = area[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      } else if (c == 0) {
        return Status::Corruption("JSON area: NUL byte inside a string");
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > kLuks2MaxJsonDepth) {
          return Status::Corruption("JSON area: nesting deeper than " +
                                    std::to_string(kLuks2MaxJsonDepth));
        }
        break;
      case '}':
      case ']':
        if (--depth == 0) end = i + 1;
        break;
      case 0:
        return Status::Corruption(
            "JSON area: NUL byte before the end of the object");
      default:
        break;
    }
  }
  if (end == 0) return Status::Corruption("JSON area: unterminated object");
  for (size_t i = end; i < area.size(); ++i) {
    if (area[i] != 0) {
      return Status::Corruption(
          "JSON area: garbage after the JSON text at "
          "byte " +
          std::to_string(i));
    }
  }
  return end;
}

// ---- Typed member access --------------------------------------------------

Result<const Json*> Member(const Json& obj, const char* key,
                           std::string_view where) {
  auto it = obj.find(key);
  if (it == obj.end()) return Bad(where, std::string("missing ") + Quote(key));
  return &*it;
}

Result<const Json*> GetObject(const Json& obj, const char* key,
                              std::string_view where) {
  LUKSFS_ASSIGN_OR_RETURN(const Json* v, Member(obj, key, where));
  if (!v->is_object()) return Bad(where, Quote(key) + " is not an object");
  return v;
}

Result<std::string> GetString(const Json& obj, const char* key,
                              std::string_view where) {
  LUKSFS_ASSIGN_OR_RETURN(const Json* v, Member(obj, key, where));
  if (!v->is_string()) return Bad(where, Quote(key) + " is not a string");
  const std::string& s = v->get_ref<const std::string&>();
  if (s.find('\0') != std::string::npos) {
    return Bad(where, Quote(key) + " contains a NUL character");
  }
  return s;
}

// A JSON integer (not a float, not a string) in [min, max].
Result<uint64_t> GetInt(const Json& obj, const char* key,
                        std::string_view where, uint64_t min, uint64_t max) {
  LUKSFS_ASSIGN_OR_RETURN(const Json* v, Member(obj, key, where));
  if (v->is_number_unsigned()) {
    const uint64_t n = v->get<uint64_t>();
    if (n >= min && n <= max) return n;
    return Bad(where, Quote(key) + " " + std::to_string(n) +
                          " is out of range " + std::to_string(min) + ".." +
                          std::to_string(max));
  }
  if (v->is_number_integer()) {  // negative
    return Bad(where, Quote(key) + " " + std::to_string(v->get<int64_t>()) +
                          " is out of range " + std::to_string(min) + ".." +
                          std::to_string(max));
  }
  return Bad(where, Quote(key) + " is not an integer");
}

Result<uint64_t> GetUint64String(const Json& obj, const char* key,
                                 std::string_view where) {
  LUKSFS_ASSIGN_OR_RETURN(std::string s, GetString(obj, key, where));
  return ParseLuks2Uint64(s, std::string(where) + ": " + Quote(key));
}

Result<std::vector<uint8_t>> GetBase64(const Json& obj, const char* key,
                                       std::string_view where) {
  LUKSFS_ASSIGN_OR_RETURN(std::string s, GetString(obj, key, where));
  Result<std::vector<uint8_t>> bytes = Base64Decode(s);
  if (!bytes.ok())
    return Bad(where, Quote(key) + ": " + bytes.status().message());
  return bytes;
}

// Canonical decimal object name ("0", "17"; not "01", "+1", "") below max.
Result<int> ParseIndex(const std::string& name, int max,
                       std::string_view section) {
  bool ok =
      !name.empty() && name.size() <= 3 && !(name.size() > 1 && name[0] == '0');
  int n = 0;
  for (size_t i = 0; ok && i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') ok = false;
    n = n * 10 + (name[i] - '0');
  }
  if (!ok || n >= max) {
    return Status::Corruption(std::string(section) + ": invalid name " +
                              Quote(name) + " (expected 0.." +
                              std::to_string(max - 1) + ")");
  }
  return n;
}

// An optional or required array of strings.
Result<std::vector<std::string>> GetStringArray(const Json& obj,
                                                const char* key,
                                                std::string_view where,
                                                bool required) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return Bad(where, std::string("missing ") + Quote(key));
    return out;
  }
  if (!it->is_array()) return Bad(where, Quote(key) + " is not an array");
  for (const Json& e : *it) {
    if (!e.is_string()) return Bad(where, Quote(key) + " has a non-string");
    out.push_back(e.get<std::string>());
    if (out.back().find('\0') != std::string::npos) {
      return Bad(where, Quote(key) + " has a string with a NUL character");
    }
  }
  return out;
}

// An array of decimal object names (digest or token references).
Result<std::vector<int>> GetIndexArray(const Json& obj, const char* key,
                                       std::string_view where, int max) {
  LUKSFS_ASSIGN_OR_RETURN(std::vector<std::string> names,
                          GetStringArray(obj, key, where, true));
  std::vector<int> out;
  for (const std::string& name : names) {
    LUKSFS_ASSIGN_OR_RETURN(
        int n, ParseIndex(name, max, std::string(where) + ": " + Quote(key)));
    out.push_back(n);
  }
  return out;
}

template <typename T>
const T* FindByIndex(const std::vector<T>& v, int index) {
  for (const T& e : v) {
    if (e.index == index) return &e;
  }
  return nullptr;
}

// ---- Sections -------------------------------------------------------------

Status ParseKdf(const Json& kdf, std::string_view where, KdfParams* out) {
  LUKSFS_ASSIGN_OR_RETURN(std::string type, GetString(kdf, "type", where));
  constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();
  if (type == "pbkdf2") {
    if (kdf.size() != 4) {
      return Bad(where, "pbkdf2 needs exactly type, hash, iterations, salt");
    }
    out->type = KdfType::kPbkdf2;
    LUKSFS_ASSIGN_OR_RETURN(out->hash, GetString(kdf, "hash", where));
    LUKSFS_ASSIGN_OR_RETURN(uint64_t it,
                            GetInt(kdf, "iterations", where, 1, kU32Max));
    out->iterations = static_cast<uint32_t>(it);
  } else if (type == "argon2i" || type == "argon2id") {
    if (kdf.size() != 5) {
      return Bad(where, type + " needs exactly type, time, memory, cpus, salt");
    }
    out->type = type == "argon2i" ? KdfType::kArgon2i : KdfType::kArgon2id;
    LUKSFS_ASSIGN_OR_RETURN(uint64_t t, GetInt(kdf, "time", where, 1, kU32Max));
    LUKSFS_ASSIGN_OR_RETURN(
        uint64_t m, GetInt(kdf, "memory", where, kLuks2MinArgon2MemoryKib,
                           kLuks2MaxArgon2MemoryKib));
    LUKSFS_ASSIGN_OR_RETURN(uint64_t c,
                            GetInt(kdf, "cpus", where, 1, kLuks2MaxArgon2Cpus));
    out->iterations = static_cast<uint32_t>(t);
    out->memory_kib = static_cast<uint32_t>(m);
    out->cpus = static_cast<uint32_t>(c);
  } else {
    return Bad(where, "unknown type " + Quote(type));
  }
  LUKSFS_ASSIGN_OR_RETURN(out->salt, GetBase64(kdf, "salt", where));
  if (out->salt.size() != kSaltBytes) {
    return Bad(where, "salt is " + std::to_string(out->salt.size()) +
                          " bytes, expected 32");
  }
  return Status();
}

Status ParseKeyslot(int index, const Json& j, Keyslot* ks) {
  const std::string where = "keyslot " + std::to_string(index);
  if (!j.is_object()) return Bad(where, "is not an object");
  ks->index = index;
  LUKSFS_ASSIGN_OR_RETURN(ks->type, GetString(j, "type", where));
  LUKSFS_ASSIGN_OR_RETURN(uint64_t key_size,
                          GetInt(j, "key_size", where, 1, kMaxKeyBytes));
  ks->key_bytes = static_cast<uint32_t>(key_size);
  if (j.contains("priority")) {
    LUKSFS_ASSIGN_OR_RETURN(uint64_t p, GetInt(j, "priority", where, 0, 2));
    ks->priority = static_cast<int>(p);
  }
  const std::string area_where = where + ": area";
  LUKSFS_ASSIGN_OR_RETURN(const Json* area, GetObject(j, "area", where));
  LUKSFS_ASSIGN_OR_RETURN(ks->area_offset,
                          GetUint64String(*area, "offset", area_where));
  LUKSFS_ASSIGN_OR_RETURN(ks->area_size,
                          GetUint64String(*area, "size", area_where));
  if (ks->type != "luks2") {
    // Reencryption and unknown keyslot types: only the area matters here.
    if (area->contains("encryption")) {
      LUKSFS_ASSIGN_OR_RETURN(ks->area_cipher,
                              GetString(*area, "encryption", area_where));
    }
    return Status();
  }
  LUKSFS_ASSIGN_OR_RETURN(std::string area_type,
                          GetString(*area, "type", area_where));
  if (area_type != "raw")
    return Bad(area_where, "type " + Quote(area_type) + " is not 'raw'");
  LUKSFS_ASSIGN_OR_RETURN(ks->area_cipher,
                          GetString(*area, "encryption", area_where));
  LUKSFS_ASSIGN_OR_RETURN(
      uint64_t area_key,
      GetInt(*area, "key_size", area_where, 1, kMaxKeyBytes));
  ks->area_key_bytes = static_cast<uint32_t>(area_key);
  // Material: key_size * 4000 bytes rounded up to 512-byte sectors.
  const uint64_t material = (key_size * kStripes + 511) / 512 * 512;
  if (ks->area_size < material) {
    return Bad(area_where, "size " + std::to_string(ks->area_size) +
                               " is smaller than the key material (" +
                               std::to_string(material) + ")");
  }

  const std::string af_where = where + ": af";
  LUKSFS_ASSIGN_OR_RETURN(const Json* af, GetObject(j, "af", where));
  LUKSFS_ASSIGN_OR_RETURN(std::string af_type,
                          GetString(*af, "type", af_where));
  if (af_type != "luks1")
    return Bad(af_where, "unknown type " + Quote(af_type));
  LUKSFS_ASSIGN_OR_RETURN(uint64_t stripes,
                          GetInt(*af, "stripes", af_where, 0,
                                 std::numeric_limits<uint32_t>::max()));
  if (stripes != kStripes) {
    return Bad(af_where,
               "stripes " + std::to_string(stripes) + " (only 4000 is valid)");
  }
  ks->stripes = kStripes;
  LUKSFS_ASSIGN_OR_RETURN(ks->af_hash, GetString(*af, "hash", af_where));

  LUKSFS_ASSIGN_OR_RETURN(const Json* kdf, GetObject(j, "kdf", where));
  return ParseKdf(*kdf, where + ": kdf", &ks->kdf);
}

Status ParseSegment(int index, const Json& j, Segment* seg) {
  const std::string where = "segment " + std::to_string(index);
  if (!j.is_object()) return Bad(where, "is not an object");
  seg->index = index;
  LUKSFS_ASSIGN_OR_RETURN(seg->type, GetString(j, "type", where));
  LUKSFS_ASSIGN_OR_RETURN(seg->offset, GetUint64String(j, "offset", where));
  LUKSFS_ASSIGN_OR_RETURN(std::string size, GetString(j, "size", where));
  if (size != "dynamic") {
    LUKSFS_ASSIGN_OR_RETURN(seg->size,
                            ParseLuks2Uint64(size, where + ": 'size'"));
    // cryptsetup refuses the whole header ("Illegal segment size value"):
    // a fixed segment holds at least one sector.
    if (*seg->size == 0) return Bad(where, "size 0 (an empty segment)");
    if (*seg->size > std::numeric_limits<uint64_t>::max() - seg->offset) {
      return Bad(where, "offset + size overflows");
    }
  }
  LUKSFS_ASSIGN_OR_RETURN(seg->flags, GetStringArray(j, "flags", where, false));
  if (seg->offset % 512 != 0) {
    return Bad(where, "offset " + std::to_string(seg->offset) +
                          " is not a multiple of 512");
  }
  if (seg->size && *seg->size % 512 != 0) {
    return Bad(where, "size " + std::to_string(*seg->size) +
                          " is not a multiple of 512");
  }
  if (seg->type != "crypt") return Status();

  LUKSFS_ASSIGN_OR_RETURN(seg->iv_tweak, GetUint64String(j, "iv_tweak", where));
  LUKSFS_ASSIGN_OR_RETURN(seg->encryption, GetString(j, "encryption", where));
  LUKSFS_ASSIGN_OR_RETURN(
      uint64_t ss,
      GetInt(j, "sector_size", where, 0, std::numeric_limits<uint32_t>::max()));
  if (ss != 512 && ss != 1024 && ss != 2048 && ss != 4096) {
    return Bad(where, "sector_size " + std::to_string(ss) +
                          " is not 512, 1024, 2048 or 4096");
  }
  seg->sector_size = static_cast<uint32_t>(ss);
  if (seg->size && *seg->size % ss != 0) {
    return Bad(where, "size " + std::to_string(*seg->size) +
                          " is not a multiple of sector_size " +
                          std::to_string(ss));
  }
  if (j.contains("integrity")) {
    if (!j["integrity"].is_object()) {
      return Bad(where, "'integrity' is not an object");
    }
    seg->has_integrity = true;
  }
  return Status();
}

Status ParseDigest(int index, const Json& j, Digest* d) {
  const std::string where = "digest " + std::to_string(index);
  if (!j.is_object()) return Bad(where, "is not an object");
  d->index = index;
  LUKSFS_ASSIGN_OR_RETURN(d->type, GetString(j, "type", where));
  LUKSFS_ASSIGN_OR_RETURN(
      d->keyslots, GetIndexArray(j, "keyslots", where, kLuks2MaxKeyslots));
  LUKSFS_ASSIGN_OR_RETURN(
      d->segments, GetIndexArray(j, "segments", where, kLuks2MaxSegments));
  if (d->type != "pbkdf2") return Status();
  LUKSFS_ASSIGN_OR_RETURN(d->hash, GetString(j, "hash", where));
  LUKSFS_ASSIGN_OR_RETURN(
      uint64_t it,
      GetInt(j, "iterations", where, 1, std::numeric_limits<uint32_t>::max()));
  d->iterations = static_cast<uint32_t>(it);
  LUKSFS_ASSIGN_OR_RETURN(d->salt, GetBase64(j, "salt", where));
  if (d->salt.size() != kSaltBytes) {
    return Bad(where, "salt is " + std::to_string(d->salt.size()) +
                          " bytes, expected 32");
  }
  LUKSFS_ASSIGN_OR_RETURN(d->value, GetBase64(j, "digest", where));
  if (d->value.size() < 20 || d->value.size() > 64) {
    return Bad(where, "digest is " + std::to_string(d->value.size()) +
                          " bytes, expected 20..64");
  }
  return Status();
}

Status ParseToken(int index, const Json& j, Token* t) {
  const std::string where = "token " + std::to_string(index);
  if (!j.is_object()) return Bad(where, "is not an object");
  t->index = index;
  LUKSFS_ASSIGN_OR_RETURN(t->type, GetString(j, "type", where));
  LUKSFS_ASSIGN_OR_RETURN(
      t->keyslots, GetIndexArray(j, "keyslots", where, kLuks2MaxKeyslots));
  t->json = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  return Status();
}

// Parses every member of the object `section` with `parse`, sorted by index.
template <typename T, typename ParseFn>
Status ParseSection(const Json& root, const char* section, int max,
                    ParseFn parse, std::vector<T>* out) {
  LUKSFS_ASSIGN_OR_RETURN(const Json* obj, GetObject(root, section, "JSON"));
  for (auto it = obj->begin(); it != obj->end(); ++it) {
    LUKSFS_ASSIGN_OR_RETURN(int index, ParseIndex(it.key(), max, section));
    T item;
    LUKSFS_RETURN_IF_ERROR(parse(index, it.value(), &item));
    out->push_back(std::move(item));
  }
  std::sort(out->begin(), out->end(),
            [](const T& a, const T& b) { return a.index < b.index; });
  return Status();
}

// ---- Cross-checks ---------------------------------------------------------

Status CheckKeyslotAreas(const LuksHeader& h) {
  const uint64_t begin = 2 * h.hdr_size;
  const uint64_t end = begin + h.keyslots_size;
  std::vector<const Keyslot*> by_offset;
  for (const Keyslot& ks : h.keyslots) {
    const std::string where = "keyslot " + std::to_string(ks.index);
    if (ks.area_offset < begin || ks.area_size > end ||
        ks.area_offset > end - ks.area_size) {
      return Bad(where, "area [" + std::to_string(ks.area_offset) + ", +" +
                            std::to_string(ks.area_size) +
                            ") is outside the keyslots area [" +
                            std::to_string(begin) + ", " + std::to_string(end) +
                            ")");
    }
    if (ks.area_size > 0) by_offset.push_back(&ks);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Keyslot* a, const Keyslot* b) {
              return a->area_offset < b->area_offset;
            });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Keyslot* prev = by_offset[i - 1];
    const Keyslot* cur = by_offset[i];
    if (prev->area_offset + prev->area_size > cur->area_offset) {
      const Keyslot* hi = prev->index > cur->index ? prev : cur;
      const Keyslot* lo = prev->index > cur->index ? cur : prev;
      return Bad("keyslot " + std::to_string(hi->index),
                 "area overlaps keyslot " + std::to_string(lo->index));
    }
  }
  return Status();
}

bool IsBackupSegment(const Segment& s) {
  for (const std::string& f : s.flags) {
    if (f.rfind("backup-", 0) == 0) return true;
  }
  return false;
}

Status CheckSegments(const LuksHeader& h) {
  std::vector<const Segment*> regular;
  for (size_t i = 0; i < h.segments.size(); ++i) {
    if (h.segments[i].index != static_cast<int>(i)) {
      return Status::Corruption("segments: gap before segment " +
                                std::to_string(h.segments[i].index));
    }
    if (!IsBackupSegment(h.segments[i])) regular.push_back(&h.segments[i]);
  }
  for (size_t i = 0; i + 1 < regular.size(); ++i) {
    if (!regular[i]->size) {
      return Bad("segment " + std::to_string(regular[i]->index),
                 "only the last segment may be dynamic");
    }
  }
  std::vector<const Segment*> by_offset = regular;
  std::sort(
      by_offset.begin(), by_offset.end(),
      [](const Segment* a, const Segment* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Segment* prev = by_offset[i - 1];
    if (!prev->size || prev->offset + *prev->size > by_offset[i]->offset) {
      return Bad("segment " + std::to_string(by_offset[i]->index),
                 "overlaps segment " + std::to_string(prev->index));
    }
  }
  // The keyslots area must end before the data (offset 0: detached header).
  const uint64_t areas_end = 2 * h.hdr_size + h.keyslots_size;
  for (const Segment& s : h.segments) {
    if (s.offset != 0 && s.offset < areas_end) {
      return Bad("segment " + std::to_string(s.index),
                 "offset " + std::to_string(s.offset) +
                     " overlaps the header and keyslots area (ends at " +
                     std::to_string(areas_end) + ")");
    }
  }
  return Status();
}

Status CheckReferences(LuksHeader* h) {
  for (const Digest& d : h->digests) {
    const std::string where = "digest " + std::to_string(d.index);
    for (int k : d.keyslots) {
      if (!FindByIndex(h->keyslots, k)) {
        return Bad(where, "references missing keyslot " + std::to_string(k));
      }
    }
    for (int s : d.segments) {
      if (!FindByIndex(h->segments, s)) {
        return Bad(where, "references missing segment " + std::to_string(s));
      }
    }
  }
  for (const Token& t : h->tokens) {
    for (int k : t.keyslots) {
      if (!FindByIndex(h->keyslots, k)) {
        return Bad("token " + std::to_string(t.index),
                   "references missing keyslot " + std::to_string(k));
      }
    }
  }
  const Digest* seg0_digest = nullptr;
  for (const Segment& s : h->segments) {
    const Digest* found = nullptr;
    for (const Digest& d : h->digests) {
      if (std::find(d.segments.begin(), d.segments.end(), s.index) !=
          d.segments.end()) {
        found = &d;
        break;
      }
    }
    if (s.type == "crypt" && !found) {
      return Bad("segment " + std::to_string(s.index), "has no digest");
    }
    if (s.index == 0) seg0_digest = found;
  }
  h->key_bytes = 0;
  if (seg0_digest) {
    // Prefer a password keyslot; reencryption slots store no volume key.
    for (int pass = 0; pass < 2 && h->key_bytes == 0; ++pass) {
      for (int k : seg0_digest->keyslots) {
        const Keyslot* ks = FindByIndex(h->keyslots, k);
        if (ks && (pass == 1 || ks->type == "luks2")) {
          h->key_bytes = ks->key_bytes;
          break;
        }
      }
    }
  }
  return Status();
}

Status ParseConfig(const Json& root, uint64_t hdr_size, LuksHeader* h) {
  const char* where = "config";
  LUKSFS_ASSIGN_OR_RETURN(const Json* config,
                          GetObject(root, "config", "JSON"));
  LUKSFS_ASSIGN_OR_RETURN(uint64_t json_size,
                          GetUint64String(*config, "json_size", where));
  if (json_size != hdr_size - kBinHeaderSize) {
    return Bad(where, "json_size " + std::to_string(json_size) +
                          " does not match the header (" +
                          std::to_string(hdr_size - kBinHeaderSize) + ")");
  }
  LUKSFS_ASSIGN_OR_RETURN(h->keyslots_size,
                          GetUint64String(*config, "keyslots_size", where));
  if (h->keyslots_size % 4096 != 0 ||
      h->keyslots_size > kLuks2MaxKeyslotsSize) {
    return Bad(where, "keyslots_size " + std::to_string(h->keyslots_size) +
                          " is not 4096-aligned or exceeds 128 MiB");
  }
  LUKSFS_ASSIGN_OR_RETURN(h->config_flags,
                          GetStringArray(*config, "flags", where, false));
  h->requirements.clear();
  if (config->contains("requirements")) {
    LUKSFS_ASSIGN_OR_RETURN(const Json* req,
                            GetObject(*config, "requirements", where));
    LUKSFS_ASSIGN_OR_RETURN(
        h->requirements,
        GetStringArray(*req, "mandatory", "config: requirements", false));
  }
  return Status();
}

Status ParseDocument(const Json& root, uint64_t hdr_size, LuksHeader* h) {
  if (!root.is_object()) return Status::Corruption("JSON: not an object");
  h->version = 2;
  h->hdr_size = hdr_size;
  h->keyslots.clear();
  h->segments.clear();
  h->digests.clear();
  h->tokens.clear();
  LUKSFS_RETURN_IF_ERROR(ParseConfig(root, hdr_size, h));
  LUKSFS_RETURN_IF_ERROR(ParseSection<Keyslot>(
      root, "keyslots", kLuks2MaxKeyslots, ParseKeyslot, &h->keyslots));
  LUKSFS_RETURN_IF_ERROR(ParseSection<Segment>(
      root, "segments", kLuks2MaxSegments, ParseSegment, &h->segments));
  LUKSFS_RETURN_IF_ERROR(ParseSection<Digest>(root, "digests", kLuks2MaxDigests,
                                              ParseDigest, &h->digests));
  LUKSFS_RETURN_IF_ERROR(ParseSection<Token>(root, "tokens", kLuks2MaxTokens,
                                             ParseToken, &h->tokens));
  LUKSFS_RETURN_IF_ERROR(CheckKeyslotAreas(*h));
  LUKSFS_RETURN_IF_ERROR(CheckSegments(*h));
  return CheckReferences(h);
}

}  // namespace

Result<uint64_t> ParseLuks2Uint64(std::string_view text,
                                  std::string_view what) {
  if (text.empty()) {
    return Status::Corruption(std::string(what) + ": empty number");
  }
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return Status::Corruption(std::string(what) + ": " + Quote(text) +
                                " is not a decimal number");
    }
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return Status::Corruption(std::string(what) +
                                ": number overflows 64 bits");
    }
    v = v * 10 + digit;
  }
  return v;
}

Status ParseLuks2Json(std::span<const uint8_t> json_area, uint64_t hdr_size,
                      LuksHeader* out) {
  if (hdr_size < kBinHeaderSize ||
      json_area.size() != hdr_size - kBinHeaderSize) {
    return Status::Corruption(
        "JSON area is " + std::to_string(json_area.size()) +
        " bytes, header size " + std::to_string(hdr_size) + " disagrees");
  }
  try {
    LUKSFS_ASSIGN_OR_RETURN(size_t len, ScanJsonArea(json_area));
    const char* text = reinterpret_cast<const char*>(json_area.data());
    // parse() throws parse_error (caught below) with the failing byte.
    Json root = Json::parse(text, text + len);
    LUKSFS_RETURN_IF_ERROR(ParseDocument(root, hdr_size, out));
    out->json.assign(text, len);
    return Status();
  } catch (const Json::parse_error& e) {
    return Status::Corruption("JSON area: malformed JSON at byte " +
                              std::to_string(e.byte));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("JSON area: out of memory");
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("JSON area: ") + e.what());
  } catch (...) {
    return Status::Corruption("JSON area: unexpected error");
  }
}

}  // namespace luksfs::crypto
