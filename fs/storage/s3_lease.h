// S3Lease: one read-write mount of an s3:// image at a time, across hosts.
//
// The lease is the object KEY.luksfs-lease beside the image, created with a
// conditional PUT (If-None-Match: *), so of two racing mounts exactly one
// creates it. Its body is a LeaseRecord (fs/storage/lease_record.h).
// The holder renews it every ttl/3 s with a PUT If-Match its last ETag,
// moving `expires` ttl s ahead, and deletes it when the mount ends. A lease
// whose `expires` has passed (its holder died or lost the network) may be
// taken over, again by a conditional PUT (If-Match the stale ETag). Hosts'
// clocks must agree to within a small part of ttl.
//
// If a renewal finds the lease changed (someone took it over after it
// expired), or renewals fail until the lease the server holds expires,
// `on_lost` is called once, from the renewal thread: the caller must stop
// writing (the mount goes dark).
//
// Thread-safety: the renewal thread is internal; Acquire and the destructor
// run on the owner's thread.
// Errors: kIOError EAGAIN "s3://B/K: in use by luksfs pid N on HOST,
// mounted at MNT (lease expires in S s)" when another holder's lease is
// live; S3 errors otherwise (kIOError, kNotFound for a missing bucket).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "common/result.h"
#include "fs/storage/lease_record.h"
#include "fs/storage/s3_client.h"
#include "fs/storage/s3_uri.h"

namespace luksfs::fs {

class S3Lease {
 public:
  static Result<std::unique_ptr<S3Lease>> Acquire(
      const std::string& uri, const S3Options& opts, const EnvFn& env,
      const std::string& mountpoint, unsigned ttl_s,
      std::function<void(const std::string&)> on_lost);

  // Stops renewing and deletes the lease if it is still ours.
  ~S3Lease();
  S3Lease(const S3Lease&) = delete;
  S3Lease& operator=(const S3Lease&) = delete;

  const std::string& lease_name() const { return name_; }

 private:
  S3Lease(std::unique_ptr<S3Client> client, std::string key, std::string name,
          LeaseRecord record, std::string etag, unsigned ttl_s,
          std::function<void(const std::string&)> on_lost);
  void RenewLoop();

  std::unique_ptr<S3Client> client_;
  const std::string key_;   // the lease object's key
  const std::string name_;  // s3://bucket/key.luksfs-lease
  LeaseRecord record_;      // renewal thread only, after construction
  std::string etag_;        // renewal thread only; the destructor after join
  const unsigned ttl_s_;
  std::function<void(const std::string&)> on_lost_;
  bool lost_ = false;       // renewal thread only; the destructor after join
  int64_t confirmed_until_;  // renewal thread only: expiry the server holds

  std::mutex mu_;
  std::condition_variable cv_;  // with mu_: stop_
  bool stop_ = false;           // guarded by mu_
  std::thread thread_;
};

}  // namespace luksfs::fs
