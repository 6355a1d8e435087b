// libFuzzer target: the input is a whole image. ReadLuksHeader (LUKS1 and
// LUKS2, both copies, JSON) must never crash, hang, or allocate without
// bound, whatever the bytes; on success the mountability checks and the data
// layout must not crash either.
//
// Random bytes almost never pass the header checksum, so the same input is
// also fed straight to the LUKS2 JSON validator as a JSON area: this reaches
// the schema checks that the checksum would otherwise shield.
//
// Build: make fuzz. Run: build/fuzz/luks_header_fuzz CORPUS_DIR
// (seed with the first 64 KiB of a cryptsetup-formatted image).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "crypto/luks2_json.h"
#include "crypto/luks_header.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using luksfs::Status;
  using namespace luksfs::crypto;
  const ReadFn read = [data, size](uint64_t offset,
                                   std::span<uint8_t> dst) -> Status {
    if (offset > size || dst.size() > size - offset) {
      return Status::Corruption("image is truncated: read past the end");
    }
    if (!dst.empty()) std::memcpy(dst.data(), data + offset, dst.size());
    return Status();
  };
  luksfs::Result<LuksHeader> header = ReadLuksHeader(read, size);
  if (header.ok()) {
    (void)CheckMountable(*header);
    (void)ComputeDataLayout(*header, size);
  }

  LuksHeader from_json;
  const Status json_status = ParseLuks2Json(
      std::span<const uint8_t>(data, size), uint64_t{size} + 4096, &from_json);
  if (json_status.ok()) {
    (void)CheckMountable(from_json);
    (void)ComputeDataLayout(from_json, uint64_t{1} << 30);
  }
  return 0;
}
