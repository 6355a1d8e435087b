#include "fs/prep/progress.h"

namespace luksfs::fs::prep {

void Progress::Update(uint64_t done) { Print(done, false); }

void Progress::Finish(uint64_t done) {
  Print(done, true);
  if (bar_) std::fputc('\n', out_);
  std::fflush(out_);
}

void Progress::Print(uint64_t done, bool final) {
  if (!bar_ && !json_) return;
  const auto now = std::chrono::steady_clock::now();
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? done / secs : 0;
  const double pct = total_ ? 100.0 * done / total_ : 100.0;
  const double eta = rate > 0 ? (total_ - done) / rate : 0;
  if (bar_ && (final || now - last_bar_ >= std::chrono::milliseconds(100))) {
    last_bar_ = now;
    const long e = static_cast<long>(eta + 0.5);
    std::fprintf(out_, "\r    (%.2f/100%%) %7.1f MB/s ETA %ld:%02ld  ", pct,
                 rate / 1e6, e / 60, e % 60);
    std::fflush(out_);
  }
  if (json_ && (final || now - last_json_ >= std::chrono::seconds(1))) {
    last_json_ = now;
    std::fprintf(out_,
                 "{\"done\":%llu,\"total\":%llu,\"percent\":%.2f,"
                 "\"bytes_per_second\":%.0f,\"eta_seconds\":%.1f}\n",
                 static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total_), pct, rate, eta);
    std::fflush(out_);
  }
}

}  // namespace luksfs::fs::prep
