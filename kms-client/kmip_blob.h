// The wrapped-secret blob of the KMIP driver, and local AES-256-GCM.
//
// Format, version 1 (36 + N bytes; N = 1..4096 bytes of wrapped secret):
//
//   offset size  field
//        0    4  magic "LKW1" (0x4c 0x4b 0x57 0x31)
//        4    1  mode: 1 = wrapped by the KMIP server (Encrypt, AES-GCM)
//                      2 = wrapped locally under the key from KMIP Get
//        5    1  IV length, always 12
//        6    1  tag length, always 16
//        7    1  reserved, 0
//        8   12  IV (random, from OpenSSL RAND_bytes)
//       20   16  GCM authentication tag
//       36    N  ciphertext (AES-256-GCM, same length as the secret)
//
// The Additional Authenticated Data is the 8-byte header (offsets 0..7),
// so a changed mode or length byte fails authentication. Both modes compute
// the same AES-256-GCM under the same KMIP key, so a blob wrapped in one
// mode unwraps in the other (server-wrapped blobs can be unwrapped locally
// after Get and vice versa); the mode byte records how it was made.
//
// Thread-safety: pure functions. Secrets: keys and plaintexts come and go
// in SecureBuffers; scratch memory is wiped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs::kms::kmip {

inline constexpr size_t kBlobHeaderSize = 8;
inline constexpr size_t kBlobIvSize = 12;
inline constexpr size_t kBlobTagSize = 16;
inline constexpr size_t kBlobOverhead =
    kBlobHeaderSize + kBlobIvSize + kBlobTagSize;  // 36
inline constexpr size_t kMaxWrapPlaintext = 4096;

enum class BlobMode : uint8_t { kServer = 1, kLocal = 2 };

// A parsed blob; spans point into the caller's bytes.
struct BlobView {
  BlobMode mode;
  std::span<const uint8_t> header;  // the AAD
  std::span<const uint8_t> iv;
  std::span<const uint8_t> tag;
  std::span<const uint8_t> ciphertext;
};

// The 8-byte header for `mode`.
std::vector<uint8_t> BlobHeader(BlobMode mode);

// Parses and checks the framing. Errors: kCorruption ("not a luksfs KMIP
// wrapped blob", bad lengths, unknown mode).
Result<BlobView> ParseBlob(std::span<const uint8_t> blob);

// header || iv || tag || ciphertext.
std::vector<uint8_t> AssembleBlob(BlobMode mode, std::span<const uint8_t> iv,
                                  std::span<const uint8_t> tag,
                                  std::span<const uint8_t> ciphertext);

// A fresh random 12-byte IV. Errors: kInternal if the RNG fails.
Result<std::vector<uint8_t>> RandomIv();

// Wraps locally with AES-256-GCM under `key` (32 bytes). Errors:
// kInvalidArgument for a bad key or plaintext size, kInternal from OpenSSL.
Result<std::vector<uint8_t>> WrapLocal(const SecureBuffer& key,
                                       std::span<const uint8_t> plaintext);

// Unwraps any version-1 blob with `key`. Errors: kCorruption when the blob
// is malformed or does not authenticate under this key.
Result<SecureBuffer> UnwrapLocal(const SecureBuffer& key,
                                 std::span<const uint8_t> blob);

}  // namespace luksfs::kms::kmip
