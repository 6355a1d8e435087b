// CreateImage: a new, empty, encrypted raw LUKS image in a local file, as
// `cryptsetup luksFormat` on a fresh sparse file of the same size makes it.
//
// The image is sparse: only the header copies and the keyslot material are
// written, and the file is extended to data_offset + size with ftruncate.
// The data area is never written, so (as with cryptsetup) a unit that was
// never written reads back through the plaintext view as pseudo-random
// garbage (all-zero ciphertext decrypted with the volume key), not zeros.
// Write zeros through the view where zeros matter.
//
// The file appears under its name only when complete (see OutputFile);
// kUnavailable "interrupted" when Interrupted() turned true first.
// Thread-safety: reentrant. Secrets: the volume key is generated in a
// SecureBuffer and wiped before return; the passphrase is borrowed.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "common/result.h"
#include "fs/prep/format.h"
#include "fs/prep/output_file.h"

namespace luksfs::fs::prep {

struct CreatedImage {
  std::string uuid;
  uint64_t data_offset = 0;  // bytes
  uint64_t file_bytes = 0;   // data_offset + size
  uint32_t sector_size = 0;
  int keyslot = 0;
};

// Errors: kInvalidArgument (options, size, existing path without force),
// kIOError (the file), and those of BuildHeader.
Result<CreatedImage> CreateImage(const std::string& path, uint64_t size,
                                 const FormatOptions& format,
                                 std::span<const uint8_t> passphrase,
                                 bool force);

// The same into any sink (an S3Output: the whole object is uploaded, zeros
// included, since objects have no holes); `out` is committed on success.
Result<CreatedImage> CreateImageIn(OutputSink& out, uint64_t size,
                                   const FormatOptions& format,
                                   std::span<const uint8_t> passphrase);

// Writes `header.writes` into `out` (key material, then the header copies).
Status WriteHeader(OutputSink& out, const crypto::NewLuksHeader& header);

}  // namespace luksfs::fs::prep
