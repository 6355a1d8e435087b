// The convert pipeline, compare and OutputFile on real files: a raw SRC
// encrypted into a DST data area decrypts (with an independent SectorCipher)
// to SRC; a raw DST is sparse; an uncommitted OutputFile leaves nothing;
// compare finds the first differing byte and accepts zero tails.
#include "fs/prep/convert.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "crypto/sector_cipher.h"
#include "fs/prep/compare.h"
#include "fs/storage/file_storage.h"

namespace luksfs::fs::prep {
namespace {

class PrepFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/prep_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Path(const std::string& n) const { return dir_ + "/" + n; }
  void Write(const std::string& n, const std::vector<uint8_t>& b) {
    std::ofstream(Path(n), std::ios::binary)
        .write(reinterpret_cast<const char*>(b.data()), b.size());
  }
  std::vector<uint8_t> ReadAll(const std::string& n) {
    std::ifstream in(Path(n), std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
  }
  PlainImage Raw(const std::string& n) {
    auto st = FileStorage::Open(Path(n), false);
    EXPECT_TRUE(st.ok()) << st.status().ToString();
    PlainImage img;
    img.size = (*st)->Size();
    img.storage = std::move(st).value();
    return img;
  }
  std::string dir_;
};

std::vector<uint8_t> Pattern(size_t n, unsigned seed) {
  std::mt19937 r(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(r());
  return v;
}

TEST_F(PrepFiles, EncryptsIntoTheDataAreaWithSectorIvs) {
  const uint64_t size = 3 * (1 << 20) + 4096 * 5;  // not a multiple of the chunk
  const auto plain = Pattern(size, 1);
  Write("src", plain);
  PlainImage src = Raw("src");
  const std::vector<uint8_t> key = Pattern(64, 9);  // XTS halves must differ
  auto engine = crypto::CryptEngine::Create("aes-xts-plain64", key, 4096, {});
  ASSERT_TRUE(engine.ok());
  auto out = OutputFile::Create(Path("dst"), false);
  ASSERT_TRUE(out.ok());
  const uint64_t data = 65536;
  ASSERT_TRUE((*out)->Truncate(data + size).ok());
  ConvertTarget t{out->get(), data, engine->get()};
  ConvertOptions o;
  o.chunk_bytes = 1 << 20;
  o.depth = 3;
  uint64_t last = 0;
  o.progress = [&](uint64_t d) { last = d; };
  auto r = ConvertPlain(src, t, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(last, size);
  EXPECT_FALSE(PathExists(Path("dst")));  // not before Commit
  ASSERT_TRUE((*out)->Commit().ok());
  auto img = ReadAll("dst");
  ASSERT_EQ(img.size(), data + size);
  auto ref = crypto::SectorCipher::Create("aes-xts-plain64", key, 4096);
  ASSERT_TRUE(ref.ok());
  std::vector<uint8_t> dec(size);
  Status ds = (*ref)->Decrypt(0, {img.data() + data, size}, dec);
  ASSERT_TRUE(ds.ok()) << ds.ToString();
  EXPECT_EQ(dec, plain);
}

TEST_F(PrepFiles, RawDestinationIsSparseAndExact) {
  std::vector<uint8_t> plain(4 << 20, 0);
  auto a = Pattern(70000, 2);
  std::copy(a.begin(), a.end(), plain.begin() + 3 * 65536 + 5);
  plain.back() = 1;
  Write("src", plain);
  PlainImage src = Raw("src");
  auto out = OutputFile::Create(Path("dst"), false);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE((*out)->Truncate(plain.size()).ok());
  auto r = ConvertPlain(src, ConvertTarget{out->get(), 0, nullptr}, ConvertOptions{});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_LE(r->written, 4u * 65536);  // two data blocks (+ one spanning) and the last
  ASSERT_TRUE((*out)->Commit().ok());
  EXPECT_EQ(ReadAll("dst"), plain);
  struct stat st;
  ASSERT_EQ(stat(Path("dst").c_str(), &st), 0);
  EXPECT_LT(uint64_t(st.st_blocks) * 512, uint64_t{1} << 20);
}

TEST_F(PrepFiles, UncommittedOutputLeavesNothing) {
  {
    auto out = OutputFile::Create(Path("x"), false);
    ASSERT_TRUE(out.ok());
    ASSERT_TRUE((*out)->WriteAt(0, std::vector<uint8_t>(10, 1)).ok());
  }
  EXPECT_FALSE(PathExists(Path("x")));
  EXPECT_TRUE(ReadAll("x").empty());
  Write("y", {1, 2, 3});
  EXPECT_FALSE(OutputFile::Create(Path("y"), false).ok());
  auto forced = OutputFile::Create(Path("y"), true);
  ASSERT_TRUE(forced.ok());
  ASSERT_TRUE((*forced)->WriteAt(0, std::vector<uint8_t>{9}).ok());
  ASSERT_TRUE((*forced)->Commit().ok());
  EXPECT_EQ(ReadAll("y"), std::vector<uint8_t>{9});
}

TEST_F(PrepFiles, CompareFindsTheFirstDifferenceAndZeroTails) {
  auto p = Pattern(9 << 20, 3);
  Write("a", p);
  auto q = p;
  q[8 * (1 << 20) + 12345] ^= 1;
  Write("b", q);
  auto longer = p;
  longer.resize(p.size() + 70000, 0);
  Write("c", longer);
  PlainImage a = Raw("a"), b = Raw("b"), c = Raw("c");
  auto r = ComparePlain(a, b, false, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->identical);
  EXPECT_EQ(r->first_difference, 8u * (1 << 20) + 12345);
  r = ComparePlain(a, c, false, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->identical);
  EXPECT_TRUE(r->size_mismatch);
  r = ComparePlain(a, c, true, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->identical);
  longer.back() = 7;
  Write("c", longer);
  PlainImage c2 = Raw("c");
  r = ComparePlain(c2, a, false, nullptr);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->identical);
  EXPECT_EQ(r->first_difference, longer.size() - 1);
}

}  // namespace
}  // namespace luksfs::fs::prep
