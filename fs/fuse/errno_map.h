// The ONE place a Status becomes an errno for the kernel (FUSE replies).
#pragma once

#include "common/status.h"

namespace luksfs::fs {

// kNotFound -> ENOENT, kPermissionDenied -> EACCES, kNotSupported ->
// EOPNOTSUPP, kIOError -> its errno (EIO if none), kResourceExhausted ->
// ENOSPC, kInvalidArgument -> EINVAL, everything else (corruption, revoked
// keys, unavailable storage, internal) -> EIO.
int ToErrno(const Status& s);

}  // namespace luksfs::fs
