// OutputFile: a new local file written under a temporary name
// (PATH.tmp-XXXXXX, same directory, mode 0600 until committed) and renamed
// to PATH only by Commit(), after fsync. Destroying an uncommitted
// OutputFile unlinks the temporary, so an error or an interrupt (the
// caller stops on a signal flag) leaves no file under PATH.
//
// Refuses an existing PATH unless `force`; with `force`, PATH is replaced
// atomically by the rename.
//
// Thread-safety: WriteAt may be called concurrently (pwrite); the rest is
// for one thread. Errors: kIOError naming the path; kInvalidArgument for
// an existing PATH without force.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace luksfs::fs::prep {

// Where convert and create write a new image: a local file (OutputFile) or
// an S3 object (S3Output). Nothing is visible under the final name before
// Commit(); destroying an uncommitted sink discards what was written.
class OutputSink {
 public:
  virtual ~OutputSink() = default;
  virtual Status WriteAt(uint64_t offset, std::span<const uint8_t> src) = 0;
  // Sets the final size; unwritten ranges read as zeros.
  virtual Status Truncate(uint64_t size) = 0;
  virtual Status Commit() = 0;
  // True when writes must come in increasing offset order once past the
  // header (S3: parts are uploaded as the writes pass them).
  virtual bool sequential() const { return false; }
};

class OutputFile : public OutputSink {
 public:
  static Result<std::unique_ptr<OutputFile>> Create(const std::string& path,
                                                    bool force);
  ~OutputFile() override;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  Status WriteAt(uint64_t offset, std::span<const uint8_t> src) override;
  // Sets the file size (sparse: nothing is written).
  Status Truncate(uint64_t size) override;
  // fsync, chmod 0644 & ~umask, rename to the final path, fsync the
  // directory. Afterwards the object no longer owns a temporary.
  Status Commit() override;

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return tmp_; }
  int fd() const { return fd_.get(); }

 private:
  OutputFile(std::string path, std::string tmp, UniqueFd fd)
      : path_(std::move(path)), tmp_(std::move(tmp)), fd_(std::move(fd)) {}
  std::string path_;
  std::string tmp_;
  UniqueFd fd_;
  bool committed_ = false;
};

// Whether `path` exists (any type). Used to refuse before doing work.
bool PathExists(const std::string& path);

}  // namespace luksfs::fs::prep
