#include "kms-client/ttlv.h"

#include <cstdio>
#include <limits>

#include "common/secure_buffer.h"

namespace luksfs::kms {
namespace {

constexpr uint32_t kMaxTag = 0xFFFFFF;

uint64_t Padded(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

uint32_t ReadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) |
         (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}
uint64_t ReadBe64(const uint8_t* p) {
  return (uint64_t{ReadBe32(p)} << 32) | ReadBe32(p + 4);
}
void AppendBe32(std::vector<uint8_t>& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(v >> shift);
}
void AppendBe64(std::vector<uint8_t>& out, uint64_t v) {
  AppendBe32(out, static_cast<uint32_t>(v >> 32));
  AppendBe32(out, static_cast<uint32_t>(v));
}

bool KnownType(uint8_t t) { return t >= 0x01 && t <= 0x0A; }

// The exact value length of fixed-size types, 0 for variable ones.
uint32_t FixedLength(TtlvType t) {
  switch (t) {
    case TtlvType::kInteger:
    case TtlvType::kEnumeration:
    case TtlvType::kInterval:
      return 4;
    case TtlvType::kLongInteger:
    case TtlvType::kBoolean:
    case TtlvType::kDateTime:
      return 8;
    default:
      return 0;
  }
}

bool HasBytes(TtlvType t) {
  return t == TtlvType::kBigInteger || t == TtlvType::kTextString ||
         t == TtlvType::kByteString;
}

std::string Hex(uint64_t v, int width) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%0*llx", width,
                static_cast<unsigned long long>(v));
  return buf;
}

Status EncodeInto(const TtlvItem& item, std::vector<uint8_t>& out) {
  if (item.tag > kMaxTag) {
    return Status::InvalidArgument("TTLV tag " + Hex(item.tag, 6) +
                                   " does not fit 24 bits");
  }
  const std::string what =
      std::string(TtlvTypeName(item.type)) + " " + Hex(item.tag, 6);
  if (!KnownType(static_cast<uint8_t>(item.type))) {
    return Status::InvalidArgument("TTLV item " + Hex(item.tag, 6) +
                                   ": unknown type");
  }
  if (item.type != TtlvType::kStructure && !item.children.empty()) {
    return Status::InvalidArgument(what + ": only a Structure has children");
  }
  if (!HasBytes(item.type) && !item.bytes.empty()) {
    return Status::InvalidArgument(what + ": scalar with a byte value");
  }
  out.push_back(item.tag >> 16);
  out.push_back(item.tag >> 8);
  out.push_back(item.tag);
  out.push_back(static_cast<uint8_t>(item.type));
  const size_t length_at = out.size();
  AppendBe32(out, 0);  // patched below
  const int64_t v = item.integer;
  switch (item.type) {
    case TtlvType::kStructure:
      for (const TtlvItem& child : item.children) {
        LUKSFS_RETURN_IF_ERROR(EncodeInto(child, out));
      }
      break;
    case TtlvType::kInteger:
      if (v < std::numeric_limits<int32_t>::min() ||
          v > std::numeric_limits<int32_t>::max()) {
        return Status::InvalidArgument(what + ": value out of int32 range");
      }
      AppendBe32(out, static_cast<uint32_t>(v));
      AppendBe32(out, 0);
      break;
    case TtlvType::kEnumeration:
    case TtlvType::kInterval:
      if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
        return Status::InvalidArgument(what + ": value out of uint32 range");
      }
      AppendBe32(out, static_cast<uint32_t>(v));
      AppendBe32(out, 0);
      break;
    case TtlvType::kBoolean:
      if (v != 0 && v != 1) {
        return Status::InvalidArgument(what + ": Boolean must be 0 or 1");
      }
      [[fallthrough]];
    case TtlvType::kLongInteger:
    case TtlvType::kDateTime:
      AppendBe64(out, static_cast<uint64_t>(v));
      break;
    case TtlvType::kBigInteger:
      if (item.bytes.empty() || item.bytes.size() % 8 != 0) {
        return Status::InvalidArgument(
            what + ": Big Integer must be a non-empty multiple of 8 bytes");
      }
      [[fallthrough]];
    case TtlvType::kTextString:
    case TtlvType::kByteString:
      out.insert(out.end(), item.bytes.begin(), item.bytes.end());
      out.resize(length_at + 4 + Padded(item.bytes.size()), 0);
      break;
  }
  const uint64_t value_len = item.type == TtlvType::kStructure
                                 ? out.size() - length_at - 4
                             : HasBytes(item.type) ? item.bytes.size()
                                                   : FixedLength(item.type);
  if (value_len > std::numeric_limits<uint32_t>::max()) {
    return Status::InvalidArgument(what + ": value too long");
  }
  for (int i = 0; i < 4; ++i) {
    out[length_at + i] = static_cast<uint8_t>(value_len >> (24 - 8 * i));
  }
  return Status();
}

class Decoder {
 public:
  Decoder(std::span<const uint8_t> data, const TtlvLimits& limits)
      : data_(data), limits_(limits) {}

  // Decodes the item at [pos, end). On success *next is the offset after
  // its padding.
  Result<TtlvItem> Item(size_t pos, size_t end, int depth, size_t* next) {
    if (++items_ > limits_.max_items) {
      return Status::Corruption("TTLV: more than " +
                                std::to_string(limits_.max_items) + " items");
    }
    if (end - pos < kTtlvHeaderSize) {
      return Bad(pos, "truncated item header (" + std::to_string(end - pos) +
                          " bytes left, need 8)");
    }
    const uint8_t* p = data_.data() + pos;
    TtlvItem item;
    item.tag = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
    if (!KnownType(p[3])) {
      return Bad(
          pos, "unknown type " + Hex(p[3], 2) + " for tag " + Hex(item.tag, 6));
    }
    item.type = static_cast<TtlvType>(p[3]);
    const uint32_t len = ReadBe32(p + 4);
    const uint64_t padded = Padded(len);
    const size_t vpos = pos + kTtlvHeaderSize;
    const std::string what =
        std::string(TtlvTypeName(item.type)) + " " + Hex(item.tag, 6);
    if (padded > end - vpos) {
      return Bad(pos, what + ": length " + std::to_string(len) +
                          " exceeds the " + std::to_string(end - vpos) +
                          " bytes left");
    }
    const uint32_t fixed = FixedLength(item.type);
    if (fixed != 0 && len != fixed) {
      return Bad(pos, what + ": length " + std::to_string(len) + ", must be " +
                          std::to_string(fixed));
    }
    const uint8_t* v = p + kTtlvHeaderSize;
    for (uint64_t i = len; i < padded; ++i) {
      if (v[i] != 0) return Bad(vpos + i, what + ": non-zero padding byte");
    }
    switch (item.type) {
      case TtlvType::kStructure: {
        if (len % 8 != 0) {
          return Bad(pos, what + ": length " + std::to_string(len) +
                              " is not a multiple of 8");
        }
        if (depth >= limits_.max_depth) {
          return Status::Corruption("TTLV: structures nested deeper than " +
                                    std::to_string(limits_.max_depth) +
                                    " at offset " + std::to_string(pos));
        }
        size_t cpos = vpos;
        const size_t cend = vpos + len;
        while (cpos < cend) {
          size_t cnext = 0;
          LUKSFS_ASSIGN_OR_RETURN(TtlvItem child,
                                  Item(cpos, cend, depth + 1, &cnext));
          item.children.push_back(std::move(child));
          cpos = cnext;
        }
        break;
      }
      case TtlvType::kInteger:
        item.integer = static_cast<int32_t>(ReadBe32(v));
        break;
      case TtlvType::kEnumeration:
      case TtlvType::kInterval:
        item.integer = ReadBe32(v);
        break;
      case TtlvType::kBoolean: {
        const uint64_t b = ReadBe64(v);
        if (b > 1) return Bad(vpos, what + ": Boolean value is not 0 or 1");
        item.integer = static_cast<int64_t>(b);
        break;
      }
      case TtlvType::kLongInteger:
      case TtlvType::kDateTime:
        item.integer = static_cast<int64_t>(ReadBe64(v));
        break;
      case TtlvType::kBigInteger:
        if (len == 0 || len % 8 != 0) {
          return Bad(pos, what + ": length " + std::to_string(len) +
                              " is not a non-zero multiple of 8");
        }
        [[fallthrough]];
      case TtlvType::kTextString:
      case TtlvType::kByteString:
        item.bytes.assign(v, v + len);
        break;
    }
    *next = vpos + padded;
    return item;
  }

 private:
  static Status Bad(size_t offset, const std::string& msg) {
    return Status::Corruption("malformed TTLV at offset " +
                              std::to_string(offset) + ": " + msg);
  }

  std::span<const uint8_t> data_;
  const TtlvLimits& limits_;
  size_t items_ = 0;
};

void Dump(const TtlvItem& item, bool redact, int depth, std::string& out) {
  out.append(2 * depth, ' ');
  out += Hex(item.tag, 6) + " " + TtlvTypeName(item.type);
  switch (item.type) {
    case TtlvType::kStructure:
      out += "\n";
      for (const TtlvItem& c : item.children) Dump(c, redact, depth + 1, out);
      return;
    case TtlvType::kBigInteger:
    case TtlvType::kTextString:
    case TtlvType::kByteString:
      out += " [" + std::to_string(item.bytes.size()) + " bytes]";
      if (!redact) {
        if (item.type == TtlvType::kTextString) {
          out += " \"" + std::string(item.text()) + "\"";
        } else {
          out += " ";
          for (uint8_t b : item.bytes) out += Hex(b, 2).substr(2);
        }
      }
      break;
    default:
      out += " " + std::to_string(item.integer);
  }
  out += "\n";
}

}  // namespace

const char* TtlvTypeName(TtlvType type) {
  switch (type) {
    case TtlvType::kStructure:
      return "Structure";
    case TtlvType::kInteger:
      return "Integer";
    case TtlvType::kLongInteger:
      return "Long Integer";
    case TtlvType::kBigInteger:
      return "Big Integer";
    case TtlvType::kEnumeration:
      return "Enumeration";
    case TtlvType::kBoolean:
      return "Boolean";
    case TtlvType::kTextString:
      return "Text String";
    case TtlvType::kByteString:
      return "Byte String";
    case TtlvType::kDateTime:
      return "Date-Time";
    case TtlvType::kInterval:
      return "Interval";
  }
  return "unknown";
}

TtlvItem::~TtlvItem() {
  if (!bytes.empty()) SecureWipe(bytes.data(), bytes.size());
}

bool TtlvItem::operator==(const TtlvItem& o) const {
  return tag == o.tag && type == o.type && integer == o.integer &&
         bytes == o.bytes && children == o.children;
}

TtlvItem TtlvItem::Structure(uint32_t tag, std::vector<TtlvItem> children) {
  TtlvItem i;
  i.tag = tag;
  i.type = TtlvType::kStructure;
  i.children = std::move(children);
  return i;
}

namespace {
TtlvItem Scalar(uint32_t tag, TtlvType type, int64_t value) {
  TtlvItem i;
  i.tag = tag;
  i.type = type;
  i.integer = value;
  return i;
}
TtlvItem Blob(uint32_t tag, TtlvType type, const uint8_t* p, size_t n) {
  TtlvItem i;
  i.tag = tag;
  i.type = type;
  i.bytes.assign(p, p + n);
  return i;
}
}  // namespace

TtlvItem TtlvItem::Integer(uint32_t tag, int32_t value) {
  return Scalar(tag, TtlvType::kInteger, value);
}
TtlvItem TtlvItem::LongInteger(uint32_t tag, int64_t value) {
  return Scalar(tag, TtlvType::kLongInteger, value);
}
TtlvItem TtlvItem::BigInteger(uint32_t tag, std::span<const uint8_t> be) {
  return Blob(tag, TtlvType::kBigInteger, be.data(), be.size());
}
TtlvItem TtlvItem::Enumeration(uint32_t tag, uint32_t value) {
  return Scalar(tag, TtlvType::kEnumeration, value);
}
TtlvItem TtlvItem::Boolean(uint32_t tag, bool value) {
  return Scalar(tag, TtlvType::kBoolean, value ? 1 : 0);
}
TtlvItem TtlvItem::Text(uint32_t tag, std::string_view value) {
  return Blob(tag, TtlvType::kTextString,
              reinterpret_cast<const uint8_t*>(value.data()), value.size());
}
TtlvItem TtlvItem::Bytes(uint32_t tag, std::span<const uint8_t> value) {
  return Blob(tag, TtlvType::kByteString, value.data(), value.size());
}
TtlvItem TtlvItem::DateTime(uint32_t tag, int64_t posix_seconds) {
  return Scalar(tag, TtlvType::kDateTime, posix_seconds);
}
TtlvItem TtlvItem::Interval(uint32_t tag, uint32_t seconds) {
  return Scalar(tag, TtlvType::kInterval, seconds);
}

TtlvItem& TtlvItem::Add(TtlvItem child) {
  children.push_back(std::move(child));
  return *this;
}

const TtlvItem* TtlvItem::Find(uint32_t t) const {
  for (const TtlvItem& c : children) {
    if (c.tag == t) return &c;
  }
  return nullptr;
}

std::vector<const TtlvItem*> TtlvItem::FindAll(uint32_t t) const {
  std::vector<const TtlvItem*> out;
  for (const TtlvItem& c : children) {
    if (c.tag == t) out.push_back(&c);
  }
  return out;
}

// An upper bound of the encoded size: every item is an 8-byte header plus
// its value padded to 8 (scalars take at most 8).
size_t EncodedSizeBound(const TtlvItem& item) {
  size_t n = 8 + 8 + (item.bytes.size() + 7) / 8 * 8;
  for (const TtlvItem& c : item.children) n += EncodedSizeBound(c);
  return n;
}

Result<std::vector<uint8_t>> EncodeTtlv(const TtlvItem& item) {
  std::vector<uint8_t> out;
  // Reserve once: a reallocation would free, unwiped, a buffer holding the
  // credential or the plaintext being wrapped.
  out.reserve(EncodedSizeBound(item));
  Status s = EncodeInto(item, out);
  if (!s.ok()) {
    SecureWipe(out.data(), out.size());
    return s;
  }
  return out;
}

Result<TtlvItem> DecodeTtlv(std::span<const uint8_t> data,
                            const TtlvLimits& limits) {
  if (data.size() > limits.max_message_bytes) {
    return Status::Corruption("TTLV message of " + std::to_string(data.size()) +
                              " bytes exceeds the limit of " +
                              std::to_string(limits.max_message_bytes));
  }
  Decoder decoder(data, limits);
  size_t next = 0;
  LUKSFS_ASSIGN_OR_RETURN(TtlvItem item,
                          decoder.Item(0, data.size(), 0, &next));
  if (next != data.size()) {
    return Status::Corruption("malformed TTLV at offset " +
                              std::to_string(next) + ": " +
                              std::to_string(data.size() - next) +
                              " trailing bytes after the message");
  }
  return item;
}

Result<size_t> TtlvBodyLength(std::span<const uint8_t, kTtlvHeaderSize> h,
                              const TtlvLimits& limits) {
  if (h[3] != static_cast<uint8_t>(TtlvType::kStructure)) {
    return Status::Corruption("malformed TTLV message: type " + Hex(h[3], 2) +
                              ", expected a Structure");
  }
  const uint32_t len = ReadBe32(h.data() + 4);
  if (len % 8 != 0) {
    return Status::Corruption("malformed TTLV message: length " +
                              std::to_string(len) + " is not a multiple of 8");
  }
  if (uint64_t{len} + kTtlvHeaderSize > limits.max_message_bytes) {
    return Status::Corruption("TTLV message of " +
                              std::to_string(uint64_t{len} + 8) +
                              " bytes exceeds the limit of " +
                              std::to_string(limits.max_message_bytes));
  }
  return static_cast<size_t>(len);
}

std::string TtlvToString(const TtlvItem& item, bool redact_values) {
  std::string out;
  Dump(item, redact_values, 0, out);
  return out;
}

}  // namespace luksfs::kms
