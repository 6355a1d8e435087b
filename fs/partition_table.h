// Partition tables (MBR and GPT) of a whole-disk image, to find the byte
// range of partition N: `--partition N` opens a LUKS header that sits in a
// partition of a larger disk image.
//
// MBR: the four primary entries (numbers 1-4; extended partitions are
// listed but their logical partitions are not read). A protective MBR
// (type 0xEE) means GPT: the header at LBA 1 and its entry array (numbers
// 1..N in array order, unused entries skipped). Sectors of 512 bytes.
// The GPT header and entry-array CRC32s are checked (as the UEFI
// specification, section 5.3, requires).
//
// The bytes are untrusted: every field is checked against the disk size
// and the limits below; errors are kCorruption naming the field, or
// kNotFound for a partition number that is not in the table.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace luksfs::fs {

struct Partition {
  int number = 0;       // 1-based, as sfdisk and the kernel number them
  uint64_t offset = 0;  // bytes from the start of the disk
  uint64_t size = 0;    // bytes
  uint8_t mbr_type = 0;  // MBR: the entry's type byte (0x05: extended); GPT: 0
};

// Bytes of the disk the table was read from.
struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct PartitionTable {
  std::string scheme;  // "mbr" or "gpt"
  std::vector<Partition> partitions;
  // Where the table itself lies (MBR: sector 0; GPT: LBA 0-1 and the entry
  // array): bytes whose change can change what ReadPartitionTable returns.
  std::vector<ByteRange> metadata;
};

// Reads `dst.size()` bytes at `offset` of the disk.
using DiskReader = std::function<Status(uint64_t offset, std::span<uint8_t> dst)>;

Result<PartitionTable> ReadPartitionTable(const DiskReader& read,
                                          uint64_t disk_size);

// Partition `number` of the table, or kNotFound listing the numbers there.
Result<Partition> FindPartition(const PartitionTable& table, int number);

}  // namespace luksfs::fs
