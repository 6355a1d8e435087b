// PlainImage through the image layer (container + BlockMap + Volume), on a
// raw LUKS2 image made here: the same plaintext as an independent
// SectorCipher decryption, for aligned and unaligned reads.
#include "fs/prep/plain_image.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "crypto/luks2_writer.h"
#include "crypto/sector_cipher.h"

namespace luksfs::fs::prep {
namespace {

TEST(PlainImageTest, ThroughTheContainerMatchesTheCipher) {
  std::mt19937 rng(4);
  std::vector<uint8_t> vk(64), plain(1 << 20);
  for (auto& b : vk) b = static_cast<uint8_t>(rng());
  for (auto& b : plain) b = static_cast<uint8_t>(rng());
  const std::vector<uint8_t> pass = {'p', 'w'};
  crypto::NewLuksSpec spec;
  spec.kdf.type = crypto::KdfType::kPbkdf2;
  spec.kdf.hash = "sha256";
  spec.kdf.iterations = 1000;
  auto h = crypto::FormatLuks2(spec, pass, vk);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  std::vector<uint8_t> img(h->data_offset + plain.size(), 0);
  for (const auto& w : h->writes) std::memcpy(img.data() + w.offset, w.bytes.data(), w.bytes.size());
  auto c = crypto::SectorCipher::Create("aes-xts-plain64", vk, 4096);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE((*c)->Encrypt(0, plain, {img.data() + h->data_offset, plain.size()}).ok());
  char path[] = "/tmp/plain_image_test.XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(write(fd, img.data(), img.size()), static_cast<ssize_t>(img.size()));
  close(fd);

  auto opened = OpenImage(path, false, StorageOptions{}, ContainerOptions{}, nullptr);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto image = std::make_unique<OpenedImage>(std::move(opened).value());
  auto key = UnlockWithPassphrase(*image, pass, std::nullopt, 1 << 20);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  auto p = PlainThroughContainer(std::move(image), std::move(key->volume_key), 2);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE(p->encrypted());
  ASSERT_EQ(p->size, plain.size());
  std::vector<uint8_t> got(plain.size());
  ASSERT_TRUE(p->ReadStored(0, got).ok());
  ASSERT_TRUE(p->Decrypt(0, got).ok());  // a no-op for a volume
  EXPECT_EQ(got, plain);
  std::vector<uint8_t> part(5000);
  ASSERT_TRUE(p->Read(12345, part).ok());
  EXPECT_EQ(0, std::memcmp(part.data(), plain.data() + 12345, part.size()));
  unlink(path);
}

}  // namespace
}  // namespace luksfs::fs::prep
