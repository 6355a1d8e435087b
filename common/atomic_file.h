// Replacing a file atomically: the one writer of the project for files that
// must be either the old or the new contents after a crash (sidecars,
// keystores, wrapped keys).
//
// WriteFileAtomic writes PATH.tmp.XXXXXX in PATH's directory with MODE,
// fsyncs it, rename(2)s it over PATH and fsyncs the directory. On failure
// the temporary file is removed and PATH is untouched (unless only the
// final directory fsync failed: then PATH is new but maybe not durable).
// A symlink at PATH is replaced, not followed.
//
// Errors: kIOError "cannot write 'PATH': <strerror>" for every step on the
// file, "cannot sync directory 'DIR': <strerror>" for the last one.
// Thread-safety: none needed; concurrent writers of one PATH must lock
// themselves (the last rename wins).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/status.h"

namespace luksfs {

Status WriteFileAtomic(const std::string& path,
                       std::span<const uint8_t> bytes, mode_t mode = 0600);

inline Status WriteFileAtomic(const std::string& path, std::string_view text,
                              mode_t mode = 0600) {
  return WriteFileAtomic(
      path, {reinterpret_cast<const uint8_t*>(text.data()), text.size()},
      mode);
}

// The directory part of PATH: "." for "name", "/" for "/name".
std::string DirectoryOf(const std::string& path);

}  // namespace luksfs
