// The raw container and the image layer's opening steps, on files made
// here (the LUKS parsing itself is tested in crypto/ and end to end).
#include "fs/image/image.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fs/image/container.h"

namespace luksfs::fs {
namespace {

class TempFile {
 public:
  explicit TempFile(const std::vector<uint8_t>& bytes) {
    char tmpl[] = "/tmp/luksfs-image-test-XXXXXX";
    int fd = mkstemp(tmpl);
    EXPECT_GE(fd, 0);
    path_ = tmpl;
    EXPECT_EQ(write(fd, bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
    close(fd);
  }
  ~TempFile() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

crypto::LuksHeader HeaderWithSegment(uint64_t offset, uint32_t ss) {
  crypto::LuksHeader h;
  crypto::Segment seg;
  seg.type = "crypt";
  seg.offset = offset;
  seg.encryption = "aes-xts-plain64";
  seg.sector_size = ss;
  seg.iv_tweak = 5;
  h.segments.push_back(seg);
  return h;
}

// A qcow2 magic over garbage reaches the qcow2 parser, which refuses the
// header as corrupt (an image problem: exit 3).
TEST(ImageTest, QcowMagicIsRefusedAsAnImageProblem) {
  std::vector<uint8_t> q(4096, 0);
  std::memcpy(q.data(), "QFI\xfb", 4);
  TempFile f(q);
  ImageStep step = ImageStep::kKms;
  auto img = OpenImage(f.path(), false, {}, {}, &step);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(step, ImageStep::kImage);
  EXPECT_EQ(img.status().code(), Status::Code::kCorruption);
  EXPECT_NE(img.status().message().find("qcow2"), std::string::npos);
}

TEST(ImageTest, MissingFileIsAStorageStepFailure) {
  ImageStep step = ImageStep::kKms;
  auto img = OpenImage("/nonexistent/luksfs/x.img", false, {}, {}, &step);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(step, ImageStep::kStorage);
}

TEST(ImageTest, GarbageIsAnImageStepFailure) {
  TempFile f(std::vector<uint8_t>(8192, 0x42));
  ImageStep step = ImageStep::kKms;
  auto img = OpenImage(f.path(), false, {}, {}, &step);
  ASSERT_FALSE(img.ok());
  EXPECT_EQ(step, ImageStep::kImage);
  EXPECT_EQ(img.status().code(), Status::Code::kCorruption);
}

TEST(RawContainerTest, RegionIsTheStorageAndTheMapIsLinear) {
  std::vector<uint8_t> bytes(64 * 1024);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 13);
  TempFile f(bytes);
  auto st = OpenStorage(f.path(), true, {});
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  auto c = OpenContainer(st->get(), true, {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_STREQ((*c)->format(), "raw");
  EXPECT_EQ((*c)->luks_region_size(), bytes.size());
  uint8_t b[4];
  ASSERT_TRUE((*c)->ReadLuks(1000, b).ok());
  EXPECT_EQ(b[0], static_cast<uint8_t>(1000 * 13));
  EXPECT_EQ((*c)->ReadLuks(bytes.size() - 2, b).code(), Status::Code::kCorruption);
  const uint8_t w[3] = {1, 2, 3};
  ASSERT_TRUE((*c)->WriteLuks(10, w).ok());
  ASSERT_TRUE((*c)->ReadLuks(10, std::span<uint8_t>(b, 3)).ok());
  EXPECT_EQ(b[2], 3);
  EXPECT_FALSE((*c)->WriteLuks(bytes.size() - 1, w).ok());
  ASSERT_TRUE((*c)->Flush().ok());
  ASSERT_EQ((*c)->Facts().size(), 1u);

  auto map = (*c)->OpenMap(HeaderWithSegment(16384, 4096), true);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ((*map)->Size(), bytes.size() - 16384);
  EXPECT_EQ((*map)->unit_size(), 4096u);
  std::vector<Extent> ext;
  ASSERT_TRUE((*map)->Map(4096, 4096, &ext).ok());
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(ext[0].host_offset, 16384u + 4096);
  EXPECT_EQ(ext[0].iv_sector, 5u + 8);
  // A segment past the end of the image is corrupt.
  EXPECT_EQ((*c)->OpenMap(HeaderWithSegment(1 << 20, 512), false).status().code(),
            Status::Code::kCorruption);
}

TEST(RawContainerTest, ReadOnlyContainerRefusesWrites) {
  TempFile f(std::vector<uint8_t>(8192, 0));
  auto st = OpenStorage(f.path(), false, {});
  ASSERT_TRUE(st.ok());
  auto c = OpenRawContainer(st->get(), false);
  ASSERT_TRUE(c.ok());
  const uint8_t w[1] = {1};
  EXPECT_EQ((*c)->WriteLuks(0, w).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ((*c)->OpenMap(HeaderWithSegment(4096, 512), true).status().code(),
            Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace luksfs::fs
