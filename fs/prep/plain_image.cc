#include "fs/prep/plain_image.h"

#include <cstring>
#include <vector>

#include "common/secure_buffer.h"

namespace luksfs::fs::prep {

Result<Container> ProbeContainer(const Storage& storage) {
  if (storage.Size() < 8) return Container::kRaw;
  uint8_t head[8];
  LUKSFS_RETURN_IF_ERROR(storage.ReadAt(0, head));
  static const uint8_t kLuks[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
  static const uint8_t kQcow[4] = {'Q', 'F', 'I', 0xfb};
  if (std::memcmp(head, kLuks, 6) == 0) {
    return head[7] == 1 ? Container::kLuks1 : Container::kLuks2;
  }
  if (std::memcmp(head, kQcow, 4) == 0) return Container::kQcow2;
  return Container::kRaw;
}

const char* ContainerName(Container c) {
  switch (c) {
    case Container::kRaw: return "raw";
    case Container::kLuks1: return "luks1";
    case Container::kLuks2: return "luks2";
    case Container::kQcow2: return "qcow2";
  }
  return "?";
}

Status PlainImage::ReadStored(uint64_t offset, std::span<uint8_t> dst) const {
  if (offset > size || dst.size() > size - offset) {
    return Status::InvalidArgument("read past the end of the plaintext");
  }
  if (volume) {
    LUKSFS_ASSIGN_OR_RETURN(const size_t n, volume->Read(offset, dst));
    if (n != dst.size()) return Status::Corruption("short read from the volume");
    return Status();
  }
  return storage->ReadAt(data_offset + offset, dst);
}

Status PlainImage::Decrypt(uint64_t offset, std::span<uint8_t> buf) const {
  if (!engine) return Status();  // raw, or a volume (already plaintext)
  return engine->Decrypt(iv_tweak + offset / 512, buf, buf);
}

Status PlainImage::Read(uint64_t offset, std::span<uint8_t> dst) const {
  const uint64_t ss = sector_size;
  if (!engine || (offset % ss == 0 && dst.size() % ss == 0)) {
    LUKSFS_RETURN_IF_ERROR(ReadStored(offset, dst));
    return Decrypt(offset, dst);
  }
  // An unaligned range of a LUKS image: whole units through a bounce buffer.
  if (offset > size || dst.size() > size - offset) {
    return Status::InvalidArgument("read past the end of the plaintext");
  }
  const uint64_t first = offset / ss * ss;
  const uint64_t end = (offset + dst.size() + ss - 1) / ss * ss;
  std::vector<uint8_t> tmp(end - first);
  LUKSFS_RETURN_IF_ERROR(ReadStored(first, tmp));
  LUKSFS_RETURN_IF_ERROR(Decrypt(first, tmp));
  std::memcpy(dst.data(), tmp.data() + (offset - first), dst.size());
  SecureWipe(tmp.data(), tmp.size());
  return Status();
}

Result<PlainImage> PlainThroughContainer(std::unique_ptr<OpenedImage> image,
                                         SecureBuffer volume_key,
                                         unsigned threads) {
  LUKSFS_ASSIGN_OR_RETURN(const crypto::DataLayout layout, CheckImage(*image));
  crypto::EngineOptions eo;
  eo.threads = threads;
  auto engine = crypto::CryptEngine::Create(layout.cipher, volume_key.span(),
                                            layout.sector_size, eo);
  volume_key.Wipe();
  LUKSFS_RETURN_IF_ERROR(engine.status());
  LUKSFS_ASSIGN_OR_RETURN(auto map, image->container->OpenMap(image->header, false));
  PlainImage p;
  p.container = image->header.version == 1 ? Container::kLuks1 : Container::kLuks2;
  if (std::string(image->container->format()) == "qcow2") p.container = Container::kQcow2;
  p.sector_size = layout.sector_size;
  p.volume = std::make_unique<Volume>(image->storage.get(), std::move(map),
                                      std::move(engine).value(), /*read_only=*/true);
  p.size = p.volume->Size();
  p.opened = std::move(image);
  return p;
}

}  // namespace luksfs::fs::prep
