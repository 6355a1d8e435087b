#include "fs/fuse/mountinfo.h"

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>
#include <vector>

namespace luksfs::fs {

namespace {

bool IsOctal(char c) { return c >= '0' && c <= '7'; }

// Splits on single spaces, as the kernel writes them; empty fields (two
// spaces in a row) are kept so that they fail the checks below.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    const size_t sp = line.find(' ', start);
    out.push_back(line.substr(start, sp - start));
    if (sp == std::string_view::npos) return out;
    start = sp + 1;
  }
}

bool ParseUnsigned(std::string_view s, unsigned* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

Status Malformed(std::string_view line, const std::string& why) {
  constexpr size_t kShown = 80;
  std::string shown(line.substr(0, kShown));
  if (line.size() > kShown) shown += "...";
  return Status::Corruption("mountinfo line \"" + shown + "\": " + why);
}

}  // namespace

std::string UnescapeMountInfo(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && IsOctal(field[i + 1]) &&
        IsOctal(field[i + 2]) && IsOctal(field[i + 3])) {
      out +=
          static_cast<char>(((field[i + 1] - '0') << 6) |
                            ((field[i + 2] - '0') << 3) | (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

Result<MountInfo> ParseMountInfoLine(std::string_view line) {
  const std::vector<std::string_view> f = Fields(line);
  // 6 fixed fields, optional fields, "-", then fstype, source, options.
  size_t sep = 6;
  while (sep < f.size() && f[sep] != "-") ++sep;
  if (f.size() < 10) return Malformed(line, "too few fields");
  if (sep >= f.size()) return Malformed(line, "no \"-\" separator");
  if (f.size() - sep != 4) {
    return Malformed(line, "expected 3 fields after \"-\", found " +
                               std::to_string(f.size() - sep - 1));
  }
  unsigned id = 0, parent = 0;
  if (!ParseUnsigned(f[0], &id) || !ParseUnsigned(f[1], &parent)) {
    return Malformed(line, "mount IDs are not numbers");
  }
  MountInfo m;
  const size_t colon = f[2].find(':');
  if (colon == std::string_view::npos ||
      !ParseUnsigned(f[2].substr(0, colon), &m.major) ||
      !ParseUnsigned(f[2].substr(colon + 1), &m.minor)) {
    return Malformed(line, "device is not MAJOR:MINOR");
  }
  m.root = UnescapeMountInfo(f[3]);
  m.mount_point = UnescapeMountInfo(f[4]);
  m.fstype = UnescapeMountInfo(f[sep + 1]);
  m.source = UnescapeMountInfo(f[sep + 2]);
  m.super_options = UnescapeMountInfo(f[sep + 3]);
  if (m.root.empty() || m.mount_point.empty() || m.fstype.empty()) {
    return Malformed(line, "empty field");
  }
  return m;
}

Result<MountInfo> FindMountIn(std::string_view text,
                              std::string_view mount_point) {
  std::optional<MountInfo> found;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    Result<MountInfo> m = ParseMountInfoLine(text.substr(start, nl - start));
    if (m.ok() && m->mount_point == mount_point) found = std::move(*m);
    start = nl + 1;
  }
  if (!found) {
    return Status::NotFound(std::string(mount_point) + ": not a mount point");
  }
  return std::move(*found);
}

Result<MountInfo> FindMount(const std::string& mount_point) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return PosixError("/proc/self/mountinfo", errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return PosixError("/proc/self/mountinfo", errno);
  return FindMountIn(text.str(), mount_point);
}

std::optional<std::string> SuperOption(const MountInfo& mount,
                                       std::string_view name) {
  std::string_view opts = mount.super_options;
  size_t start = 0;
  while (start <= opts.size()) {
    size_t comma = opts.find(',', start);
    if (comma == std::string_view::npos) comma = opts.size();
    const std::string_view opt = opts.substr(start, comma - start);
    const size_t eq = opt.find('=');
    if (opt.substr(0, eq) == name) {
      return std::string(eq == std::string_view::npos ? std::string_view()
                                                      : opt.substr(eq + 1));
    }
    start = comma + 1;
  }
  return std::nullopt;
}

}  // namespace luksfs::fs
