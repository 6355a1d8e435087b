#include "crypto/luks2_disk_header.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <vector>

#include "crypto/hash.h"
#include "crypto/luks2_json.h"

namespace luksfs::crypto {

namespace {

static_assert(offsetof(Luks2DiskHeader, version) == 6);
static_assert(offsetof(Luks2DiskHeader, hdr_size) == 8);
static_assert(offsetof(Luks2DiskHeader, seqid) == 16);
static_assert(offsetof(Luks2DiskHeader, label) == 24);
static_assert(offsetof(Luks2DiskHeader, checksum_alg) == 72);
static_assert(offsetof(Luks2DiskHeader, salt) == 104);
static_assert(offsetof(Luks2DiskHeader, uuid) == 168);
static_assert(offsetof(Luks2DiskHeader, subsystem) == 208);
static_assert(offsetof(Luks2DiskHeader, hdr_offset) == 256);
static_assert(offsetof(Luks2DiskHeader, csum) == 448);
static_assert(offsetof(Luks2DiskHeader, padding4096) == 512);

constexpr size_t kCsumOffset = offsetof(Luks2DiskHeader, csum);
constexpr size_t kCsumSize = sizeof(Luks2DiskHeader::csum);

// A NUL-padded fixed-size string field; stops at the first NUL or the end.
template <size_t N>
std::string FieldString(const char (&field)[N]) {
  const char* end = static_cast<const char*>(std::memchr(field, 0, N));
  return std::string(field, end ? end : field + N);
}

Status Truncated(uint64_t need, uint64_t image_size, std::string_view what) {
  return Status::Corruption("image is truncated: " + std::string(what) +
                            " needs " + std::to_string(need) +
                            " bytes, the image has " +
                            std::to_string(image_size));
}

}  // namespace

uint64_t LoadBe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

void StoreBe64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

bool IsAllowedLuks2HdrSize(uint64_t hdr_size) {
  return std::find(std::begin(kLuks2HdrSizes), std::end(kLuks2HdrSizes),
                   hdr_size) != std::end(kLuks2HdrSizes);
}

Result<Luks2BinHeader> DecodeLuks2BinHeader(std::span<const uint8_t> bytes,
                                            uint64_t offset, bool secondary) {
  if (bytes.size() < kLuks2BinHeaderSize) {
    return Status::Corruption("binary header is short");
  }
  Luks2DiskHeader d;
  std::memcpy(&d, bytes.data(), sizeof d);
  const uint8_t* magic = secondary ? kLuks2SecondaryMagic : kLuks2PrimaryMagic;
  if (std::memcmp(d.magic, magic, sizeof d.magic) != 0) {
    return Status::Corruption("bad magic");
  }
  const unsigned version = (unsigned{d.version[0]} << 8) | d.version[1];
  if (version != 2) {
    return Status::Corruption("version " + std::to_string(version) +
                              " is not 2");
  }
  Luks2BinHeader h;
  h.hdr_size = LoadBe64(d.hdr_size);
  h.seqid = LoadBe64(d.seqid);
  h.hdr_offset = LoadBe64(d.hdr_offset);
  if (h.hdr_offset != offset) {
    return Status::Corruption("hdr_offset " + std::to_string(h.hdr_offset) +
                              " does not match its location " +
                              std::to_string(offset));
  }
  if (!IsAllowedLuks2HdrSize(h.hdr_size)) {
    return Status::Corruption("hdr_size " + std::to_string(h.hdr_size) +
                              " is not allowed");
  }
  if (secondary && h.hdr_size != offset) {
    return Status::Corruption("hdr_size " + std::to_string(h.hdr_size) +
                              " does not match the secondary's location " +
                              std::to_string(offset));
  }
  h.label = FieldString(d.label);
  h.checksum_alg = FieldString(d.checksum_alg);
  h.uuid = FieldString(d.uuid);
  h.subsystem = FieldString(d.subsystem);
  return h;
}

Status ComputeLuks2Checksum(std::span<const uint8_t> copy,
                            std::string_view checksum_alg,
                            std::span<uint8_t, 64> out) {
  if (copy.size() < kLuks2BinHeaderSize) {
    return Status::InvalidArgument("LUKS2 header copy shorter than 4096 bytes");
  }
  Result<const EVP_MD*> md = LookupHash(checksum_alg);
  Result<size_t> len = HashSize(checksum_alg);
  if (!md.ok() || !len.ok() || *len > kCsumSize) {
    return Status::NotSupported("unsupported checksum algorithm '" +
                                std::string(checksum_alg.substr(0, 32)) + "'");
  }
  std::array<uint8_t, kLuks2BinHeaderSize> bin;
  std::memcpy(bin.data(), copy.data(), bin.size());
  std::memset(bin.data() + kCsumOffset, 0, kCsumSize);
  std::fill(out.begin(), out.end(), 0);
  return HashTwo(*md, bin, copy.subspan(kLuks2BinHeaderSize), out.first(*len));
}

Result<LuksHeader> ReadLuks2Copy(const ReadFn& read, uint64_t image_size,
                                 uint64_t offset, bool secondary) {
  if (offset > image_size || image_size - offset < kLuks2BinHeaderSize) {
    return Truncated(offset + kLuks2BinHeaderSize, image_size,
                     secondary ? "secondary LUKS2 header" : "LUKS2 header");
  }
  std::vector<uint8_t> copy(kLuks2BinHeaderSize);
  LUKSFS_RETURN_IF_ERROR(read(offset, copy));
  LUKSFS_ASSIGN_OR_RETURN(Luks2BinHeader bin,
                          DecodeLuks2BinHeader(copy, offset, secondary));
  if (image_size - offset < bin.hdr_size) {
    return Truncated(offset + bin.hdr_size, image_size,
                     secondary ? "secondary LUKS2 header" : "LUKS2 header");
  }
  // hdr_size is one of kLuks2HdrSizes: at most 4 MiB.
  copy.resize(bin.hdr_size);
  LUKSFS_RETURN_IF_ERROR(
      read(offset + kLuks2BinHeaderSize,
           std::span<uint8_t>(copy).subspan(kLuks2BinHeaderSize)));

  std::array<uint8_t, kCsumSize> want;
  LUKSFS_RETURN_IF_ERROR(ComputeLuks2Checksum(copy, bin.checksum_alg, want));
  // Like cryptsetup, compare the digest's bytes only; the rest is unused.
  LUKSFS_ASSIGN_OR_RETURN(size_t csum_len, HashSize(bin.checksum_alg));
  if (std::memcmp(want.data(), copy.data() + kCsumOffset, csum_len) != 0) {
    return Status::Corruption("checksum mismatch");
  }

  LuksHeader h;
  LUKSFS_RETURN_IF_ERROR(ParseLuks2Json(
      std::span<const uint8_t>(copy).subspan(kLuks2BinHeaderSize), bin.hdr_size,
      &h));
  h.uuid = std::move(bin.uuid);
  h.label = std::move(bin.label);
  h.subsystem = std::move(bin.subsystem);
  h.hdr_size = bin.hdr_size;
  h.seqid = bin.seqid;
  h.checksum_alg = std::move(bin.checksum_alg);
  return h;
}

}  // namespace luksfs::crypto
