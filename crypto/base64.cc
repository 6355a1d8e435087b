#include "crypto/base64.h"

#include <string>

namespace luksfs::crypto {

namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Maps a character to its 6-bit value, or -1.
int DecodeChar(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

Result<std::vector<uint8_t>> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) {
    return Status::Corruption("invalid Base64: length " +
                              std::to_string(text.size()) +
                              " is not a multiple of 4");
  }
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = 1;
    if (text[text.size() - 2] == '=') pad = 2;
  }
  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const size_t data_chars = last ? 4 - pad : 4;
    uint32_t group = 0;
    for (size_t j = 0; j < 4; ++j) {
      int v = 0;
      if (j < data_chars) {
        v = DecodeChar(static_cast<unsigned char>(text[i + j]));
        if (v < 0) {
          return Status::Corruption("invalid Base64: bad character at " +
                                    std::to_string(i + j));
        }
      }
      group = (group << 6) | static_cast<uint32_t>(v);
    }
    out.push_back(static_cast<uint8_t>(group >> 16));
    if (data_chars >= 3) out.push_back(static_cast<uint8_t>(group >> 8));
    if (data_chars == 4) out.push_back(static_cast<uint8_t>(group));
    // Canonical form: the bits dropped by padding must be zero.
    if ((data_chars == 2 && (group & 0xffff) != 0) ||
        (data_chars == 3 && (group & 0xff) != 0)) {
      return Status::Corruption("invalid Base64: non-zero padding bits");
    }
  }
  return out;
}

std::string Base64Encode(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t g = (uint32_t{bytes[i]} << 16) |
                       (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(g >> 18) & 63];
    out += kAlphabet[(g >> 12) & 63];
    out += kAlphabet[(g >> 6) & 63];
    out += kAlphabet[g & 63];
  }
  const size_t rest = bytes.size() - i;
  if (rest > 0) {
    uint32_t g = uint32_t{bytes[i]} << 16;
    if (rest == 2) g |= uint32_t{bytes[i + 1]} << 8;
    out += kAlphabet[(g >> 18) & 63];
    out += kAlphabet[(g >> 12) & 63];
    out += rest == 2 ? kAlphabet[(g >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace luksfs::crypto
