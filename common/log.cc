#include "common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <string>

namespace luksfs {

namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_syslog{false};
std::string* g_ident = nullptr;  // kept alive for openlog(3)
// LogToFile; never closed (lives as long as the process). A raw atomic int,
// not a UniqueFd: Log() reads it lock-free from any thread, and a static
// UniqueFd would close it at exit under threads still logging.
std::atomic<int> g_file_fd{-1};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warning";
    case LogLevel::kError: return "error";
  }
  return "?";
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return LOG_DEBUG;
    case LogLevel::kInfo: return LOG_INFO;
    case LogLevel::kWarning: return LOG_WARNING;
    case LogLevel::kError: return LOG_ERR;
  }
  return LOG_INFO;
}

}  // namespace

void LogToSyslog(std::string_view ident) {
  if (g_ident == nullptr) g_ident = new std::string(ident);
  openlog(g_ident->c_str(), LOG_PID, LOG_DAEMON);
  g_syslog = true;
}

Status LogToFile(const std::string& path) {
  const int fd = open(path.c_str(),
                      O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return PosixError("cannot open log file '" + path + "'", errno);
  const int old = g_file_fd.exchange(fd);
  if (old >= 0) close(old);
  g_syslog = false;
  return Status::Ok();
}

bool SyslogAvailable() {
  struct stat st;
  return stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode);
}

void SetLogLevel(LogLevel min_level) {
  g_min_level = static_cast<int>(min_level);
}

void Log(LogLevel level, std::string_view message) {
  if (static_cast<int>(level) < g_min_level) return;
  if (g_syslog) {
    syslog(SyslogPriority(level), "%.*s", static_cast<int>(message.size()),
           message.data());
    return;
  }
  const int file_fd = g_file_fd.load();
  std::string line;
  if (file_fd >= 0) {
    char stamp[32];
    const time_t now = time(nullptr);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    line = std::string(stamp) + " luksfs[" + std::to_string(getpid()) + "]: ";
    line += LevelName(level);
    line += ": ";
    line += message;
    line += '\n';
    ssize_t ignored = write(file_fd, line.data(), line.size());
    (void)ignored;
    return;
  }
  line = "luksfs: ";
  if (level != LogLevel::kInfo) {
    line += LevelName(level);
    line += ": ";
  }
  line += message;
  line += '\n';
  ssize_t ignored = write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace luksfs
