// CreatedKeyGuard: a root key that a command created in the KMS
// (--create-key on bind, create, convert) is destroyed again when a later
// step fails, so no orphan key is left in the KMS. Disarm() once the
// binding that uses the key is written (and proven).
//
// Thread-safety: CLI, one thread. `options` is borrowed and must outlive
// the guard. Errors: a failed destroy is reported on stderr (the command
// is already failing with its own error).
#pragma once

#include <string>

#include "kms-client/kms.h"

namespace luksfs::cli {

class CreatedKeyGuard {
 public:
  // `verb` names the failing command in the message ("bind", "create").
  CreatedKeyGuard(std::string verb, std::string uri, const kms::KmsOptions& options)
      : verb_(std::move(verb)), uri_(std::move(uri)), options_(options) {}
  ~CreatedKeyGuard() {
    if (armed_) Cleanup();
  }
  CreatedKeyGuard(const CreatedKeyGuard&) = delete;
  CreatedKeyGuard& operator=(const CreatedKeyGuard&) = delete;

  void Disarm() { armed_ = false; }
  // Destroys the key now and says so on stderr.
  void Cleanup();

 private:
  std::string verb_;
  std::string uri_;
  const kms::KmsOptions& options_;
  bool armed_ = true;
};

}  // namespace luksfs::cli
