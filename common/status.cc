#include "common/status.h"

#include <cstring>

namespace luksfs {

namespace {

const char* CodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk: return "ok";
    case Status::Code::kInvalidArgument: return "invalid argument";
    case Status::Code::kNotFound: return "not found";
    case Status::Code::kPermissionDenied: return "permission denied";
    case Status::Code::kCorruption: return "corruption";
    case Status::Code::kNotSupported: return "not supported";
    case Status::Code::kIOError: return "I/O error";
    case Status::Code::kUnavailable: return "unavailable";
    case Status::Code::kKeyRevoked: return "key revoked";
    case Status::Code::kResourceExhausted: return "resource exhausted";
    case Status::Code::kInternal: return "internal error";
  }
  return "unknown";
}

}  // namespace

Status Status::WithContext(std::string_view prefix) const {
  if (ok()) return *this;
  Status s = *this;
  s.message_ = std::string(prefix) + ": " + message_;
  return s;
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

Status PosixError(std::string_view context, int err) {
  char buf[256];
  // GNU strerror_r returns a pointer that may or may not be buf.
  const char* text = strerror_r(err, buf, sizeof buf);
  return Status::IOError(std::string(context) + ": " + text, err);
}

}  // namespace luksfs
