// S3Output: a new S3 object written as one streamed multipart upload, with
// no full local copy. Bytes are gathered in a buffer; every complete part
// (16 MiB) below the current write offset is uploaded at once, so memory
// stays at about two parts. Gaps (zero runs a sparse writer skipped) are
// filled with zeros, since an object has no holes. Commit() uploads the
// rest up to the size given to Truncate() and completes the upload; only
// then does the object appear under its key. Destroying an uncommitted
// S3Output aborts the upload, so no parts are left behind and no half
// object exists under the key. The zero fill of Commit() stops with
// kUnavailable "interrupted" when Interrupted() turns true.
//
// Write order: any order inside the current buffer, never below it (the
// header first, then the data in increasing offsets, as convert does).
//
// Thread-safety: one writer at a time. Errors: kIOError (S3, carrying the
// request), kInvalidArgument (a write below the uploaded part, an existing
// object without force).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fs/prep/output_file.h"
#include "fs/storage/s3_client.h"
#include "fs/storage/s3_uri.h"

namespace luksfs::fs::prep {

class S3Output : public OutputSink {
 public:
  static constexpr uint64_t kPartBytes = 16u << 20;

  static Result<std::unique_ptr<S3Output>> Create(const std::string& uri,
                                                  const S3Options& opts,
                                                  bool force);
  ~S3Output() override;

  Status WriteAt(uint64_t offset, std::span<const uint8_t> src) override;
  Status Truncate(uint64_t size) override;
  Status Commit() override;
  bool sequential() const override { return true; }

  // For outputs whose start is written last (qcow2: the header, after the
  // tables): the first part, bytes [0, kPartBytes), is kept in memory and
  // writable at any time; the stream starts at kPartBytes as parts 2..n,
  // and Commit() uploads the first part as part 1 last (S3 parts may be
  // uploaded in any order; it is >= 5 MiB unless it is the only part).
  // Call before the first write.
  void HoldFirstPart() {
    hold_ = true;
    buf_start_ = kPartBytes;
  }

 private:
  S3Output(std::string uri, std::string key, std::unique_ptr<S3Client> client)
      : uri_(std::move(uri)), key_(std::move(key)), client_(std::move(client)) {}
  // Uploads whole parts from the buffer while it starts below `limit`.
  Status FlushBelow(uint64_t limit, bool last);
  Status Upload(std::span<const uint8_t> part);
  Status CommitHeld();  // Commit() after HoldFirstPart()

  const std::string uri_, key_;
  std::unique_ptr<S3Client> client_;
  std::string upload_id_;            // "" until the first part
  std::vector<std::string> etags_;
  std::vector<uint8_t> buf_;         // bytes [buf_start_, buf_start_ + size)
  uint64_t buf_start_ = 0;
  uint64_t size_ = 0;                // from Truncate
  bool committed_ = false;
  bool hold_ = false;                // HoldFirstPart()
  std::vector<uint8_t> head_;        // held bytes [0, head_.size())
};

}  // namespace luksfs::fs::prep
