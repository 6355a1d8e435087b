// Logging: one line per event to stderr (foreground) or syslog (daemon).
//
// Never pass secrets: SecureBuffer has no formatter on purpose, and callers
// log names, offsets and keyslot numbers only.
//
// Thread-safety: all functions may be called from any thread; each line is
// written with a single write(2)/syslog(3) call, so lines never interleave.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace luksfs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Where lines go. Default: stderr, minimum level kInfo.
// REQUIRES: called before other threads log (at start-up or daemonising).
void LogToSyslog(std::string_view ident);
void SetLogLevel(LogLevel min_level);

// Appends lines, each "<ISO 8601 UTC time> luksfs[PID]: <level>: message",
// to PATH (created 0600; a symlink is refused). Errors: PosixError naming
// PATH. REQUIRES: as LogToSyslog.
Status LogToFile(const std::string& path);

// True when a syslog socket (/dev/log) exists: syslog(3) would reach a
// daemon or the journal, not drop the lines.
bool SyslogAvailable();

void Log(LogLevel level, std::string_view message);

inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace luksfs
