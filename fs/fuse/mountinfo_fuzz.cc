// libFuzzer target: the /proc/self/mountinfo parser (fs/fuse/mountinfo.h).
// The kernel writes that file, but a mount's fields (source, mount point,
// options) come from whoever mounted it, so every byte is treated as hostile.
//
// Checks, beyond "no crash, no sanitizer report": an unescaped field is never
// longer than its escaped form; a mount found has the mount point asked for.
//
// Build: make fuzz. Run: build/fuzz/mountinfo_fuzz CORPUS_DIR

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fs/fuse/mountinfo.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace luksfs::fs;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (UnescapeMountInfo(text).size() > text.size()) {
    std::fprintf(stderr, "UnescapeMountInfo grew its input\n");
    std::abort();
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    luksfs::Result<MountInfo> m = ParseMountInfoLine(text.substr(start, end - start));
    if (m.ok()) {
      (void)SuperOption(*m, "user_id");
      (void)SuperOption(*m, "default_permissions");
    }
    start = end + 1;
  }
  for (const char* mp : {"/mnt/luksfs", "/", "/tmp/a b"}) {
    luksfs::Result<MountInfo> m = FindMountIn(text, mp);
    if (m.ok() && m->mount_point != mp) {
      std::fprintf(stderr, "FindMountIn(%s) returned %s\n", mp,
                   m->mount_point.c_str());
      std::abort();
    }
  }
  return 0;
}
