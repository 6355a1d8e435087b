// libFuzzer target: ReadPartitionTable over arbitrary disk bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fs/partition_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto read = [&](uint64_t off, std::span<uint8_t> dst) -> luksfs::Status {
    if (off > size || dst.size() > size - off) {
      return luksfs::Status::Corruption("truncated");
    }
    std::memcpy(dst.data(), data + off, dst.size());
    return luksfs::Status::Ok();
  };
  auto t = luksfs::fs::ReadPartitionTable(read, size);
  if (t.ok()) {
    for (const auto& p : t->partitions) {
      if (p.offset + p.size > size) __builtin_trap();
    }
    (void)luksfs::fs::FindPartition(*t, 2);
  }
  return 0;
}
