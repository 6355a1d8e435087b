// The new-header writers, checked by the project's strict reader and by
// unlocking the keyslot they wrote. cryptsetup checks the same output in
// tests/integration/prep_create.sh.
#include "crypto/luks2_writer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <unistd.h>

#include "crypto/keyslot_unlock.h"
#include "crypto/luks_header.h"
#include "crypto/test_util.h"

namespace luksfs::crypto {
namespace {

using testing::Bytes;
using testing::Random;

// The image the writes make, as a sparse byte vector of `size` bytes.
std::vector<uint8_t> Apply(const NewLuksHeader& h, uint64_t size) {
  std::vector<uint8_t> img(size, 0);
  for (const ImageWrite& w : h.writes) {
    EXPECT_LE(w.offset + w.bytes.size(), size);
    std::memcpy(img.data() + w.offset, w.bytes.data(), w.bytes.size());
  }
  return img;
}

ReadFn Reader(const std::vector<uint8_t>& img) {
  return [&img](uint64_t off, std::span<uint8_t> dst) -> Status {
    if (off + dst.size() > img.size()) return Status::Corruption("truncated");
    std::memcpy(dst.data(), img.data() + off, dst.size());
    return Status();
  };
}

NewLuksSpec Pbkdf2Spec() {
  NewLuksSpec s;
  s.kdf.type = KdfType::kPbkdf2;
  s.kdf.hash = "sha256";
  s.kdf.iterations = 1000;
  return s;
}

TEST(Luks2WriterTest, DefaultLayoutRoundTrips) {
  const auto vk = Random(64);
  const auto pass = Bytes("correct horse");
  NewLuksSpec spec = Pbkdf2Spec();
  spec.label = "data";
  auto h = FormatLuks2(spec, pass, vk);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->data_offset, 16u << 20);
  ASSERT_EQ(h->writes.size(), 3u);
  EXPECT_EQ(h->writes[0].offset, 32768u);  // keyslot 0 material
  EXPECT_EQ(h->writes[1].offset, 16384u);  // secondary copy first
  EXPECT_EQ(h->writes[2].offset, 0u);
  const uint64_t size = h->data_offset + (1 << 20);
  const auto img = Apply(*h, size);
  auto hdr = ReadLuksHeader(Reader(img), size);
  ASSERT_TRUE(hdr.ok()) << hdr.status().ToString();
  EXPECT_TRUE(hdr->primary_valid);
  EXPECT_TRUE(hdr->secondary_valid);
  EXPECT_EQ(hdr->uuid, h->uuid);
  EXPECT_EQ(hdr->label, "data");
  EXPECT_EQ(hdr->seqid, 1u);
  EXPECT_EQ(hdr->keyslots_size, (16u << 20) - 32768);
  ASSERT_TRUE(CheckMountable(*hdr).ok());
  auto layout = ComputeDataLayout(*hdr, size);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->offset, 16u << 20);
  EXPECT_EQ(layout->sector_size, 4096u);
  EXPECT_EQ(layout->size, 1u << 20);
  auto key = UnlockKeyslot(*hdr, Reader(img), pass, std::nullopt, {});
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_TRUE(key->volume_key.Equals(vk));
  EXPECT_FALSE(UnlockKeyslot(*hdr, Reader(img), Bytes("wrong"), std::nullopt, {})
                   .ok());
}

TEST(Luks2WriterTest, Argon2idAnd256BitKeyAnd512Sectors) {
  const auto vk = Random(32);
  const auto pass = Bytes("pw");
  NewLuksSpec spec;
  spec.key_bytes = 32;
  spec.sector_size = 512;
  spec.kdf.type = KdfType::kArgon2id;
  spec.kdf.iterations = 4;
  spec.kdf.memory_kib = 64;
  spec.kdf.cpus = 2;
  spec.uuid = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";
  auto h = FormatLuks2(spec, pass, vk);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  const uint64_t size = h->data_offset + 4096;
  const auto img = Apply(*h, size);
  auto hdr = ReadLuksHeader(Reader(img), size);
  ASSERT_TRUE(hdr.ok()) << hdr.status().ToString();
  EXPECT_EQ(hdr->uuid, spec.uuid);
  EXPECT_EQ(hdr->keyslots[0].kdf.type, KdfType::kArgon2id);
  EXPECT_EQ(hdr->segments[0].sector_size, 512u);
  auto key = UnlockKeyslot(*hdr, Reader(img), pass, std::nullopt, {});
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_TRUE(key->volume_key.Equals(vk));
}

TEST(Luks2WriterTest, RefusesBadSpecs) {
  const auto vk = Random(64);
  const auto pass = Bytes("pw");
  NewLuksSpec s = Pbkdf2Spec();
  s.sector_size = 768;
  EXPECT_EQ(FormatLuks2(s, pass, vk).status().code(), Status::Code::kInvalidArgument);
  s = Pbkdf2Spec();
  s.label = std::string(48, 'x');
  EXPECT_FALSE(FormatLuks2(s, pass, vk).ok());
  s = Pbkdf2Spec();
  s.uuid = "not-a-uuid";
  EXPECT_FALSE(FormatLuks2(s, pass, vk).ok());
  s = Pbkdf2Spec();
  s.cipher = "rot13-ecb";
  EXPECT_FALSE(FormatLuks2(s, pass, vk).ok());
  s = Pbkdf2Spec();
  s.data_offset = 40000;  // not aligned
  EXPECT_FALSE(FormatLuks2(s, pass, vk).ok());
  s = Pbkdf2Spec();
  EXPECT_FALSE(FormatLuks2(s, pass, Random(32)).ok());  // key size mismatch
}

TEST(Luks1CreateTest, CryptsetupLayoutRoundTrips) {
  const auto vk = Random(64);
  const auto pass = Bytes("pw1");
  NewLuksSpec spec = Pbkdf2Spec();
  spec.sector_size = 512;
  auto h = FormatLuks1(spec, pass, vk);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->data_offset, 4096u * 512);  // as cryptsetup: 2 MiB
  EXPECT_EQ(h->writes[0].offset, 8u * 512);
  const uint64_t size = h->data_offset + 8192;
  const auto img = Apply(*h, size);
  auto hdr = ReadLuksHeader(Reader(img), size);
  ASSERT_TRUE(hdr.ok()) << hdr.status().ToString();
  EXPECT_EQ(hdr->version, 1);
  EXPECT_EQ(hdr->uuid, h->uuid);
  auto key = UnlockKeyslot(*hdr, Reader(img), pass, std::nullopt, {});
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  EXPECT_TRUE(key->volume_key.Equals(vk));
  spec.kdf.type = KdfType::kArgon2id;
  EXPECT_FALSE(FormatLuks1(spec, pass, vk).ok());
}

TEST(Luks2WriterTest, RandomUuidIsVersion4) {
  auto u = RandomUuid();
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(IsUuidText(*u));
  EXPECT_EQ((*u)[14], '4');
}

// cryptsetup, the reference implementation, must accept what we write:
// luksDump, open --test-passphrase, and the volume key it dumps.
void CheckWithCryptsetup(const NewLuksHeader& h, uint64_t size,
                         const std::vector<uint8_t>& vk, const std::string& pw) {
  if (std::system("command -v cryptsetup >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "cryptsetup not installed";
  }
  char dir[] = "/tmp/luks2w.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string d = dir, img = d + "/img", pwf = d + "/pw", vkf = d + "/vk";
  const auto bytes = Apply(h, size);
  std::ofstream(img, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  std::ofstream(pwf, std::ios::binary) << pw;
  const std::string q = " >/dev/null 2>&1";
  EXPECT_EQ(0, std::system(("cryptsetup luksDump " + img + q).c_str()));
  EXPECT_EQ(0, std::system(("cryptsetup open --test-passphrase --key-file " +
                            pwf + " " + img + q).c_str()));
  ASSERT_EQ(0, std::system(("cryptsetup luksDump -q --dump-volume-key "
                            "--key-file " + pwf + " --volume-key-file " + vkf +
                            " " + img + q).c_str()));
  std::ifstream in(vkf, std::ios::binary);
  std::vector<uint8_t> got((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(got, vk);
  std::system(("rm -rf " + d).c_str());
}

TEST(Luks2WriterTest, CryptsetupAcceptsLuks2) {
  const auto vk = Random(64);
  auto h = FormatLuks2(Pbkdf2Spec(), Bytes("pw-l2"), vk);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  CheckWithCryptsetup(*h, h->data_offset + 65536, vk, "pw-l2");
}

TEST(Luks2WriterTest, CryptsetupAcceptsLuks2Argon2i) {
  const auto vk = Random(32);
  NewLuksSpec s;
  s.key_bytes = 32;
  s.kdf.type = KdfType::kArgon2i;
  s.kdf.iterations = 4;
  s.kdf.memory_kib = 32;
  s.kdf.cpus = 1;
  s.label = "lbl";
  auto h = FormatLuks2(s, Bytes("pw-a"), vk);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  CheckWithCryptsetup(*h, h->data_offset + 65536, vk, "pw-a");
}

TEST(Luks1CreateTest, CryptsetupAcceptsLuks1) {
  const auto vk = Random(64);
  NewLuksSpec s = Pbkdf2Spec();
  s.sector_size = 512;
  auto h = FormatLuks1(s, Bytes("pw-l1"), vk);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  CheckWithCryptsetup(*h, h->data_offset + 65536, vk, "pw-l1");
}

}  // namespace
}  // namespace luksfs::crypto
