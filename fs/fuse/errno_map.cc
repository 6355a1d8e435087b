#include "fs/fuse/errno_map.h"

#include <cerrno>

namespace luksfs::fs {

int ToErrno(const Status& s) {
  switch (s.code()) {
    case Status::Code::kOk: return 0;
    case Status::Code::kNotFound: return ENOENT;
    case Status::Code::kPermissionDenied: return EACCES;
    case Status::Code::kNotSupported: return EOPNOTSUPP;
    case Status::Code::kIOError: return s.os_errno() != 0 ? s.os_errno() : EIO;
    case Status::Code::kResourceExhausted: return ENOSPC;
    case Status::Code::kInvalidArgument: return EINVAL;
    case Status::Code::kCorruption:
    case Status::Code::kUnavailable:
    case Status::Code::kKeyRevoked:
    case Status::Code::kInternal: return EIO;
  }
  return EIO;
}

}  // namespace luksfs::fs
