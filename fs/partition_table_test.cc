#include "fs/partition_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace luksfs::fs {
namespace {

struct Disk {
  std::vector<uint8_t> bytes;
  DiskReader reader() const {
    return [this](uint64_t off, std::span<uint8_t> dst) -> Status {
      if (off > bytes.size() || dst.size() > bytes.size() - off) {
        return Status::Corruption("truncated");
      }
      std::memcpy(dst.data(), bytes.data() + off, dst.size());
      return Status::Ok();
    };
  }
};

void PutLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}

Disk MbrDisk(uint64_t sectors) {
  Disk d;
  d.bytes.assign(sectors * 512, 0);
  d.bytes[510] = 0x55;
  d.bytes[511] = 0xAA;
  return d;
}

void SetEntry(Disk* d, int i, uint8_t type, uint32_t first, uint32_t count) {
  uint8_t* e = d->bytes.data() + 446 + 16 * i;
  e[4] = type;
  PutLe32(e + 8, first);
  PutLe32(e + 12, count);
}

TEST(PartitionTableTest, MbrPrimaryEntries) {
  Disk d = MbrDisk(1000);
  SetEntry(&d, 0, 0x83, 100, 200);
  SetEntry(&d, 2, 0x83, 400, 600);  // slot 3, up to the last sector
  auto t = ReadPartitionTable(d.reader(), d.bytes.size());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->scheme, "mbr");
  ASSERT_EQ(t->partitions.size(), 2u);
  auto p = FindPartition(*t, 3);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->offset, 400u * 512);
  EXPECT_EQ(p->size, 600u * 512);
  EXPECT_EQ(p->mbr_type, 0x83);
  ASSERT_EQ(t->metadata.size(), 1u);  // the table lies in sector 0
  EXPECT_EQ(t->metadata[0].offset, 0u);
  EXPECT_EQ(t->metadata[0].length, 512u);
  auto missing = FindPartition(*t, 2);
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_EQ(missing.status().message(), "no partition 2 in the mbr table (it has: 1, 3)");
}

TEST(PartitionTableTest, RefusesEntriesOutsideTheDisk) {
  Disk d = MbrDisk(1000);
  SetEntry(&d, 0, 0x83, 100, 901);  // one sector too many
  EXPECT_EQ(ReadPartitionTable(d.reader(), d.bytes.size()).status().code(),
            Status::Code::kCorruption);
  SetEntry(&d, 0, 0x83, 0xFFFFFFFFu, 0xFFFFFFFFu);  // overflow bait
  EXPECT_EQ(ReadPartitionTable(d.reader(), d.bytes.size()).status().code(),
            Status::Code::kCorruption);
}

TEST(PartitionTableTest, NoSignatureAndProtectiveMbrWithoutGpt) {
  Disk d = MbrDisk(100);
  d.bytes[511] = 0;
  EXPECT_EQ(ReadPartitionTable(d.reader(), d.bytes.size()).status().message(),
            "partition table: no MBR signature (55 AA)");
  d = MbrDisk(100);
  SetEntry(&d, 0, 0xEE, 1, 99);
  EXPECT_EQ(ReadPartitionTable(d.reader(), d.bytes.size()).status().message(),
            "partition table: no GPT header at LBA 1");
  EXPECT_FALSE(ReadPartitionTable(d.reader(), 100).ok());  // smaller than a sector
}

}  // namespace
}  // namespace luksfs::fs
