#include "fs/partition_table.h"

#include <cstring>

namespace luksfs::fs {

namespace {

constexpr uint64_t kSector = 512;
constexpr uint32_t kMaxGptEntries = 1024;

uint32_t Le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
         uint32_t(p[3]) << 24;
}
uint64_t Le64(const uint8_t* p) { return Le32(p) | uint64_t(Le32(p + 4)) << 32; }

// CRC-32 (IEEE 802.3, reflected, as GPT uses).
uint32_t Crc32(const uint8_t* p, size_t n) {
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1)));
  }
  return ~c;
}

Status Bad(const std::string& what) {
  return Status::Corruption("partition table: " + what);
}

// Checks and adds one partition of `first`, `count` sectors.
Status Add(PartitionTable* t, int number, uint64_t first, uint64_t count,
           uint64_t disk_size) {
  if (count == 0) return Status::Ok();
  if (first == 0 || first > disk_size / kSector ||
      count > disk_size / kSector - first) {
    return Bad("partition " + std::to_string(number) +
               " lies outside the disk");
  }
  t->partitions.push_back({number, first * kSector, count * kSector});
  return Status::Ok();
}

Result<PartitionTable> ReadGpt(const DiskReader& read, uint64_t disk_size) {
  if (disk_size < 3 * kSector) return Bad("disk too small for GPT");
  uint8_t h[kSector];
  LUKSFS_RETURN_IF_ERROR(read(kSector, h));
  if (std::memcmp(h, "EFI PART", 8) != 0) return Bad("no GPT header at LBA 1");
  const uint32_t header_size = Le32(h + 12);
  if (header_size < 92 || header_size > kSector) return Bad("bad GPT header size");
  uint8_t copy[kSector];
  std::memcpy(copy, h, header_size);
  std::memset(copy + 16, 0, 4);
  if (Crc32(copy, header_size) != Le32(h + 16)) return Bad("GPT header CRC mismatch");
  const uint64_t entries_lba = Le64(h + 72);
  const uint32_t count = Le32(h + 80);
  const uint32_t entry_size = Le32(h + 84);
  if (count > kMaxGptEntries) return Bad("too many GPT entries");
  if (entry_size < 128 || entry_size > 4096 || entry_size % 8 != 0) {
    return Bad("bad GPT entry size");
  }
  const uint64_t bytes = uint64_t(count) * entry_size;
  if (entries_lba < 2 || entries_lba > disk_size / kSector ||
      bytes > disk_size - entries_lba * kSector) {
    return Bad("GPT entry array lies outside the disk");
  }
  std::vector<uint8_t> entries(bytes);
  LUKSFS_RETURN_IF_ERROR(read(entries_lba * kSector, entries));
  if (Crc32(entries.data(), entries.size()) != Le32(h + 88)) {
    return Bad("GPT entry array CRC mismatch");
  }
  PartitionTable t;
  t.scheme = "gpt";
  t.metadata = {{0, 2 * kSector}, {entries_lba * kSector, bytes}};
  static const uint8_t kUnused[16] = {};
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* e = entries.data() + uint64_t(i) * entry_size;
    if (std::memcmp(e, kUnused, 16) == 0) continue;
    const uint64_t first = Le64(e + 32), last = Le64(e + 40);
    if (last < first) return Bad("GPT entry " + std::to_string(i + 1) + " ends before it starts");
    LUKSFS_RETURN_IF_ERROR(Add(&t, int(i + 1), first, last - first + 1, disk_size));
  }
  return t;
}

}  // namespace

Result<PartitionTable> ReadPartitionTable(const DiskReader& read,
                                          uint64_t disk_size) {
  if (disk_size < kSector) return Bad("disk smaller than one sector");
  uint8_t mbr[kSector];
  LUKSFS_RETURN_IF_ERROR(read(0, mbr));
  if (mbr[510] != 0x55 || mbr[511] != 0xAA) return Bad("no MBR signature (55 AA)");
  for (int i = 0; i < 4; ++i) {
    if (mbr[446 + 16 * i + 4] == 0xEE) return ReadGpt(read, disk_size);
  }
  PartitionTable t;
  t.scheme = "mbr";
  t.metadata = {{0, kSector}};
  for (int i = 0; i < 4; ++i) {
    const uint8_t* e = mbr + 446 + 16 * i;
    if (e[4] == 0) continue;
    LUKSFS_RETURN_IF_ERROR(Add(&t, i + 1, Le32(e + 8), Le32(e + 12), disk_size));
    if (!t.partitions.empty() && t.partitions.back().number == i + 1) {
      t.partitions.back().mbr_type = e[4];
    }
  }
  return t;
}

Result<Partition> FindPartition(const PartitionTable& table, int number) {
  std::string have;
  for (const Partition& p : table.partitions) {
    if (p.number == number) return p;
    have += (have.empty() ? "" : ", ") + std::to_string(p.number);
  }
  return Status::NotFound("no partition " + std::to_string(number) + " in the " +
                          table.scheme + " table (it has: " +
                          (have.empty() ? "none" : have) + ")");
}

}  // namespace luksfs::fs
