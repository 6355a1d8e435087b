#include "crypto/af.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <cstring>
#include <vector>

#include "common/secure_buffer.h"
#include "crypto/hash.h"

namespace luksfs::crypto {

namespace {

constexpr size_t kMaxDigest = EVP_MAX_MD_SIZE;

// buf = diffuse(buf): block i becomes H(be32(i) || block i), truncated for
// the last, partial block.
Status Diffuse(const EVP_MD* md, std::span<uint8_t> buf) {
  const size_t ds = static_cast<size_t>(EVP_MD_get_size(md));
  std::array<uint8_t, kMaxDigest> digest;
  for (size_t i = 0, off = 0; off < buf.size(); ++i, off += ds) {
    const size_t n = std::min(ds, buf.size() - off);
    const uint8_t be_i[4] = {static_cast<uint8_t>(i >> 24),
                             static_cast<uint8_t>(i >> 16),
                             static_cast<uint8_t>(i >> 8),
                             static_cast<uint8_t>(i)};
    LUKSFS_RETURN_IF_ERROR(HashTwo(md, be_i, buf.subspan(off, n),
                                   std::span<uint8_t>(digest.data(), ds)));
    std::memcpy(buf.data() + off, digest.data(), n);
  }
  SecureWipe(digest.data(), digest.size());
  return Status();
}

void XorInto(std::span<uint8_t> dst, const uint8_t* src) {
  for (size_t i = 0; i < dst.size(); ++i) dst[i] ^= src[i];
}

// d = diffuse-chain over stripes 0..stripes-2 of `material`.
Status Chain(const EVP_MD* md, std::span<const uint8_t> material,
             uint32_t stripes, std::span<uint8_t> d) {
  const size_t b = d.size();
  std::memset(d.data(), 0, b);
  for (uint32_t i = 0; i + 1 < stripes; ++i) {
    XorInto(d, material.data() + size_t{i} * b);
    LUKSFS_RETURN_IF_ERROR(Diffuse(md, d));
  }
  return Status();
}

Status CheckSizes(size_t material, size_t key, uint32_t stripes) {
  if (key == 0 || stripes == 0 || material / stripes < key) {
    return Status::InvalidArgument("AF: material too small for key and stripes");
  }
  return Status();
}

}  // namespace

uint64_t AfSplitSize(uint64_t key_bytes, uint32_t stripes) {
  return (key_bytes * stripes + 511) / 512 * 512;
}

Status AfMerge(std::span<const uint8_t> material, uint32_t stripes,
               std::string_view hash, std::span<uint8_t> key) {
  LUKSFS_RETURN_IF_ERROR(CheckSizes(material.size(), key.size(), stripes));
  LUKSFS_ASSIGN_OR_RETURN(const EVP_MD* md, LookupHash(hash));
  LUKSFS_RETURN_IF_ERROR(Chain(md, material, stripes, key));
  XorInto(key, material.data() + size_t{stripes - 1} * key.size());
  return Status();
}

Status AfSplit(std::span<const uint8_t> key, uint32_t stripes,
               std::string_view hash, std::span<uint8_t> material) {
  LUKSFS_RETURN_IF_ERROR(CheckSizes(material.size(), key.size(), stripes));
  LUKSFS_ASSIGN_OR_RETURN(const EVP_MD* md, LookupHash(hash));
  const size_t b = key.size();
  if (RAND_bytes(material.data(), static_cast<int>(b * (stripes - 1))) != 1) {
    return Status::Internal("OpenSSL RAND_bytes failed");
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer d, SecureBuffer::Create(b));
  LUKSFS_RETURN_IF_ERROR(Chain(md, material, stripes, d.span()));
  uint8_t* last = material.data() + size_t{stripes - 1} * b;
  for (size_t i = 0; i < b; ++i) last[i] = key[i] ^ d.data()[i];
  return Status();
}

}  // namespace luksfs::crypto
