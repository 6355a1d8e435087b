// LeaseRecord: the body of an S3 lease object (fs/storage/s3_lease.h), as
// text, one "key=value" a line after the magic line "luksfs-lease 1":
//   host=HOSTNAME, pid=PID, mount=MOUNTPOINT, nonce=32 hex digits,
//   expires=UNIX SECONDS.
// The body comes from the bucket, so from anyone who may write there:
// ParseLease takes untrusted bytes (fuzzed: fs/lease_record_fuzz.cc).
//
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace luksfs::fs {

struct LeaseRecord {
  std::string host;
  int64_t pid = 0;
  std::string mount;
  std::string nonce;
  int64_t expires = 0;  // unix seconds
};

std::string FormatLease(const LeaseRecord& r);

// nullopt for anything that is not a version-1 lease body of at most
// kMaxLeaseBytes with a numeric expiry; unknown keys are ignored.
std::optional<LeaseRecord> ParseLease(const std::string& body);

inline constexpr size_t kMaxLeaseBytes = 4096;

}  // namespace luksfs::fs
