#include "fs/audit_log.h"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/unique_fd.h"

namespace luksfs::fs {

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& dest) {
  if (dest.empty()) return std::unique_ptr<AuditLog>(new AuditLog(nullptr, false));
  if (dest == "syslog") return std::unique_ptr<AuditLog>(new AuditLog(nullptr, true));
  UniqueFd fd(open(dest.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return PosixError("audit log '" + dest + "'", errno);
  std::FILE* f = fdopen(fd.get(), "a");
  if (f == nullptr) return PosixError("audit log '" + dest + "'", errno);
  fd.release();  // f owns it now
  std::unique_ptr<AuditLog> log(new AuditLog(f, false));
  log->path_ = dest;
  return log;
}

Status AuditLog::Reopen() {
  if (path_.empty()) return Status();
  UniqueFd fd(open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
  if (fd.get() < 0) return PosixError("audit log '" + path_ + "'", errno);
  std::FILE* f = fdopen(fd.get(), "a");
  if (f == nullptr) return PosixError("audit log '" + path_ + "'", errno);
  fd.release();  // f owns it now
  std::lock_guard<std::mutex> lock(mu_);
  std::fclose(file_);
  file_ = f;
  return Status();
}

AuditLog::~AuditLog() {
  if (file_ != nullptr) std::fclose(file_);
}

void AuditLog::Event(const std::string& event,
                     const std::map<std::string, std::string>& fields) {
  if (file_ == nullptr && !syslog_) return;
  char when[32];
  std::time_t now = std::time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
  nlohmann::ordered_json j;
  j["time"] = when;
  j["event"] = event;
  j["pid"] = static_cast<int>(getpid());
  for (const auto& [k, v] : fields) j[k] = v;
  const std::string line = j.dump(-1, ' ', false,
                                  nlohmann::json::error_handler_t::replace);
  std::lock_guard<std::mutex> lock(mu_);
  if (syslog_) {
    syslog(LOG_AUTHPRIV | LOG_NOTICE, "luksfs-audit %s", line.c_str());
  } else {
    std::fprintf(file_, "%s\n", line.c_str());
    std::fflush(file_);
  }
}

}  // namespace luksfs::fs
