#include "fs/storage/lease_record.h"

#include <charconv>
#include <sstream>
#include <system_error>

namespace luksfs::fs {

namespace {
constexpr const char kMagic[] = "luksfs-lease 1";
}  // namespace

std::string FormatLease(const LeaseRecord& r) {
  std::ostringstream os;
  os << kMagic << "\nhost=" << r.host << "\npid=" << r.pid
     << "\nmount=" << r.mount << "\nnonce=" << r.nonce
     << "\nexpires=" << r.expires << "\n";
  return os.str();
}

std::optional<LeaseRecord> ParseLease(const std::string& body) {
  if (body.size() > kMaxLeaseBytes) return std::nullopt;
  std::istringstream in(body);
  std::string line;
  if (!std::getline(in, line) || line != kMagic) return std::nullopt;
  LeaseRecord r;
  bool have_expires = false;
  auto num = [](const std::string& v, int64_t* out) {
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
    return ec == std::errc() && end == v.data() + v.size();
  };
  while (std::getline(in, line)) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) return std::nullopt;
    const std::string k = line.substr(0, eq);
    const std::string v = line.substr(eq + 1);
    if (k == "host") {
      r.host = v;
    } else if (k == "pid") {
      if (!num(v, &r.pid)) return std::nullopt;
    } else if (k == "mount") {
      r.mount = v;
    } else if (k == "nonce") {
      r.nonce = v;
    } else if (k == "expires") {
      if (!num(v, &r.expires)) return std::nullopt;
      have_expires = true;
    }  // unknown keys: ignored (newer writers)
  }
  if (!have_expires) return std::nullopt;
  return r;
}

}  // namespace luksfs::fs
