// libFuzzer target: ReadPartitionTable over arbitrary disk bytes, and the
// partition files of the view made from what it returns.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fs/partition_table.h"
#include "fs/partition_view.h"

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
    // Every file lies in the view, off the table's own sectors, and a
    // request through it never leaves its window.
    for (const auto& f : luksfs::fs::PartitionFiles(*t, "disk.raw", size, nullptr)) {
      const auto& w = f.window;
      if (w.length == 0 || w.offset + w.length > size) __builtin_trap();
      for (const auto& m : t->metadata) {
        if (w.offset < m.offset + m.length && m.offset < w.offset + w.length) {
          __builtin_trap();
        }
      }
      for (uint64_t off : {uint64_t{0}, w.length - 1, w.length, ~uint64_t{0}}) {
        const auto r = luksfs::fs::ClipToWindow(w, off, 1 << 20);
        if (r.length != 0 && (r.offset < w.offset ||
                              r.offset + r.length > w.offset + w.length)) {
          __builtin_trap();
        }
      }
    }
    (void)luksfs::fs::TouchesPartitionTable(0, 512, size, t->metadata);
  }
  return 0;
}
