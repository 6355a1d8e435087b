// TTLV: the Tag-Type-Length-Value encoding of KMIP 1.x messages.
//
// Every item is  Tag (3 bytes) | Type (1) | Length (4, big endian, unpadded
// value length) | Value | zero padding to the next multiple of 8 bytes.
// See the KMIP 1.2 Specification (OASIS), section 9.1 "TTLV Encoding", for
// the item types; doc/kmip.md has the table.
//
// TtlvItem is a small value tree: a Structure has children, every other type
// has a scalar (`integer`) or a byte string (`bytes`). The decoder is meant
// for bytes from the network: it never trusts a length, checks every length
// against the buffer and the fixed size of its type, requires zero padding,
// bounds the message size, nesting depth and item count, and reports
// anything malformed or over a bound as kCorruption with the byte offset.
// Because it accepts only the canonical encoding, Encode(Decode(bytes)) ==
// bytes.
//
// Secrets: byte and text values may hold key material or a password; a
// TtlvItem wipes its bytes when destroyed. Callers that encode secrets wipe
// the encoded buffer themselves (SecureWipe) once it has been sent.
//
// Thread-safety: values; the free functions are pure and reentrant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace luksfs::kms {

enum class TtlvType : uint8_t {
  kStructure = 0x01,
  kInteger = 0x02,      // signed 32-bit
  kLongInteger = 0x03,  // signed 64-bit
  kBigInteger = 0x04,   // two's complement, big endian, multiple of 8 bytes
  kEnumeration = 0x05,  // unsigned 32-bit
  kBoolean = 0x06,      // 0 or 1, 64-bit on the wire
  kTextString = 0x07,   // UTF-8, no NUL
  kByteString = 0x08,
  kDateTime = 0x09,  // signed 64-bit POSIX seconds
  kInterval = 0x0A,  // unsigned 32-bit seconds
};

// "Structure", "Integer", ... or "unknown".
const char* TtlvTypeName(TtlvType type);

struct TtlvItem {
  uint32_t tag = 0;  // 24 bits, e.g. 0x420078
  TtlvType type = TtlvType::kStructure;
  // Integer, Long Integer, Enumeration, Boolean, Date-Time, Interval.
  int64_t integer = 0;
  // Big Integer, Text String, Byte String.
  std::vector<uint8_t> bytes;
  // Structure.
  std::vector<TtlvItem> children;

  TtlvItem() = default;
  ~TtlvItem();
  TtlvItem(TtlvItem&&) noexcept = default;
  TtlvItem& operator=(TtlvItem&&) noexcept = default;
  TtlvItem(const TtlvItem&) = default;
  TtlvItem& operator=(const TtlvItem&) = default;
  bool operator==(const TtlvItem& other) const;

  // Builders. Integer-like values out of their type's range are rejected
  // by Encode (kInvalidArgument), not here.
  static TtlvItem Structure(uint32_t tag, std::vector<TtlvItem> children = {});
  static TtlvItem Integer(uint32_t tag, int32_t value);
  static TtlvItem LongInteger(uint32_t tag, int64_t value);
  static TtlvItem BigInteger(uint32_t tag, std::span<const uint8_t> be_bytes);
  static TtlvItem Enumeration(uint32_t tag, uint32_t value);
  static TtlvItem Boolean(uint32_t tag, bool value);
  static TtlvItem Text(uint32_t tag, std::string_view value);
  static TtlvItem Bytes(uint32_t tag, std::span<const uint8_t> value);
  static TtlvItem DateTime(uint32_t tag, int64_t posix_seconds);
  static TtlvItem Interval(uint32_t tag, uint32_t seconds);

  // Appends a child (Structure only) and returns *this for chaining.
  TtlvItem& Add(TtlvItem child);

  // The first direct child with `tag`, or nullptr.
  const TtlvItem* Find(uint32_t tag) const;
  // Every direct child with `tag`, in order.
  std::vector<const TtlvItem*> FindAll(uint32_t tag) const;
  // bytes viewed as text (Text String).
  std::string_view text() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
};

// Bounds for decoding untrusted bytes.
struct TtlvLimits {
  size_t max_message_bytes = 1 << 20;  // whole message, header included
  int max_depth = 16;                  // nesting of Structures
  size_t max_items = 1 << 16;          // items in the whole tree
};

// Size of one TTLV item header (tag, type, length), in bytes.
inline constexpr size_t kTtlvHeaderSize = 8;

// Encodes `item` (recursively). Errors: kInvalidArgument when a value does
// not fit its type (tag > 24 bits, Integer out of int32 range, Big Integer
// not a non-empty multiple of 8 bytes, Boolean not 0/1, scalar with bytes,
// value too long for a 32-bit length).
Result<std::vector<uint8_t>> EncodeTtlv(const TtlvItem& item);

// Decodes exactly one item that fills `data`. Errors: kCorruption naming
// the offset and the problem, also when a limit is exceeded.
Result<TtlvItem> DecodeTtlv(std::span<const uint8_t> data,
                            const TtlvLimits& limits = {});

// For framing a message read from a stream: given the first 8 bytes of an
// item, the number of bytes that follow the header. Checks the item is a
// Structure (a KMIP message) whose total size fits max_message_bytes.
// Errors: kCorruption.
Result<size_t> TtlvBodyLength(std::span<const uint8_t, kTtlvHeaderSize> header,
                              const TtlvLimits& limits = {});

// Hex dump of a tree for debugging and test failure messages, one item per
// line. Byte and text values are shown only as their length when
// `redact_values` (use that whenever the tree may hold secrets).
std::string TtlvToString(const TtlvItem& item, bool redact_values = true);

}  // namespace luksfs::kms
