#include "fs/cli/fuse_log.h"

#include <fuse_log.h>

#include <cstdarg>
#include <cstdio>
#include <mutex>

#include "common/log.h"

namespace luksfs::cli {

namespace {

std::mutex g_mu;
std::string* g_last = nullptr;  // guarded by g_mu; never freed

void Handler(enum fuse_log_level level, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  std::string m(buf);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  if (m.rfind("fuse: ", 0) == 0) m.erase(0, 6);
  LogDebug("libfuse: " + m);
  if (level <= FUSE_LOG_ERR) {
    std::lock_guard<std::mutex> l(g_mu);
    if (g_last == nullptr) g_last = new std::string;
    *g_last = m;
  }
}

}  // namespace

void CaptureFuseLog() { fuse_set_log_func(Handler); }

std::string LastFuseError() {
  std::lock_guard<std::mutex> l(g_mu);
  return g_last == nullptr ? std::string() : *g_last;
}

}  // namespace luksfs::cli
