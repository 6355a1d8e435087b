// The LUKS2 binary header (LUKS2 On-Disk Format Specification, "Binary
// header"; doc/formats.md) and the reading of one header copy: binary header
// checks, checksum, then the JSON area.
//
// On disk: the primary copy at byte 0 and the secondary copy at byte
// hdr_size, each a 4096-byte binary header followed by hdr_size - 4096 bytes
// of JSON. Integers are big-endian. The checksum covers the binary header
// with `csum` zeroed, then the whole JSON area.
//
// Bounds: hdr_size must be one of kLuks2HdrSizes (16 KiB .. 4 MiB), checked
// before anything is allocated, so reading a copy allocates at most 4 MiB.
//
// Thread-safety: reentrant; the ReadFn must be callable from the caller's
// thread. No exception escapes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/status.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

inline constexpr size_t kLuks2BinHeaderSize = 4096;
inline constexpr uint8_t kLuks2PrimaryMagic[6] = {'L', 'U',  'K',
                                                  'S', 0xba, 0xbe};
inline constexpr uint8_t kLuks2SecondaryMagic[6] = {'S', 'K',  'U',
                                                    'L', 0xba, 0xbe};
// The allowed hdr_size values, which are also the possible secondary header
// offsets (cryptsetup LUKS2_HDR2_OFFSETS).
inline constexpr uint64_t kLuks2HdrSizes[] = {0x4000,   0x8000,   0x10000,
                                              0x20000,  0x40000,  0x80000,
                                              0x100000, 0x200000, 0x400000};

// `struct luks2_hdr_disk`, byte for byte. Multi-byte integers are stored as
// big-endian byte arrays so the struct has no alignment requirement; use
// LoadBe64/StoreBe64 (below) for the 64-bit ones. Strings are NUL-padded.
struct __attribute__((packed)) Luks2DiskHeader {
  uint8_t magic[6];           // @0    "LUKS\xba\xbe" or "SKUL\xba\xbe"
  uint8_t version[2];         // @6    be16, 2
  uint8_t hdr_size[8];        // @8    be64, binary header + JSON area, bytes
  uint8_t seqid[8];           // @16   be64, bumped on every metadata write
  char label[48];             // @24   label
  char checksum_alg[32];      // @72   checksum_alg, "sha256"
  uint8_t salt[64];           // @104  salt (per copy, random)
  char uuid[40];              // @168  uuid
  char subsystem[48];         // @208  subsystem
  uint8_t hdr_offset[8];      // @256  be64, offset of this copy in the image
  uint8_t padding[184];       // @264  zero
  uint8_t csum[64];           // @448  checksum, first digest-size bytes used
  uint8_t padding4096[3584];  // @512 zero; the JSON area follows at 4096
};
static_assert(sizeof(Luks2DiskHeader) == kLuks2BinHeaderSize);

uint64_t LoadBe64(const uint8_t* p);
void StoreBe64(uint8_t* p, uint64_t v);

// Whether `hdr_size` is one of kLuks2HdrSizes.
bool IsAllowedLuks2HdrSize(uint64_t hdr_size);

// The decoded fields of a binary header that passed DecodeLuks2BinHeader.
struct Luks2BinHeader {
  uint64_t hdr_size = 0;
  uint64_t seqid = 0;
  uint64_t hdr_offset = 0;
  std::string label;
  std::string checksum_alg;
  std::string uuid;
  std::string subsystem;
};

// Decodes the 4096 bytes found at image byte `offset` as the primary
// (secondary == false) or secondary copy's binary header and checks magic,
// version == 2, hdr_offset == offset, hdr_size allowed and, for the
// secondary, hdr_size == offset. Errors: kCorruption with a short reason
// ("bad magic", "hdr_offset 0 does not match its location 16384", ...).
Result<Luks2BinHeader> DecodeLuks2BinHeader(std::span<const uint8_t> bytes,
                                            uint64_t offset, bool secondary);

// Computes the checksum of a header copy (`copy` = hdr_size bytes: binary
// header then JSON area, the csum field is treated as zero) with
// `checksum_alg` into `out` (64 bytes, zero-padded past the digest). `out`
// may alias the csum field of `copy` (writers compute in place).
// Errors: kNotSupported for an unknown algorithm; kInvalidArgument if `copy`
// is shorter than the binary header.
Status ComputeLuks2Checksum(std::span<const uint8_t> copy,
                            std::string_view checksum_alg,
                            std::span<uint8_t, 64> out);

// Reads and fully validates the copy at `offset` (0 for the primary) of an
// image of `image_size` bytes: binary header, checksum, JSON schema. On
// success the returned header has every field except primary/secondary_*
// set. Errors: kCorruption with a short reason ("checksum mismatch",
// "image is truncated: ...", "keyslot 3: ..."); kNotSupported for an
// unknown checksum algorithm; kIOError from `read`.
Result<LuksHeader> ReadLuks2Copy(const ReadFn& read, uint64_t image_size,
                                 uint64_t offset, bool secondary);

}  // namespace luksfs::crypto
