#include "fs/prep/compare.h"

#include <algorithm>
#include <cstring>
#include <future>
#include <vector>

#include "fs/prep/interrupt.h"

namespace luksfs::fs::prep {

namespace {

constexpr uint64_t kBlock = 8u << 20;

uint64_t FirstNonZero(const uint8_t* p, uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) {
    if (p[i]) return i;
  }
  return n;
}

// Checks that `img` reads as zeros in [from, img.size).
Result<std::optional<uint64_t>> NonZeroTail(const PlainImage& img, uint64_t from,
                                            std::vector<uint8_t>& buf) {
  for (uint64_t off = from; off < img.size;) {
    if (Interrupted()) return Status::Unavailable("interrupted");
    const uint64_t n = std::min<uint64_t>(kBlock - off % kBlock, img.size - off);
    std::span<uint8_t> s(buf.data(), n);
    LUKSFS_RETURN_IF_ERROR(img.Read(off, s));
    const uint64_t i = FirstNonZero(buf.data(), n);
    if (i < n) return std::optional<uint64_t>(off + i);
    off += n;
  }
  return std::optional<uint64_t>();
}

}  // namespace

Result<CompareResult> ComparePlain(const PlainImage& a, const PlainImage& b,
                                   bool strict,
                                   const std::function<void(uint64_t)>& progress) {
  CompareResult r;
  r.size_mismatch = a.size != b.size;
  const uint64_t common = std::min(a.size, b.size);
  if (strict && r.size_mismatch) {
    r.identical = false;
    r.first_difference = common;
    return r;
  }
  std::vector<uint8_t> ba(kBlock), bb(kBlock);
  for (uint64_t off = 0; off < common;) {
    if (Interrupted()) return Status::Unavailable("interrupted");
    // Blocks are kBlock-aligned, so both sides read whole sectors except
    // at the end of the common part, which is a multiple of both sector
    // sizes unless one side is raw.
    uint64_t n = std::min<uint64_t>(kBlock, common - off);
    std::span<uint8_t> sa(ba.data(), n), sb(bb.data(), n);
    auto fb = std::async(std::launch::async, [&] { return b.Read(off, sb); });
    Status sa_status = a.Read(off, sa);
    Status sb_status = fb.get();
    LUKSFS_RETURN_IF_ERROR(sa_status.WithContext("A"));
    LUKSFS_RETURN_IF_ERROR(sb_status.WithContext("B"));
    if (std::memcmp(ba.data(), bb.data(), n) != 0) {
      uint64_t i = 0;
      while (ba[i] == bb[i]) ++i;
      r.identical = false;
      r.first_difference = off + i;
      return r;
    }
    off += n;
    if (progress) progress(off);
  }
  const PlainImage& longer = a.size > b.size ? a : b;
  LUKSFS_ASSIGN_OR_RETURN(auto nz, NonZeroTail(longer, common, ba));
  if (nz) {
    r.identical = false;
    r.first_difference = *nz;
  }
  if (progress) progress(std::max(a.size, b.size));
  return r;
}

}  // namespace luksfs::fs::prep
