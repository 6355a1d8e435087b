// qcow2 on-disk format: parsing of the header, its extensions and the
// L1/L2/refcount entries, from untrusted bytes (qcow2 specification,
// docs/interop/qcow2.txt in qemu).
//
// Everything here is pure: no I/O, no allocation bigger than the input.
// A malformed image yields kCorruption naming the field (or the table and
// index); a well-formed feature luksfs refuses yields kNotSupported naming
// it (backing file, external data file, legacy AES, unknown incompatible
// bits, compressed clusters).
//
// Units: every offset and length is in BYTES from the start of the image
// file; "cluster" counts are the header's cluster units. All integers on
// disk are big-endian.
// Thread-safety: plain values and reentrant functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace luksfs::fs::qcow2 {

inline constexpr uint32_t kMagic = 0x514649fb;  // "QFI\xfb"
inline constexpr uint32_t kExtEnd = 0;
inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureTable = 0x6803f857;
inline constexpr uint32_t kExtBitmaps = 0x23852875;
inline constexpr uint32_t kExtFde = 0x0537be77;
inline constexpr uint32_t kExtDataFile = 0x44415441;

inline constexpr uint64_t kIncompatDirty = 1u << 0;
inline constexpr uint64_t kIncompatCorrupt = 1u << 1;
inline constexpr uint64_t kIncompatDataFile = 1u << 2;
inline constexpr uint64_t kIncompatCompression = 1u << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1u << 4;
inline constexpr uint64_t kIncompatKnown = 0x1f;
inline constexpr uint64_t kCompatLazyRefcounts = 1u << 0;

inline constexpr uint32_t kCryptNone = 0;
inline constexpr uint32_t kCryptAes = 1;
inline constexpr uint32_t kCryptLuks = 2;

// Bits 9..55 of L1/L2/refcount-table entries hold a host offset.
inline constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ULL;
inline constexpr uint64_t kFlagCopied = 1ULL << 63;      // refcount is 1
inline constexpr uint64_t kFlagCompressed = 1ULL << 62;  // L2 only
inline constexpr uint64_t kFlagZero = 1ULL << 0;         // L2, v3, standard

// Implementation limits (qemu's, so every qemu image opens): L1 table at
// most 32 MiB, refcount table at most 8 MiB.
inline constexpr uint64_t kMaxL1Bytes = 32ULL << 20;
inline constexpr uint64_t kMaxRefcountTableBytes = 8ULL << 20;
// The header and its extensions must lie in the first cluster; we read at
// most this many bytes of it.
inline constexpr uint64_t kMaxHeaderBytes = 2ULL << 20;

struct Extension {
  uint32_t type = 0;
  std::vector<uint8_t> data;  // as on disk, without padding
};

struct Header {
  uint32_t version = 0;               // 2 or 3
  uint64_t backing_file_offset = 0;
  uint32_t backing_file_size = 0;
  std::string backing_file;           // the name, if any (for messages)
  uint32_t cluster_bits = 0;          // 9..21
  uint64_t size = 0;                  // virtual size, bytes
  uint32_t crypt_method = 0;          // kCrypt*
  uint32_t l1_size = 0;               // entries
  uint64_t l1_table_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  // v3 (zero for v2).
  uint64_t incompatible_features = 0;
  uint64_t compatible_features = 0;
  uint64_t autoclear_features = 0;
  uint32_t refcount_order = 4;        // v2: always 4
  uint32_t header_length = 72;        // v2: always 72
  uint8_t compression_type = 0;       // byte 104 if present
  // The bytes between the fixed fields (104) and header_length, kept so a
  // rewrite preserves unknown additional fields.
  std::vector<uint8_t> extra_fields;

  // Every extension in file order (the end marker excluded), known and
  // unknown, as bytes: a rewrite keeps them.
  std::vector<Extension> extensions;
  bool has_fde = false;
  uint64_t fde_offset = 0;            // LUKS header clusters, bytes
  uint64_t fde_length = 0;

  uint64_t cluster_size() const { return 1ULL << cluster_bits; }
  bool extended_l2() const {
    return (incompatible_features & kIncompatExtendedL2) != 0;
  }
  bool dirty() const { return (incompatible_features & kIncompatDirty) != 0; }
  bool corrupt() const {
    return (incompatible_features & kIncompatCorrupt) != 0;
  }
  uint32_t refcount_bits() const { return 1u << refcount_order; }
  // L2 entries per table (8-byte, or 16-byte with extended L2).
  uint64_t l2_entries() const {
    return cluster_size() / (extended_l2() ? 16 : 8);
  }
  // Refcount entries per refcount block.
  uint64_t refcount_block_entries() const {
    return cluster_size() * 8 / refcount_bits();
  }
  uint64_t refcount_table_entries() const {
    return uint64_t{refcount_table_clusters} * cluster_size() / 8;
  }
  // Subcluster size (== cluster size without extended L2).
  uint64_t subcluster_size() const {
    return extended_l2() ? cluster_size() / 32 : cluster_size();
  }
};

// cluster_bits from the first 24 bytes, validated (9..21), so the caller
// knows how much of the first cluster to read. Errors: kCorruption.
Result<uint32_t> PeekClusterBits(std::span<const uint8_t> bytes);

// Parses `bytes` (the start of the file: the first cluster, or the whole
// file if smaller, at most kMaxHeaderBytes) of a file of `file_size` bytes.
// Checks every field's bounds against the file; refuses a backing file
// (naming it), an external data file, legacy AES, unknown incompatible
// bits (naming them). crypt_method 0 parses (the caller decides).
// Errors: kCorruption, kNotSupported.
Result<Header> ParseHeader(std::span<const uint8_t> bytes, uint64_t file_size);

// The header (fixed fields, extra fields, extensions, end marker) as it
// would be written at offset 0, zero-padded to 8. Fails with
// kResourceExhausted if it does not fit in one cluster.
Result<std::vector<uint8_t>> SerializeHeader(const Header& h);

// One guest cluster's L2 entry, decoded.
struct L2Entry {
  enum class Type { kUnallocated, kZero, kNormal };
  Type type = Type::kUnallocated;  // of the whole cluster (non-extended)
  uint64_t host_offset = 0;        // cluster-aligned, 0 if none
  bool copied = false;             // bit 63: refcount known to be 1
  // Extended L2: bit i of alloc / zero is subcluster i. For non-extended
  // entries these are synthesised: kNormal = all allocated, kZero = all
  // zero, so callers can use one path.
  uint32_t alloc = 0;
  uint32_t zero = 0;
};

// Decodes the raw entry (and, for extended L2, its bitmap). `where` names
// the entry for messages ("L2 table at 0x50000 index 7"). Checks
// alignment, reserved bits, bitmap consistency; refuses compressed
// clusters. Range checks against the file are the caller's (it knows the
// metadata layout). Errors: kCorruption, kNotSupported.
Result<L2Entry> DecodeL2Entry(const Header& h, uint64_t entry, uint64_t bitmap,
                              const std::string& where);

// Big-endian helpers.
uint64_t LoadBe64(const uint8_t* p);
uint32_t LoadBe32(const uint8_t* p);
void StoreBe64(uint8_t* p, uint64_t v);
void StoreBe32(uint8_t* p, uint32_t v);

// Reads refcount entry `index` of a refcount block (refcount_bits wide,
// sub-byte entries LSB first), and writes one. `block` is one cluster.
uint64_t GetRefcount(std::span<const uint8_t> block, uint32_t order,
                     uint64_t index);
void SetRefcount(std::span<uint8_t> block, uint32_t order, uint64_t index,
                 uint64_t value);

// "0x1f000" for messages.
std::string Hex(uint64_t v);

}  // namespace luksfs::fs::qcow2
