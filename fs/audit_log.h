// AuditLog: one JSON line per key event (unwrap, bind, unbind, rewrap,
// revocation seen, keys dropped, shred; key errors kms_unreachable,
// key_not_found, key_state_changed, unwrap_refused, grace_expired, each
// with a "reason"), to a file (appended, 0600) or
// syslog. Lines carry the time, the event, the image UUID and the key URI
// or id — never key material, passphrases or wrapped blobs.
//
// Thread-safety: Event() may be called from any thread.
#pragma once

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common/result.h"

namespace luksfs::fs {

class AuditLog {
 public:
  // dest: "" (no audit log), "syslog", or a file path.
  // Errors: kIOError if the file cannot be opened for appending.
  static Result<std::unique_ptr<AuditLog>> Open(const std::string& dest);
  ~AuditLog();

  // Reopens the file by its name (SIGHUP, after logrotate moved it); the
  // old file stays in use if that fails. No-op for syslog or no log.
  // Errors: kIOError naming the file.
  Status Reopen();

  // Writes {"time":..., "event": event, <fields>} as one line.
  void Event(const std::string& event,
             const std::map<std::string, std::string>& fields);

 private:
  AuditLog(std::FILE* file, bool syslog) : file_(file), syslog_(syslog) {}

  std::mutex mu_;  // guards writes to file_ (one line at a time)
  std::FILE* file_;
  bool syslog_;
  std::string path_;  // the file's name, for Reopen(); "" for syslog/none
};

}  // namespace luksfs::fs
