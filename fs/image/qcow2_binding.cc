#include "fs/image/qcow2_binding.h"

#include <algorithm>

namespace luksfs::fs::qcow2 {
namespace {

uint64_t RoundUp(uint64_t v, uint64_t to) { return (v + to - 1) / to * to; }

// `text` followed by NULs up to `len` bytes (len >= text.size()).
std::vector<uint8_t> Padded(std::string_view text, uint64_t len) {
  std::vector<uint8_t> out(len, 0);
  std::copy(text.begin(), text.end(), out.begin());
  return out;
}

// Index of the luksfs record in h.extensions, or -1.
int FindRecord(const Header& h) {
  for (size_t i = 0; i < h.extensions.size(); ++i) {
    if (h.extensions[i].type == kExtLuksfsKms) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

Result<std::optional<std::string>> BindingRecord(const Header& h) {
  const int i = FindRecord(h);
  if (i < 0) return std::optional<std::string>();
  const std::vector<uint8_t>& d = h.extensions[static_cast<size_t>(i)].data;
  size_t n = d.size();
  while (n > 0 && d[n - 1] == 0) --n;
  // An all-NUL record is a removed binding (see PlanBindingWrites).
  if (n == 0) return std::optional<std::string>();
  if (std::find(d.begin(), d.begin() + static_cast<ptrdiff_t>(n), 0) !=
      d.begin() + static_cast<ptrdiff_t>(n)) {
    return Status::Corruption("luksfs KMS header extension (" +
                              Hex(kExtLuksfsKms) +
                              ") has a NUL byte inside its text");
  }
  return std::optional<std::string>(
      std::string(reinterpret_cast<const char*>(d.data()), n));
}

Result<std::vector<std::vector<uint8_t>>> PlanBindingWrites(
    const Header& h, std::optional<std::string_view> json) {
  LUKSFS_ASSIGN_OR_RETURN(const std::vector<uint8_t> old_image,
                          SerializeHeader(h));
  const int at = FindRecord(h);
  const bool last = at >= 0 && static_cast<size_t>(at) + 1 == h.extensions.size();
  std::vector<Header> steps;
  if (!json) {
    if (at < 0) return std::vector<std::vector<uint8_t>>();
    Header n = h;
    if (last) {
      n.extensions.pop_back();  // the end marker takes its place
    } else {
      // Not last: blank it in place, so the extensions after it stay put.
      auto& d = n.extensions[static_cast<size_t>(at)].data;
      std::fill(d.begin(), d.end(), 0);
    }
    steps.push_back(std::move(n));
  } else if (json->empty() || json->find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("a binding record is non-empty text");
  } else if (at < 0) {
    Header n = h;
    n.extensions.push_back({kExtLuksfsKms, Padded(*json, RoundUp(json->size(), 8))});
    steps.push_back(std::move(n));
  } else {
    const std::vector<uint8_t>& old = h.extensions[static_cast<size_t>(at)].data;
    const uint64_t len = std::max<uint64_t>(old.size(), RoundUp(json->size(), 8));
    if (len > old.size() && last) {
      // Grow in two steps: the old text at the new length first.
      Header grow = h;
      std::vector<uint8_t>& d = grow.extensions.back().data;
      d.resize(len, 0);
      steps.push_back(std::move(grow));
    }
    Header n = h;
    n.extensions[static_cast<size_t>(at)].data = Padded(*json, len);
    steps.push_back(std::move(n));
  }

  std::vector<std::vector<uint8_t>> out;
  for (const Header& s : steps) {
    auto image = SerializeHeader(s);
    if (!image.ok()) {
      uint64_t used = old_image.size();
      if (at >= 0) {
        used -= 8 + RoundUp(h.extensions[static_cast<size_t>(at)].data.size(), 8);
      }
      const uint64_t need = 8 + RoundUp(json ? json->size() : 0, 8);
      const uint64_t free = h.cluster_size() > used ? h.cluster_size() - used : 0;
      return Status::ResourceExhausted(
          "the KMS binding record needs " + std::to_string(need) +
          " bytes but only " + std::to_string(free) + " are free in the " +
          std::to_string(h.cluster_size()) +
          "-byte qcow2 header cluster (use a cluster size of at least 4 KiB)");
    }
    // Cover the old header bytes too, so nothing stale stays behind.
    const uint64_t cover = std::min<uint64_t>(
        RoundUp(std::max(old_image.size(), image->size()), 512),
        h.cluster_size());
    image->resize(std::max<uint64_t>(cover, image->size()), 0);
    out.push_back(std::move(image).value());
  }
  return out;
}

}  // namespace luksfs::fs::qcow2
