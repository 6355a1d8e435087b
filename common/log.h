// Logging: one line per event to stderr (foreground) or syslog (daemon).
//
// Never pass secrets: SecureBuffer has no formatter on purpose, and callers
// log names, offsets and keyslot numbers only.
//
// Thread-safety: all functions may be called from any thread; each line is
// written with a single write(2)/syslog(3) call, so lines never interleave.
#pragma once

#include <string_view>

namespace luksfs {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Where lines go. Default: stderr, minimum level kInfo.
// REQUIRES: called before other threads log (at start-up or daemonising).
void LogToSyslog(std::string_view ident);
void SetLogLevel(LogLevel min_level);

void Log(LogLevel level, std::string_view message);

inline void LogDebug(std::string_view m) { Log(LogLevel::kDebug, m); }
inline void LogInfo(std::string_view m) { Log(LogLevel::kInfo, m); }
inline void LogWarning(std::string_view m) { Log(LogLevel::kWarning, m); }
inline void LogError(std::string_view m) { Log(LogLevel::kError, m); }

}  // namespace luksfs
