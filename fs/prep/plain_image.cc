#include "fs/prep/plain_image.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "common/secure_buffer.h"
#include "fs/image/qcow2_format.h"
#include "fs/image/qcow2_map.h"

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
  if (map) {
    std::vector<Extent> ext;
    LUKSFS_RETURN_IF_ERROR(map->Map(offset, dst.size(), &ext));
    const uint64_t end = offset + dst.size();
    uint64_t covered = offset;
    for (const Extent& e : ext) {
      const uint64_t a = std::max(e.guest_offset, offset);
      const uint64_t b = std::min(e.guest_offset + e.length, end);
      if (a >= b) continue;
      if (a != covered) return Status::Corruption("qcow2 map left a gap");
      uint8_t* d = dst.data() + (a - offset);
      if (e.kind == Extent::Kind::kData) {
        LUKSFS_RETURN_IF_ERROR(
            storage->ReadAt(e.host_offset + (a - e.guest_offset), {d, b - a}));
      } else {
        std::memset(d, 0, b - a);
      }
      covered = b;
    }
    if (covered != end) return Status::Corruption("qcow2 map is short");
    return Status();
  }
  if (volume) {
    LUKSFS_ASSIGN_OR_RETURN(const size_t n, volume->Read(offset, dst));
    if (n != dst.size()) return Status::Corruption("short read from the volume");
    return Status();
  }
  return storage->ReadAt(data_offset + offset, dst);
}

Result<uint64_t> PlainImage::NextData(uint64_t offset) const {
  if (offset >= size) return size;
  if (map) {
    constexpr uint64_t kWindow = 256ULL << 20;  // Map() this much at a time
    std::vector<Extent> ext;
    for (uint64_t at = offset; at < size; at += kWindow) {
      ext.clear();
      LUKSFS_RETURN_IF_ERROR(map->Map(at, std::min(kWindow, size - at), &ext));
      for (const Extent& e : ext) {
        if (e.kind == Extent::Kind::kData) return std::max(e.guest_offset, offset);
      }
    }
    return size;
  }
  if (volume) {
    Result<uint64_t> next = volume->NextData(offset);
    if (!next.ok() && next.status().code() == Status::Code::kNotFound) return size;
    return next;
  }
  return offset;
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

Result<std::optional<PlainImage>> OpenPlainQcow2(std::unique_ptr<Storage>* storage) {
  Storage* st = storage->get();
  const uint64_t file_size = st->Size();
  std::vector<uint8_t> head(std::min<uint64_t>(file_size, 24));
  LUKSFS_RETURN_IF_ERROR(st->ReadAt(0, head));
  LUKSFS_ASSIGN_OR_RETURN(const uint32_t bits, qcow2::PeekClusterBits(head));
  head.resize(std::min<uint64_t>(file_size, uint64_t{1} << bits));
  LUKSFS_RETURN_IF_ERROR(st->ReadAt(0, head));
  LUKSFS_ASSIGN_OR_RETURN(const qcow2::Header h, qcow2::ParseHeader(head, file_size));
  if (h.crypt_method != qcow2::kCryptNone) return std::optional<PlainImage>();
  Qcow2MapOptions mo;
  mo.unit_size = 512;
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<Qcow2Map> m, Qcow2Map::Open(st, h, mo));
  PlainImage p;
  p.container = Container::kQcow2;
  p.size = m->Size();
  p.storage = std::move(*storage);
  p.map = std::move(m);
  return std::optional<PlainImage>(std::move(p));
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
