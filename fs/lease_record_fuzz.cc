// libFuzzer target: the input is the body of an S3 lease object, which any
// writer of the bucket controls. ParseLease must never crash, hang, or
// allocate without bound; what it accepts must format and parse back to the
// same record.
//
// Build: make fuzz. Run: build/fuzz/lease_record_fuzz CORPUS_DIR
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fs/storage/lease_record.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace luksfs::fs;
  const std::string body(reinterpret_cast<const char*>(data), size);
  std::optional<LeaseRecord> r = ParseLease(body);
  if (!r) return 0;
  // Values with a newline cannot round-trip; the parser never yields them.
  std::optional<LeaseRecord> again = ParseLease(FormatLease(*r));
  if (!again || again->pid != r->pid || again->expires != r->expires ||
      again->host != r->host || again->mount != r->mount ||
      again->nonce != r->nonce) {
    if (FormatLease(*r).size() <= kMaxLeaseBytes) std::abort();
  }
  return 0;
}
