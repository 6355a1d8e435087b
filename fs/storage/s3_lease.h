// S3Lease: an exclusive, expiring claim on one S3 object for a read-write
// mount, so that a second writer on another host is refused.
//
// The lease is the object KEY.luksfs-lease holding one JSON line:
//   {"host":"H","pid":N,"mounted":"2026-12-01T21:00:00Z","expires":UNIX_S,
//    "seconds":N,"nonce":"32 hex"}
// Acquire: PUT with If-None-Match: * (create only). If it exists and has not
// expired, the mount is refused, naming the holder. If it expired (its
// holder died without releasing it), it is replaced with a PUT If-Match on
// the stale lease's ETag, so that of two hosts taking over the same stale
// lease only one succeeds. Every write is confirmed by reading the lease
// back and comparing the nonce.
// Renewal: a thread re-PUTs it (If-Match on our own ETag) every seconds/3
// with a new expiry. A 412 there means someone took it over: logged as an
// error (the image's own ETag pin still refuses to overwrite their commits).
// Release (destructor): read it back, and if it is still ours, DELETE it.
//
// Server notes (Ceph RGW 16.2): If-None-Match: * on PUT is honoured (412 on
// an existing key); If-Match on PUT is compared with the ETag without its
// quotes (a quoted ETag never matches), so a 412 with the quoted form is
// retried once with the bare form when a HEAD shows the ETag unchanged;
// If-Match on DELETE is ignored, so release checks the nonce first (a
// takeover between that check and the DELETE is possible only after our
// lease expired). Expiry is judged on the local clock of the host that
// finds the lease: hosts must agree on the time within a few seconds
// (SigV4 itself needs them within 15 minutes).
//
// Thread-safety: the object is used by one owner; the renewal thread is
// internal (mu_ guards etag_ and stop_; never held across network I/O).
// Errors: Acquire returns kIOError EBUSY "in use" naming the holder, or the
// S3 error of the request that failed.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"
#include "fs/storage/s3_client.h"

namespace luksfs::fs {

// One lease record. Parse returns nullopt for anything malformed.
struct LeaseRecord {
  std::string host;
  int64_t pid = 0;
  std::string mounted;  // ISO 8601 UTC
  int64_t expires = 0;  // Unix seconds
  int64_t seconds = 0;
  std::string nonce;

  std::string ToJson() const;
  static std::optional<LeaseRecord> Parse(std::string_view json);
  // "host H pid P since T"
  std::string Holder() const;
};

class S3Lease {
 public:
  static std::string LeaseKey(const std::string& key) { return key + ".luksfs-lease"; }

  // `client` must outlive the lease. `seconds` >= 3.
  static Result<std::unique_ptr<S3Lease>> Acquire(S3Client* client,
                                                  const std::string& key,
                                                  uint64_t seconds);
  ~S3Lease();  // stops renewal, then releases
  S3Lease(const S3Lease&) = delete;
  S3Lease& operator=(const S3Lease&) = delete;

  const LeaseRecord& record() const { return rec_; }

 private:
  S3Lease(S3Client* client, std::string lease_key, LeaseRecord rec,
          std::string etag, bool bare_etag);
  void RenewLoop();
  Status Renew();
  void Release();

  S3Client* const client_;
  const std::string lease_key_;
  LeaseRecord rec_;      // owner thread only before start; renewal thread after
  std::mutex mu_;
  std::condition_variable cv_;
  std::string etag_;     // guarded by mu_
  bool bare_etag_;       // guarded by mu_: send If-Match without quotes
  bool stop_ = false;    // guarded by mu_
  bool lost_ = false;    // guarded by mu_
  std::thread renewer_;
};

}  // namespace luksfs::fs
