// Status: the error vocabulary below the CLI and FUSE layers.
//
// A Status is OK or carries a Code, a one-line operator-facing message, and,
// for kIOError, the errno that the OS reported. OK is cheap (no allocation).
// Messages name the thing and what is wrong ("image.luks: keyslot 3: ...").
// They never contain key material or passphrases.
//
// Thread-safety: a Status is a value; distinct objects may be used from
// distinct threads freely.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace luksfs {

class Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,    // caller passed something malformed (usage error)
    kNotFound,           // a file, object, key or keyslot that does not exist
    kPermissionDenied,   // wrong passphrase / key: nothing could be unlocked
    kCorruption,         // malformed on-disk data: bad magic, checksum, JSON
    kNotSupported,       // valid but unsupported: cipher, requirement, ...
    kIOError,            // the OS failed an I/O call; errno() says why
    kUnavailable,        // a remote service could not be reached
    kKeyRevoked,         // a KMS says the key is revoked, destroyed or disabled
    kResourceExhausted,  // a bound was hit (memory, size)
    kInternal,           // a bug; the message says where
  };

  Status() = default;  // OK

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) {
    return Status(Code::kInvalidArgument, std::move(msg));
  }
  static Status NotFound(std::string msg) {
    return Status(Code::kNotFound, std::move(msg));
  }
  static Status PermissionDenied(std::string msg) {
    return Status(Code::kPermissionDenied, std::move(msg));
  }
  static Status Corruption(std::string msg) {
    return Status(Code::kCorruption, std::move(msg));
  }
  static Status NotSupported(std::string msg) {
    return Status(Code::kNotSupported, std::move(msg));
  }
  // err is the errno the OS reported.
  static Status IOError(std::string msg, int err) {
    Status s(Code::kIOError, std::move(msg));
    s.errno_ = err;
    return s;
  }
  static Status Unavailable(std::string msg) {
    return Status(Code::kUnavailable, std::move(msg));
  }
  static Status KeyRevoked(std::string msg) {
    return Status(Code::kKeyRevoked, std::move(msg));
  }
  static Status ResourceExhausted(std::string msg) {
    return Status(Code::kResourceExhausted, std::move(msg));
  }
  static Status Internal(std::string msg) {
    return Status(Code::kInternal, std::move(msg));
  }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // The OS errno for kIOError, 0 otherwise.
  int os_errno() const { return errno_; }

  // Returns a copy whose message is "prefix: message". OK stays OK.
  Status WithContext(std::string_view prefix) const;

  // "corruption: image.luks: bad magic" style, for logs and tests.
  std::string ToString() const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}

  Code code_ = Code::kOk;
  int errno_ = 0;
  std::string message_;
};

// Builds an IOError from an errno: "context: strerror(err)".
Status PosixError(std::string_view context, int err);

}  // namespace luksfs

// Propagates a non-OK Status from the current function.
#define LUKSFS_RETURN_IF_ERROR(expr)             \
  do {                                           \
    ::luksfs::Status luksfs_status_ = (expr);    \
    if (!luksfs_status_.ok()) return luksfs_status_; \
  } while (0)
