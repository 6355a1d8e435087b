// ConvertPlain: copies the plaintext of SRC into a new image file DST,
// encrypting for a LUKS DST (whose header the caller has written) or not
// for a raw DST, in a three-stage pipeline so that reading, crypto and
// writing overlap:
//
//   reader thread  --full-->  crypto (calling thread)  --done-->  writer thread
//        ^                                                             |
//        +------------------------- free buffers ---------------------+
//
// `depth` buffers of `chunk_bytes` circulate (bounded memory: depth x
// chunk). The reader does only storage reads; the crypto stage decrypts
// SRC and encrypts DST in place, each call spreading over the engine's
// workers (one call at a time per engine, so it splits over every core);
// the writer does only pwrite. A raw DST is sparse: blocks of 64 KiB that
// are all zeros are not written (the file was sized with ftruncate first).
// Plaintext buffers are wiped before they are freed.
//
// Units: bytes. chunk_bytes must be a multiple of both sector sizes
// (4096 divides every allowed chunk). The DST data area is
// [dst_data_offset, dst_data_offset + src.size).
// Thread-safety: reentrant; uses its own two threads.
// Errors: the first error of any stage stops the others; kUnavailable
// "interrupted" when Interrupted() turned true.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "common/result.h"
#include "crypto/crypt_engine.h"
#include "fs/prep/output_file.h"
#include "fs/prep/plain_image.h"

namespace luksfs::fs::prep {

class Qcow2Target;

struct ConvertTarget {
  OutputSink* out = nullptr;
  uint64_t data_offset = 0;                     // bytes
  crypto::CryptEngine* engine = nullptr;        // null: raw (sparse)
  // A qcow2 DST: the crypto stage hands each chunk to Place() (zero
  // clusters dropped, the rest packed, allocated and encrypted with the
  // host-offset IV) and the writer writes the packed run at its host
  // offset; data_offset and engine are then unused. The caller writes the
  // metadata afterwards (Qcow2Target::Finish).
  Qcow2Target* qcow2 = nullptr;
};

struct ConvertOptions {
  uint64_t chunk_bytes = 8u << 20;
  unsigned depth = 4;
  std::function<void(uint64_t done)> progress;  // called by the writer
};

struct ConvertStats {
  uint64_t bytes = 0;          // plaintext bytes converted
  uint64_t written = 0;        // bytes written to DST's data area
};

Result<ConvertStats> ConvertPlain(const PlainImage& src, const ConvertTarget& dst,
                                  const ConvertOptions& options);

}  // namespace luksfs::fs::prep
