#include "fs/partition_view.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

namespace luksfs::fs {
namespace {

using std::chrono::milliseconds;

constexpr uint64_t kMiB = 1 << 20;

TEST(PartitionViewTest, ClipInsideAcrossAndPastTheEnd) {
  const ViewWindow w{1 * kMiB, 4096};
  ByteRange r = ClipToWindow(w, 0, 512);
  EXPECT_EQ(r.offset, 1 * kMiB);
  EXPECT_EQ(r.length, 512u);
  r = ClipToWindow(w, 4000, 512);  // crosses the end: short
  EXPECT_EQ(r.offset, 1 * kMiB + 4000);
  EXPECT_EQ(r.length, 96u);
  r = ClipToWindow(w, 4096, 512);  // at the end: nothing (EOF / ENOSPC)
  EXPECT_EQ(r.length, 0u);
  EXPECT_EQ(r.offset, 1 * kMiB + 4096);
  r = ClipToWindow(w, UINT64_MAX - 10, 100);  // far past it, no overflow
  EXPECT_EQ(r.length, 0u);
  r = ClipToWindow(w, 100, UINT64_MAX);  // huge length: to the end
  EXPECT_EQ(r.length, 4096u - 100);
  // The whole view is the window (0, size): the clip is the view's own.
  r = ClipToWindow({0, 8192}, 8000, 1000);
  EXPECT_EQ(r.offset, 8000u);
  EXPECT_EQ(r.length, 192u);
}

TEST(PartitionViewTest, SeekStaysInTheWindow) {
  const ViewWindow w{1000, 500};
  // Data in the window: file offset.
  EXPECT_EQ(SeekInWindow(w, true, 1200), std::optional<uint64_t>(200));
  EXPECT_EQ(SeekInWindow(w, false, 1499), std::optional<uint64_t>(499));
  // The next data is in another partition: none here.
  EXPECT_EQ(SeekInWindow(w, true, 1500), std::nullopt);
  EXPECT_EQ(SeekInWindow(w, true, std::nullopt), std::nullopt);
  // The next hole is past the window: the file's end.
  EXPECT_EQ(SeekInWindow(w, false, 9000), std::optional<uint64_t>(500));
  EXPECT_EQ(SeekInWindow(w, false, std::nullopt), std::optional<uint64_t>(500));
  // A view that answers before the window (never should): clamped.
  EXPECT_EQ(SeekInWindow(w, true, 10), std::optional<uint64_t>(0));
}

PartitionTable Gpt(std::vector<Partition> parts) {
  PartitionTable t;
  t.scheme = "gpt";
  t.partitions = std::move(parts);
  t.metadata = {{0, 1024}, {1024, 128 * 128}};
  return t;
}

TEST(PartitionViewTest, FilesAreNamedByTheTableNumbers) {
  PartitionTable t = Gpt({{1, 1 * kMiB, 8 * kMiB}, {3, 9 * kMiB, 16 * kMiB}});
  std::vector<std::string> skipped;
  auto files = PartitionFiles(t, "disk.raw", 64 * kMiB, &skipped);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].name, "disk.raw.p1");
  EXPECT_EQ(files[0].window, (ViewWindow{1 * kMiB, 8 * kMiB}));
  EXPECT_EQ(files[1].name, "disk.raw.p3");
  EXPECT_EQ(files[1].number, 3);
  EXPECT_TRUE(skipped.empty());
  EXPECT_EQ(PartitionFiles(t, "vm.img", 64 * kMiB, nullptr)[1].name, "vm.img.p3");
}

TEST(PartitionViewTest, PartitionsOverTheTableOrOutsideGetNoFile) {
  PartitionTable t = Gpt({{1, 512, 8 * kMiB},          // over the GPT header
                          {2, 16 * 1024, 4096},        // over the entry array
                          {3, 17408, 4096},            // just after it: fine
                          {4, 60 * kMiB, 8 * kMiB},    // past the view's end
                          {3, 32 * kMiB, 4096}});      // number twice
  std::vector<std::string> skipped;
  auto files = PartitionFiles(t, "disk.raw", 64 * kMiB, &skipped);
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0].number, 3);
  EXPECT_EQ(files[0].window.offset, 17408u);
  ASSERT_EQ(skipped.size(), 4u);
  EXPECT_EQ(skipped[0], "no disk.raw.p1: it overlaps the partition table's own sectors");
  EXPECT_EQ(skipped[2], "no disk.raw.p4: it does not lie inside the view");
  EXPECT_EQ(skipped[3], "no disk.raw.p3: its number appears twice");
}

TEST(PartitionViewTest, MbrExtendedPartitionsGetNoFile) {
  PartitionTable t;
  t.scheme = "mbr";
  t.metadata = {{0, 512}};
  t.partitions = {{1, 1 * kMiB, 4 * kMiB, 0x83},
                  {2, 5 * kMiB, 8 * kMiB, 0x05},
                  {3, 13 * kMiB, 8 * kMiB, 0x0f},
                  {4, 21 * kMiB, 8 * kMiB, 0x07}};
  std::vector<std::string> skipped;
  auto files = PartitionFiles(t, "disk.raw", 64 * kMiB, &skipped);
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(files[0].number, 1);
  EXPECT_EQ(files[1].number, 4);
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_EQ(skipped[0], "no disk.raw.p2: it is an MBR extended partition "
                        "(logical partitions get no file)");
}

TEST(PartitionViewTest, WritesThatTriggerARereadOfTheTable) {
  const uint64_t size = 64 * kMiB;
  const std::vector<ByteRange> none;
  EXPECT_TRUE(TouchesPartitionTable(0, 512, size, none));            // MBR
  EXPECT_TRUE(TouchesPartitionTable(512, 512, size, none));          // GPT header
  EXPECT_TRUE(TouchesPartitionTable(33 * 512, 1, size, none));       // last entry sector
  EXPECT_FALSE(TouchesPartitionTable(34 * 512, 4096, size, none));   // first usable LBA
  EXPECT_TRUE(TouchesPartitionTable(30 * 512, 1 * kMiB, size, none));  // a write across it
  EXPECT_FALSE(TouchesPartitionTable(1 * kMiB, 1 * kMiB, size, none));
  EXPECT_TRUE(TouchesPartitionTable(size - 512, 512, size, none));   // backup header
  EXPECT_TRUE(TouchesPartitionTable(size - 33 * 512, 512, size, none));
  EXPECT_FALSE(TouchesPartitionTable(size - 34 * 512, 512, size, none));
  EXPECT_FALSE(TouchesPartitionTable(0, 0, size, none));             // empty write
  // The current table's entry array somewhere else on the disk.
  const std::vector<ByteRange> moved = {{0, 1024}, {8 * kMiB, 16384}};
  EXPECT_TRUE(TouchesPartitionTable(8 * kMiB + 16383, 1, size, moved));
  EXPECT_FALSE(TouchesPartitionTable(8 * kMiB + 16384, 1, size, moved));
  // A view smaller than the head and tail areas.
  EXPECT_TRUE(TouchesPartitionTable(100, 1, 4096, none));
}

TEST(PartitionViewTest, FlushWaitsForTheRereadOfEveryEarlierWrite) {
  RescanSignal s;
  EXPECT_TRUE(s.WaitServed(s.requested(), milliseconds(0)));  // nothing asked
  const uint64_t g1 = s.Request();
  const uint64_t g2 = s.Request();  // before the reader woke: one re-read
  EXPECT_FALSE(s.WaitServed(g2, milliseconds(1)));
  std::thread reader([&] {
    std::optional<uint64_t> g = s.WaitForRequest();
    ASSERT_TRUE(g.has_value());
    EXPECT_EQ(*g, g2);
    std::this_thread::sleep_for(milliseconds(20));
    s.Served(*g);
  });
  EXPECT_TRUE(s.WaitServed(g1, std::chrono::seconds(10)));
  EXPECT_TRUE(s.WaitServed(g2, milliseconds(0)));
  reader.join();
  // A request made while nobody reads: flush gives up after its timeout,
  // and at once after Stop().
  const uint64_t g3 = s.Request();
  EXPECT_FALSE(s.WaitServed(g3, milliseconds(5)));
  std::thread stopper([&] { s.Stop(); });
  EXPECT_FALSE(s.WaitServed(g3, std::chrono::seconds(30)));
  stopper.join();
  EXPECT_EQ(s.WaitForRequest(), std::nullopt);
}

}  // namespace
}  // namespace luksfs::fs
