#include "fs/prep/s3_output.h"

#include <algorithm>
#include <cstring>

#include "fs/prep/interrupt.h"

namespace luksfs::fs::prep {

Result<std::unique_ptr<S3Output>> S3Output::Create(const std::string& uri,
                                                   const S3Options& opts,
                                                   bool force) {
  const EnvFn env = ProcessEnv();
  LUKSFS_ASSIGN_OR_RETURN(S3Location loc, ParseS3Uri(uri));
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, OpenS3Client(loc, opts, env));
  auto head = client->Head(loc.key);
  if (head.ok() && !force) {
    return Status::InvalidArgument(uri + ": already exists (use --force to replace it)");
  }
  if (!head.ok() && head.status().code() != Status::Code::kNotFound) {
    return head.status().WithContext(uri);
  }
  return std::unique_ptr<S3Output>(new S3Output(uri, loc.key, std::move(client)));
}

S3Output::~S3Output() {
  if (!committed_ && !upload_id_.empty()) {
    client_->AbortMultipartUpload(key_, upload_id_);
  }
  SecureWipe(buf_.data(), buf_.size());
  SecureWipe(head_.data(), head_.size());
}

Status S3Output::Upload(std::span<const uint8_t> part) {
  if (upload_id_.empty()) {
    LUKSFS_ASSIGN_OR_RETURN(upload_id_, client_->CreateMultipartUpload(key_));
  }
  const int number = static_cast<int>(etags_.size()) + (hold_ ? 2 : 1);
  if (number > 10000) return Status::InvalidArgument(uri_ + ": more than 10000 parts");
  auto etag = client_->UploadPart(key_, upload_id_, number, part);
  if (!etag.ok()) return etag.status().WithContext(uri_);
  etags_.push_back(*etag);
  return Status();
}

Status S3Output::FlushBelow(uint64_t limit, bool last) {
  while (buf_.size() >= kPartBytes && buf_start_ + kPartBytes <= limit) {
    LUKSFS_RETURN_IF_ERROR(Upload({buf_.data(), kPartBytes}));
    SecureWipe(buf_.data(), kPartBytes);
    buf_.erase(buf_.begin(), buf_.begin() + kPartBytes);
    buf_start_ += kPartBytes;
  }
  if (last && (!buf_.empty() || etags_.empty())) {
    LUKSFS_RETURN_IF_ERROR(Upload(buf_));
    buf_start_ += buf_.size();
    SecureWipe(buf_.data(), buf_.size());
    buf_.clear();
  }
  return Status();
}

Status S3Output::WriteAt(uint64_t offset, std::span<const uint8_t> src) {
  if (hold_ && offset < kPartBytes) {
    const uint64_t n = std::min<uint64_t>(src.size(), kPartBytes - offset);
    if (head_.size() < offset + n) head_.resize(offset + n, 0);
    std::memcpy(head_.data() + offset, src.data(), n);
    if (n == src.size()) return Status();
    offset += n;
    src = src.subspan(n);
  }
  if (offset < buf_start_) {
    return Status::InvalidArgument(uri_ + ": write at " + std::to_string(offset) +
                                   " below the uploaded part");
  }
  // Parts wholly below this write are final: upload them first, zero-
  // filling up to the write.
  while (offset >= buf_start_ + kPartBytes) {
    if (buf_.size() < kPartBytes) buf_.resize(kPartBytes, 0);
    LUKSFS_RETURN_IF_ERROR(FlushBelow(offset, false));
  }
  const uint64_t at = offset - buf_start_;
  if (buf_.size() < at + src.size()) buf_.resize(at + src.size(), 0);
  std::memcpy(buf_.data() + at, src.data(), src.size());
  return Status();
}

Status S3Output::Truncate(uint64_t size) {
  size_ = size;
  return Status();
}

Status S3Output::Commit() {
  if (hold_) return CommitHeld();
  const uint64_t end = std::max(size_, buf_start_ + buf_.size());
  // Zero-fill to the end, part by part.
  while (buf_start_ + buf_.size() < end) {
    if (Interrupted()) return Status::Unavailable("interrupted");
    const uint64_t want = std::min<uint64_t>(kPartBytes, end - buf_start_);
    if (buf_.size() < want) buf_.resize(want, 0);
    if (buf_start_ + buf_.size() < end) {
      LUKSFS_RETURN_IF_ERROR(FlushBelow(buf_start_ + kPartBytes, false));
    }
  }
  LUKSFS_RETURN_IF_ERROR(FlushBelow(end, true));
  Status s = client_->CompleteMultipartUpload(key_, upload_id_, etags_);
  if (!s.ok()) return s.WithContext(uri_);
  committed_ = true;
  return Status();
}

Status S3Output::CommitHeld() {
  const uint64_t end = std::max({size_, buf_start_ + buf_.size(), uint64_t{head_.size()}});
  if (end > kPartBytes) {
    while (buf_start_ + buf_.size() < end) {
      if (Interrupted()) return Status::Unavailable("interrupted");
      const uint64_t want = std::min<uint64_t>(kPartBytes, end - buf_start_);
      if (buf_.size() < want) buf_.resize(want, 0);
      if (buf_start_ + buf_.size() < end) {
        LUKSFS_RETURN_IF_ERROR(FlushBelow(buf_start_ + kPartBytes, false));
      }
    }
    LUKSFS_RETURN_IF_ERROR(FlushBelow(end, true));
    head_.resize(kPartBytes, 0);
  } else {
    head_.resize(end, 0);
  }
  if (upload_id_.empty()) {
    LUKSFS_ASSIGN_OR_RETURN(upload_id_, client_->CreateMultipartUpload(key_));
  }
  auto etag = client_->UploadPart(key_, upload_id_, 1, head_);
  if (!etag.ok()) return etag.status().WithContext(uri_);
  SecureWipe(head_.data(), head_.size());
  etags_.insert(etags_.begin(), *etag);
  Status s = client_->CompleteMultipartUpload(key_, upload_id_, etags_);
  if (!s.ok()) return s.WithContext(uri_);
  committed_ = true;
  return Status();
}

}  // namespace luksfs::fs::prep
