#include "fs/image/qcow2_format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace luksfs::fs::qcow2 {
namespace {

Status Bad(const std::string& what) {
  return Status::Corruption("qcow2 header: " + what);
}

// [a, a+alen) and [b, b+blen) intersect. Lengths > 0, no overflow (the
// callers bounded both ranges by the file size).
bool Overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return a < b + blen && b < a + alen;
}

// Whether [off, off+len) lies inside a file of `file_size` bytes.
bool InFile(uint64_t off, uint64_t len, uint64_t file_size) {
  return off <= file_size && len <= file_size - off;
}

std::string FeatureName(const Header& h, int type, int bit) {
  for (const Extension& e : h.extensions) {
    if (e.type != kExtFeatureTable) continue;
    for (size_t i = 0; i + 48 <= e.data.size(); i += 48) {
      if (e.data[i] == type && e.data[i + 1] == bit) {
        const char* name = reinterpret_cast<const char*>(&e.data[i + 2]);
        std::string s(name, strnlen(name, 46));
        for (char& c : s) {
          if (c < 0x20 || c > 0x7e) c = '?';
        }
        return s;
      }
    }
  }
  return "";
}

}  // namespace

uint64_t LoadBe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | p[3];
}
void StoreBe64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}
void StoreBe32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

Result<uint32_t> PeekClusterBits(std::span<const uint8_t> bytes) {
  if (bytes.size() < 24) return Bad("truncated (fewer than 24 bytes)");
  if (LoadBe32(bytes.data()) != kMagic) return Bad("bad magic");
  const uint32_t bits = LoadBe32(bytes.data() + 20);
  if (bits < 9 || bits > 21) {
    return Bad("cluster_bits " + std::to_string(bits) +
               " is outside 9..21 (512 B to 2 MiB clusters)");
  }
  return bits;
}

Result<Header> ParseHeader(std::span<const uint8_t> bytes,
                           uint64_t file_size) {
  LUKSFS_ASSIGN_OR_RETURN(const uint32_t bits, PeekClusterBits(bytes));
  if (bytes.size() < 72) return Bad("truncated (fewer than 72 bytes)");
  const uint8_t* p = bytes.data();
  Header h;
  h.version = LoadBe32(p + 4);
  if (h.version != 2 && h.version != 3) {
    return Status::NotSupported("qcow2 version " + std::to_string(h.version) +
                                " is not supported (only 2 and 3)");
  }
  h.cluster_bits = bits;
  const uint64_t cs = h.cluster_size();
  h.backing_file_offset = LoadBe64(p + 8);
  h.backing_file_size = LoadBe32(p + 16);
  h.size = LoadBe64(p + 24);
  h.crypt_method = LoadBe32(p + 32);
  h.l1_size = LoadBe32(p + 36);
  h.l1_table_offset = LoadBe64(p + 40);
  h.refcount_table_offset = LoadBe64(p + 48);
  h.refcount_table_clusters = LoadBe32(p + 56);
  h.nb_snapshots = LoadBe32(p + 60);
  h.snapshots_offset = LoadBe64(p + 64);

  // The header and its extensions live in the first cluster.
  const uint64_t limit = std::min<uint64_t>(bytes.size(), cs);
  if (h.version == 3) {
    if (limit < 104) return Bad("truncated (v3 header needs 104 bytes)");
    h.incompatible_features = LoadBe64(p + 72);
    h.compatible_features = LoadBe64(p + 80);
    h.autoclear_features = LoadBe64(p + 88);
    h.refcount_order = LoadBe32(p + 96);
    h.header_length = LoadBe32(p + 100);
    if (h.header_length < 104 || h.header_length % 8 != 0 ||
        h.header_length > limit) {
      return Bad("header_length " + std::to_string(h.header_length) +
                 " is not a multiple of 8 in 104.." + std::to_string(limit));
    }
    if (h.header_length > 104) {
      h.compression_type = p[104];
      h.extra_fields.assign(p + 104, p + h.header_length);
    }
    if (h.refcount_order > 6) {
      return Bad("refcount_order " + std::to_string(h.refcount_order) +
                 " is above 6 (64-bit refcounts)");
    }
  }

  // Header extensions: be32 type, be32 length, data, padding to 8.
  uint64_t off = h.header_length;
  bool ended = false;
  while (off + 8 <= limit) {
    const uint32_t type = LoadBe32(p + off);
    const uint32_t len = LoadBe32(p + off + 4);
    off += 8;
    if (type == kExtEnd) {
      ended = true;
      break;
    }
    if (len > limit - off) {
      return Bad("header extension " + Hex(type) + " of " +
                 std::to_string(len) + " bytes overruns the first cluster");
    }
    for (const Extension& e : h.extensions) {
      if (e.type == type && type != kExtFeatureTable) {
        return Bad("header extension " + Hex(type) + " appears twice");
      }
    }
    h.extensions.push_back({type, std::vector<uint8_t>(p + off, p + off + len)});
    off += (uint64_t{len} + 7) & ~uint64_t{7};
  }
  if (!ended) return Bad("header extensions have no end marker");

  for (const Extension& e : h.extensions) {
    if (e.type != kExtFde) continue;
    if (e.data.size() != 16) {
      return Bad("full disk encryption extension has length " +
                 std::to_string(e.data.size()) + " (must be 16)");
    }
    h.has_fde = true;
    h.fde_offset = LoadBe64(e.data.data());
    h.fde_length = LoadBe64(e.data.data() + 8);
  }

  // Features.
  const uint64_t unknown = h.incompatible_features & ~kIncompatKnown;
  if (unknown != 0) {
    const int bit = __builtin_ctzll(unknown);
    const std::string name = FeatureName(h, 0, bit);
    return Status::NotSupported("qcow2 incompatible feature bit " +
                                std::to_string(bit) +
                                (name.empty() ? "" : " (" + name + ")") +
                                " is not supported");
  }
  if (h.incompatible_features & kIncompatDataFile) {
    return Status::NotSupported(
        "qcow2 with an external data file (data-file) is not supported");
  }
  if (h.extended_l2() && bits < 14) {
    return Bad("extended L2 entries need clusters of at least 16 KiB");
  }
  if (h.backing_file_offset != 0) {
    std::string name = "?";
    if (h.backing_file_size <= 1023 &&
        InFile(h.backing_file_offset, h.backing_file_size, limit)) {
      name.assign(reinterpret_cast<const char*>(p + h.backing_file_offset),
                  h.backing_file_size);
      for (char& c : name) {
        if (c < 0x20 || c > 0x7e) c = '?';
      }
    }
    return Status::NotSupported("qcow2 backing file '" + name +
                                "' is not supported (flatten it first: "
                                "qemu-img convert or rebase -b '')");
  }

  // Encryption.
  if (h.crypt_method == kCryptAes) {
    return Status::NotSupported(
        "legacy qcow2 AES encryption (encrypt.format=aes) is not supported");
  }
  if (h.crypt_method > kCryptLuks) {
    return Status::NotSupported("qcow2 crypt_method " +
                                std::to_string(h.crypt_method) +
                                " is not supported");
  }
  if (h.crypt_method == kCryptLuks && !h.has_fde) {
    return Bad("LUKS encryption without a full disk encryption extension");
  }
  if (h.crypt_method != kCryptLuks && h.has_fde) {
    return Bad("full disk encryption extension without LUKS encryption");
  }
  if (h.has_fde) {
    if (h.fde_offset % cs != 0 || h.fde_offset < cs || h.fde_length < 592 ||
        !InFile(h.fde_offset, h.fde_length, file_size)) {
      return Bad("full disk encryption extension: LUKS header at " +
                 Hex(h.fde_offset) + " length " + Hex(h.fde_length) +
                 " is not a cluster-aligned range inside the file (" +
                 std::to_string(file_size) + " bytes) after the header");
    }
  }

  // L1 table.
  const uint64_t l2_span = cs * h.l2_entries();  // guest bytes per L2 table
  const uint64_t l1_needed = h.size / l2_span + (h.size % l2_span != 0);
  if (uint64_t{h.l1_size} * 8 > kMaxL1Bytes) {
    return Bad("L1 table of " + std::to_string(h.l1_size) +
               " entries is larger than 32 MiB");
  }
  if (h.l1_size < l1_needed) {
    return Bad("L1 table of " + std::to_string(h.l1_size) +
               " entries is too small for a virtual size of " +
               std::to_string(h.size) + " bytes");
  }
  const uint64_t l1_bytes = uint64_t{h.l1_size} * 8;
  if (h.l1_size > 0 &&
      (h.l1_table_offset % cs != 0 || h.l1_table_offset < cs ||
       !InFile(h.l1_table_offset, l1_bytes, file_size))) {
    return Bad("L1 table at " + Hex(h.l1_table_offset) + " (" +
               std::to_string(l1_bytes) +
               " bytes) is not cluster-aligned inside the file after the "
               "header");
  }

  // Refcount table.
  const uint64_t rt_bytes = uint64_t{h.refcount_table_clusters} * cs;
  if (h.refcount_table_clusters == 0 || rt_bytes > kMaxRefcountTableBytes) {
    return Bad("refcount table of " +
               std::to_string(h.refcount_table_clusters) +
               " clusters is empty or larger than 8 MiB");
  }
  if (h.refcount_table_offset % cs != 0 || h.refcount_table_offset < cs ||
      !InFile(h.refcount_table_offset, rt_bytes, file_size)) {
    return Bad("refcount table at " + Hex(h.refcount_table_offset) +
               " is not cluster-aligned inside the file after the header");
  }
  if (h.nb_snapshots > 0 && h.snapshots_offset % cs != 0) {
    return Bad("snapshot table at " + Hex(h.snapshots_offset) +
               " is not cluster-aligned");
  }

  // The fixed metadata areas must not overlap one another.
  if (h.l1_size > 0 && Overlaps(h.l1_table_offset, l1_bytes,
                                h.refcount_table_offset, rt_bytes)) {
    return Bad("the L1 table overlaps the refcount table");
  }
  if (h.has_fde) {
    if (h.l1_size > 0 &&
        Overlaps(h.l1_table_offset, l1_bytes, h.fde_offset, h.fde_length)) {
      return Bad("the L1 table overlaps the LUKS header clusters");
    }
    if (Overlaps(h.refcount_table_offset, rt_bytes, h.fde_offset,
                 h.fde_length)) {
      return Bad("the refcount table overlaps the LUKS header clusters");
    }
  }
  return h;
}

Result<std::vector<uint8_t>> SerializeHeader(const Header& h) {
  const uint64_t fixed = h.version == 2 ? 72 : 104 + h.extra_fields.size();
  uint64_t total = fixed;
  for (const Extension& e : h.extensions) {
    total += 8 + ((e.data.size() + 7) & ~size_t{7});
  }
  total += 8;  // end marker
  if (total > h.cluster_size()) {
    return Status::ResourceExhausted("qcow2 header of " +
                                     std::to_string(total) +
                                     " bytes does not fit in one cluster");
  }
  std::vector<uint8_t> out(total, 0);
  uint8_t* p = out.data();
  StoreBe32(p, kMagic);
  StoreBe32(p + 4, h.version);
  StoreBe64(p + 8, h.backing_file_offset);
  StoreBe32(p + 16, h.backing_file_size);
  StoreBe32(p + 20, h.cluster_bits);
  StoreBe64(p + 24, h.size);
  StoreBe32(p + 32, h.crypt_method);
  StoreBe32(p + 36, h.l1_size);
  StoreBe64(p + 40, h.l1_table_offset);
  StoreBe64(p + 48, h.refcount_table_offset);
  StoreBe32(p + 56, h.refcount_table_clusters);
  StoreBe32(p + 60, h.nb_snapshots);
  StoreBe64(p + 64, h.snapshots_offset);
  if (h.version == 3) {
    StoreBe64(p + 72, h.incompatible_features);
    StoreBe64(p + 80, h.compatible_features);
    StoreBe64(p + 88, h.autoclear_features);
    StoreBe32(p + 96, h.refcount_order);
    StoreBe32(p + 100, static_cast<uint32_t>(fixed));
    std::copy(h.extra_fields.begin(), h.extra_fields.end(), p + 104);
  }
  uint64_t off = fixed;
  for (const Extension& e : h.extensions) {
    StoreBe32(p + off, e.type);
    StoreBe32(p + off + 4, static_cast<uint32_t>(e.data.size()));
    std::copy(e.data.begin(), e.data.end(), p + off + 8);
    off += 8 + ((e.data.size() + 7) & ~size_t{7});
  }
  return out;  // the end marker is the zeroed last 8 bytes
}

Result<L2Entry> DecodeL2Entry(const Header& h, uint64_t entry, uint64_t bitmap,
                              const std::string& where) {
  L2Entry out;
  if (entry & kFlagCompressed) {
    return Status::NotSupported(
        where + ": compressed cluster (compression and encryption cannot be "
                "combined; qcow2 compressed clusters are not supported)");
  }
  out.copied = (entry & kFlagCopied) != 0;
  out.host_offset = entry & kOffsetMask;
  const bool ext = h.extended_l2();
  // Reserved bits 1..8 and 56..61 (bit 0 too with extended L2 or v2).
  const uint64_t reserved = 0x3f000000000001feULL |
                            ((ext || h.version == 2) ? kFlagZero : 0);
  if (entry & reserved) {
    return Status::Corruption(where + ": reserved bits set in L2 entry " +
                              Hex(entry));
  }
  if (out.host_offset % h.cluster_size() != 0) {
    return Status::Corruption(where + ": host offset " +
                              Hex(out.host_offset) + " is not cluster-aligned");
  }
  if (ext) {
    out.alloc = static_cast<uint32_t>(bitmap);
    out.zero = static_cast<uint32_t>(bitmap >> 32);
    if (out.alloc & out.zero) {
      return Status::Corruption(where + ": subclusters both allocated and "
                                        "zero (bitmap " + Hex(bitmap) + ")");
    }
    if (out.alloc != 0 && out.host_offset == 0) {
      return Status::Corruption(where + ": allocated subclusters without a "
                                        "host cluster");
    }
    out.type = out.alloc ? L2Entry::Type::kNormal
               : out.zero ? L2Entry::Type::kZero
                          : L2Entry::Type::kUnallocated;
    return out;
  }
  if (entry & kFlagZero) {
    out.type = L2Entry::Type::kZero;
    out.zero = ~0u;
  } else if (out.host_offset != 0) {
    out.type = L2Entry::Type::kNormal;
    out.alloc = ~0u;
  } else {
    if (out.copied) {
      return Status::Corruption(where + ": host offset 0 with the copied "
                                        "flag (external data files only)");
    }
    out.type = L2Entry::Type::kUnallocated;
  }
  return out;
}

uint64_t GetRefcount(std::span<const uint8_t> block, uint32_t order,
                     uint64_t index) {
  const uint32_t bits = 1u << order;
  if (bits < 8) {
    const uint64_t bit = index * bits;
    const uint8_t byte = block[bit / 8];
    return (byte >> (bit % 8)) & ((1u << bits) - 1);
  }
  const uint32_t bytes = bits / 8;
  uint64_t v = 0;
  const uint8_t* p = block.data() + index * bytes;
  for (uint32_t i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

void SetRefcount(std::span<uint8_t> block, uint32_t order, uint64_t index,
                 uint64_t value) {
  const uint32_t bits = 1u << order;
  if (bits < 8) {
    const uint64_t bit = index * bits;
    const uint8_t mask = static_cast<uint8_t>(((1u << bits) - 1) << (bit % 8));
    uint8_t& byte = block[bit / 8];
    byte = static_cast<uint8_t>((byte & ~mask) |
                                ((value << (bit % 8)) & mask));
    return;
  }
  const uint32_t bytes = bits / 8;
  uint8_t* p = block.data() + index * bytes;
  for (int i = static_cast<int>(bytes) - 1; i >= 0; --i, value >>= 8) {
    p[i] = static_cast<uint8_t>(value);
  }
}

}  // namespace luksfs::fs::qcow2
