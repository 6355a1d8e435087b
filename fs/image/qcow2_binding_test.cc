// The luksfs KMS record in a qcow2 header extension: crafted headers for
// the planner (length stability, the two-step grow, removal, no room) and
// every torn mix of old and new header sectors, which must still parse;
// then a qemu-img-made image edited through the container and checked by
// qemu-img.
#include "fs/image/qcow2_binding.h"

#include <gtest/gtest.h>

#include <cstring>

#include "fs/image/qcow2_test_util.h"
#include "fs/storage/file_storage.h"

namespace luksfs::fs::qcow2 {
namespace {

using fs::testing::MakeImage;
using fs::testing::QemuCheck;
using fs::testing::Sh;
using fs::testing::TempDir;

constexpr uint64_t kFile = 4 << 20;

// A valid v3 LUKS header with clusters of 2^bits bytes: refcount table at
// cluster 1, L1 at cluster 3, LUKS header from cluster 4 on; extensions:
// FDE, then `unknown` (if set) as a 5-byte extension.
std::vector<uint8_t> Header0(uint32_t bits, bool unknown) {
  const uint64_t cs = uint64_t{1} << bits;
  std::vector<uint8_t> b(cs, 0);
  uint8_t* p = b.data();
  StoreBe32(p, kMagic);
  StoreBe32(p + 4, 3);
  StoreBe32(p + 20, bits);
  StoreBe64(p + 24, 1ULL << 20);
  StoreBe32(p + 32, kCryptLuks);
  const uint64_t l2_span = cs * (cs / 8);
  StoreBe32(p + 36, static_cast<uint32_t>(((1ULL << 20) + l2_span - 1) / l2_span));
  StoreBe64(p + 40, 3 * cs);
  StoreBe64(p + 48, cs);
  StoreBe32(p + 56, 1);
  StoreBe32(p + 96, 4);
  StoreBe32(p + 100, 104);
  StoreBe32(p + 104, kExtFde);
  StoreBe32(p + 108, 16);
  StoreBe64(p + 112, 4 * cs);
  StoreBe64(p + 120, 0x1000);
  if (unknown) {
    StoreBe32(p + 128, 0x12345678);
    StoreBe32(p + 132, 5);
    std::memcpy(p + 136, "hello", 5);
  }
  return b;
}

Header Parsed(const std::vector<uint8_t>& b) {
  Result<Header> h = ParseHeader(b, kFile);
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.ok() ? *h : Header();
}

std::optional<std::string> Record(const std::vector<uint8_t>& b) {
  Result<std::optional<std::string>> r = BindingRecord(Parsed(b));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::nullopt;
}

// Applies `steps` to `disk` (as writes at offset 0) and returns each state.
std::vector<std::vector<uint8_t>> Apply(std::vector<uint8_t>* disk,
                                        const std::vector<std::vector<uint8_t>>& steps) {
  std::vector<std::vector<uint8_t>> states{*disk};
  for (const auto& s : steps) {
    std::copy(s.begin(), s.end(), disk->begin());
    states.push_back(*disk);
  }
  return states;
}

// Every mix of 512-byte sectors of `a` and `b` (over the first `n` sectors)
// parses, and the extension chain is intact: the record is absent, or a
// record (possibly torn text) exists.
void ExpectEveryTornMixParses(const std::vector<uint8_t>& a,
                              const std::vector<uint8_t>& b) {
  size_t n = 0;
  for (size_t s = 0; s * 512 < a.size(); ++s) {
    if (std::memcmp(a.data() + s * 512, b.data() + s * 512, 512) != 0) n = s + 1;
  }
  ASSERT_LE(n, 12u);
  for (uint32_t mask = 0; mask < (1u << n); ++mask) {
    std::vector<uint8_t> mix = a;
    for (size_t s = 0; s < n; ++s) {
      if (mask & (1u << s)) std::memcpy(mix.data() + s * 512, b.data() + s * 512, 512);
    }
    Result<Header> h = ParseHeader(mix, kFile);
    EXPECT_TRUE(h.ok()) << "mask " << mask << ": " << h.status().ToString();
  }
}

TEST(Qcow2BindingTest, NoRecordAndAdd) {
  auto disk = Header0(16, true);
  EXPECT_FALSE(Record(disk).has_value());
  auto steps = PlanBindingWrites(Parsed(disk), std::string_view("{\"a\":1}"));
  ASSERT_TRUE(steps.ok()) << steps.status().ToString();
  ASSERT_EQ(steps->size(), 1u);
  EXPECT_EQ((*steps)[0].size() % 512, 0u);
  const auto old = disk;
  Apply(&disk, *steps);
  EXPECT_EQ(Record(disk), std::optional<std::string>("{\"a\":1}"));
  // Everything before the record (fixed header, FDE, the unknown one) is
  // byte for byte the same, and the unknown extension is kept.
  EXPECT_EQ(std::memcmp(old.data(), disk.data(), 144), 0);
  Header h = Parsed(disk);
  ASSERT_EQ(h.extensions.size(), 3u);
  EXPECT_EQ(h.extensions[1].type, 0x12345678u);
  EXPECT_EQ(h.extensions[2].type, kExtLuksfsKms);
  EXPECT_EQ(h.fde_offset, 4u << 16);
  // Removing an absent record writes nothing.
  auto none = PlanBindingWrites(Parsed(old), std::nullopt);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(Qcow2BindingTest, ReplaceIsLengthStableAndGrowTakesTwoSteps) {
  auto disk = Header0(16, false);
  const std::string big(300, 'x'), small = "{\"b\":2}", bigger(700, 'y');
  Apply(&disk, *PlanBindingWrites(Parsed(disk), std::string_view(big)));
  const uint64_t len300 = Parsed(disk).extensions.back().data.size();
  EXPECT_EQ(len300, 304u);

  auto steps = PlanBindingWrites(Parsed(disk), std::string_view(small));
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->size(), 1u);
  auto before = disk;
  Apply(&disk, *steps);
  EXPECT_EQ(Record(disk), std::optional<std::string>(small));
  EXPECT_EQ(Parsed(disk).extensions.back().data.size(), len300);  // NUL padded
  ExpectEveryTornMixParses(before, disk);

  steps = PlanBindingWrites(Parsed(disk), std::string_view(bigger));
  ASSERT_TRUE(steps.ok());
  ASSERT_EQ(steps->size(), 2u);
  auto states = Apply(&disk, *steps);
  EXPECT_EQ(Record(states[1]), std::optional<std::string>(small));  // old text, new length
  EXPECT_EQ(Parsed(states[1]).extensions.back().data.size(), 704u);
  EXPECT_EQ(Record(states[2]), std::optional<std::string>(bigger));
  ExpectEveryTornMixParses(states[0], states[1]);
  ExpectEveryTornMixParses(states[1], states[2]);
}

TEST(Qcow2BindingTest, RemoveLastOrBlankInPlace) {
  auto disk = Header0(16, false);
  Apply(&disk, *PlanBindingWrites(Parsed(disk), std::string_view("{\"c\":3}")));
  auto before = disk;
  Apply(&disk, *PlanBindingWrites(Parsed(disk), std::nullopt));
  EXPECT_EQ(Parsed(disk).extensions.size(), 1u);  // FDE only
  EXPECT_FALSE(Record(disk).has_value());
  ExpectEveryTornMixParses(before, disk);
  // The stale bytes are zeroed, not left behind.
  for (size_t i = 128; i < 512; ++i) ASSERT_EQ(disk[i], 0) << i;

  // Not the last extension (another tool's after it): blanked in place.
  Header h = Parsed(before);
  h.extensions.push_back({0x77777777, {1, 2, 3}});
  auto with_after = *SerializeHeader(h);
  with_after.resize(65536, 0);
  auto steps = PlanBindingWrites(Parsed(with_after), std::nullopt);
  ASSERT_TRUE(steps.ok());
  Apply(&with_after, *steps);
  Header after = Parsed(with_after);
  ASSERT_EQ(after.extensions.size(), 3u);
  EXPECT_EQ(after.extensions[2].type, 0x77777777u);
  EXPECT_FALSE(Record(with_after).has_value());
}

TEST(Qcow2BindingTest, NoRoomInA512ByteCluster) {
  auto disk = Header0(9, false);
  // 512 - 128 (header + FDE) - 8 (end) = 376 free: 368 bytes of text fit.
  auto fits = PlanBindingWrites(Parsed(disk), std::string_view(std::string(360, 'a')));
  EXPECT_TRUE(fits.ok()) << fits.status().ToString();
  auto no = PlanBindingWrites(Parsed(disk), std::string_view(std::string(400, 'a')));
  ASSERT_FALSE(no.ok());
  EXPECT_EQ(no.status().code(), Status::Code::kResourceExhausted);
  EXPECT_NE(no.status().message().find("512-byte qcow2 header cluster"),
            std::string::npos) << no.status().ToString();
  EXPECT_NE(no.status().message().find("4 KiB"), std::string::npos);
}

TEST(Qcow2BindingTest, MalformedRecords) {
  Header h = Parsed(Header0(16, false));
  h.extensions.push_back({kExtLuksfsKms, {'{', 0, '}', 0}});
  Result<std::optional<std::string>> r = BindingRecord(h);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("NUL"), std::string::npos);
  h.extensions.back().data.assign(16, 0);  // blank: no binding
  r = BindingRecord(h);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  EXPECT_FALSE(PlanBindingWrites(h, std::string_view("")).ok());
  EXPECT_FALSE(PlanBindingWrites(h, std::string_view("a\0b", 3)).ok());
}

// A qemu-img-made image: the container writes the record; qemu-img check
// is clean, qemu-img amend and resize keep it.
TEST(Qcow2BindingTest, RealImageThroughTheContainer) {
  TempDir dir;
  const std::string img = dir / "b.qcow2";
  MakeImage(img, "8M", "");
  const std::string json = "{\"type\":\"luksfs-kms\",\"x\":\"" +
                           std::string(100, 'z') + "\"}";
  {
    auto st = FileStorage::Open(img, true);
    ASSERT_TRUE(st.ok());
    auto c = OpenQcow2(st->get(), true, ContainerOptions());
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    ASSERT_TRUE((*c)->KeepsBindingRecord());
    ASSERT_TRUE((*c)->WriteBindingRecord(json).ok());
    auto r = (*c)->BindingRecord();
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, std::optional<std::string>(json));
  }
  std::string out;
  EXPECT_EQ(QemuCheck(img, &out), 0) << out;
  ASSERT_EQ(Sh(std::string("qemu-img amend ") + fs::testing::kSecretObj +
               " --image-opts " + fs::testing::ImageOpts(img) +
               " -o lazy_refcounts=on", &out), 0) << out;
  ASSERT_EQ(Sh(std::string("qemu-img resize ") + fs::testing::kSecretObj +
               " --image-opts " + fs::testing::ImageOpts(img) + " 16M", &out),
            0) << out;
  auto st = FileStorage::Open(img, false);
  ASSERT_TRUE(st.ok());
  auto c = OpenQcow2(st->get(), false, ContainerOptions());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto r = (*c)->BindingRecord();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, std::optional<std::string>(json));
  EXPECT_FALSE((*c)->WriteBindingRecord(std::nullopt).ok());  // read-only
}

}  // namespace
}  // namespace luksfs::fs::qcow2
