// Partition files inside the view: the arithmetic of a file that is a
// window (offset, length) onto the one plaintext view, which partitions of
// a table become files, when a write to the whole view asks for the table
// to be read again, and the signal between the writers and the thread that
// reads it.
//
// Units: bytes of the plaintext view. A window lies inside the view.
// Thread-safety: the free functions are pure; RescanSignal is thread-safe.
// Errors: none here; the callers turn an empty clip into EOF / ENOSPC.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fs/partition_table.h"

namespace luksfs::fs {

// A file of the mount: bytes [offset, offset + length) of the view.
struct ViewWindow {
  uint64_t offset = 0;
  uint64_t length = 0;
  bool operator==(const ViewWindow&) const = default;
};

// The part of a request for file bytes [off, off + len) that lies in the
// window, in VIEW coordinates: `offset` = window.offset + off, `length`
// clipped to the window's end (0 when off is at or past the end; `offset`
// is then the window's end).
ByteRange ClipToWindow(const ViewWindow& w, uint64_t off, uint64_t len);

// SEEK_DATA / SEEK_HOLE of a file from the answer of the whole view:
// `view_result` is the view offset the view's seek returned for
// window.offset + off (nullopt: none, the view's ENXIO). Returns the file
// offset, or nullopt for ENXIO. A hole at or past the window's end is the
// file's end (the hole every file ends with); data past it is none.
std::optional<uint64_t> SeekInWindow(const ViewWindow& w, bool want_data,
                                     std::optional<uint64_t> view_result);

// One file per partition of `table`, in the table's order.
struct PartitionFile {
  int number = 0;
  std::string name;  // base + ".p" + number: disk.raw.p1
  ViewWindow window;
};

// The files for `table` on a view of `view_size` bytes whose whole file is
// named `base`. An MBR extended partition (its logical partitions are not
// read) gets no file, nor does a partition that overlaps the table's own sectors
// (table.metadata), or does not lie inside the view, gets no file: writing
// through a partition file must never change the table. Each one left out
// is described in `skipped` (if not null), for a log line.
std::vector<PartitionFile> PartitionFiles(const PartitionTable& table,
                                          const std::string& base,
                                          uint64_t view_size,
                                          std::vector<std::string>* skipped);

// Sectors a new table is read from, wherever it appears: LBA 0-33 (MBR,
// GPT header, and a GPT entry array of 128 entries of 128 bytes) and the
// last 33 sectors (the GPT backup entries and header).
constexpr uint64_t kTableHeadBytes = 34 * 512;
constexpr uint64_t kTableTailBytes = 33 * 512;

// True if a write of view bytes [off, off + len) can change the table:
// it overlaps the head or tail sectors above, or `current` (the metadata
// ranges of the table read last). An empty write touches nothing.
bool TouchesPartitionTable(uint64_t off, uint64_t len, uint64_t view_size,
                           const std::vector<ByteRange>& current);

// Writers ask for a re-read; one reader thread serves the requests; flush
// waits until every request made before it has been served. Requests made
// while a re-read runs are served by the next one (generations).
class RescanSignal {
 public:
  // A write touched the table: returns the generation to wait for.
  uint64_t Request();
  // The newest generation requested (0: none yet).
  uint64_t requested() const;

  // The reader: blocks until a request newer than the last one served
  // arrives (returns its generation) or Stop() (returns nullopt).
  std::optional<uint64_t> WaitForRequest();
  // The reader served every request up to `generation`.
  void Served(uint64_t generation);

  // True once every request up to `generation` is served; false after
  // `timeout`, or once stopped (nothing will serve it).
  bool WaitServed(uint64_t generation, std::chrono::milliseconds timeout);

  void Stop();

 private:
  mutable std::mutex mu_;        // guards the three fields below
  std::condition_variable cv_;   // any change of them
  uint64_t requested_ = 0;
  uint64_t served_ = 0;
  bool stopped_ = false;
};

}  // namespace luksfs::fs
