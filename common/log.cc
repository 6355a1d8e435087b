#include "common/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace luksfs {

namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_syslog{false};
std::string* g_ident = nullptr;  // kept alive for openlog(3)

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
  std::string line = "luksfs: ";
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
