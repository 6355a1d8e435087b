// Progress: the `-p` bar on stderr, as qemu-img prints it
// ("    (42.00/100%)"), followed by the rate and the time left, redrawn at
// most ten times a second; or with --json-progress one JSON object per
// line, at most once a second and once at the end:
//   {"done":N,"total":N,"percent":P,"bytes_per_second":R,"eta_seconds":E}
// Quiet when neither is asked for.
//
// Thread-safety: Update() may be called from any thread (one at a time).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>

namespace luksfs::fs::prep {

class Progress {
 public:
  Progress(bool bar, bool json, uint64_t total, std::FILE* out = stderr)
      : bar_(bar), json_(json), total_(total), out_(out),
        start_(std::chrono::steady_clock::now()) {}
  void Update(uint64_t done);
  // Final line (100%, or where it stopped) and a newline after the bar.
  void Finish(uint64_t done);

 private:
  void Print(uint64_t done, bool final);
  const bool bar_, json_;
  const uint64_t total_;
  std::FILE* out_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_bar_{}, last_json_{};
};

}  // namespace luksfs::fs::prep
