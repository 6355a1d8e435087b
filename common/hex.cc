#include "common/hex.h"

namespace luksfs {

namespace {

const char* Digits(HexCase c) {
  return c == HexCase::kUpper ? "0123456789ABCDEF" : "0123456789abcdef";
}

}  // namespace

std::string HexEncode(std::span<const uint8_t> bytes, HexCase letter_case,
                      std::string_view separator) {
  const char* d = Digits(letter_case);
  std::string out;
  out.reserve(bytes.size() * (2 + separator.size()));
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) out += separator;
    out.push_back(d[bytes[i] >> 4]);
    out.push_back(d[bytes[i] & 15]);
  }
  return out;
}

Result<SecureBuffer> HexEncodeSecure(std::span<const uint8_t> bytes) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer out,
                          SecureBuffer::Create(bytes.size() * 2));
  const char* d = Digits(HexCase::kLower);
  for (size_t i = 0; i < bytes.size(); ++i) {
    out.data()[2 * i] = static_cast<uint8_t>(d[bytes[i] >> 4]);
    out.data()[2 * i + 1] = static_cast<uint8_t>(d[bytes[i] & 15]);
  }
  return out;
}

}  // namespace luksfs
