// ReadLuks2Header: reads both LUKS2 header copies and picks one
// (LUKS2 On-Disk Format Specification, "LUKS2 header": the copy with the
// higher seqid wins; doc/formats.md).

#include <new>
#include <string>
#include <utility>

#include "crypto/luks2_disk_header.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {

namespace {

bool StartsWith(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// When the primary is damaged its hdr_size cannot be trusted: probe every
// allowed offset for a valid secondary, as cryptsetup does. Returns the first
// valid copy, else the most telling failure (a copy whose magic matched beats
// "bad magic").
Result<LuksHeader> ProbeSecondary(const ReadFn& read, uint64_t image_size) {
  Status best;
  for (uint64_t offset : kLuks2HdrSizes) {
    if (offset >= image_size) break;
    Result<LuksHeader> copy = ReadLuks2Copy(read, image_size, offset, true);
    if (copy.ok()) return copy;
    const Status& s = copy.status();
    if (best.ok() ||
        (best.message() == "bad magic" && s.message() != "bad magic")) {
      best = s;
    }
  }
  if (best.ok()) {
    return Status::Corruption(
        "image is truncated: no room for a secondary header");
  }
  return best;
}

Result<LuksHeader> ReadLuks2HeaderImpl(const ReadFn& read,
                                       uint64_t image_size) {
  if (image_size < kLuks2BinHeaderSize) {
    return Status::Corruption(
        "image is truncated: " + std::to_string(image_size) +
        " bytes, smaller than a LUKS2 binary header (4096)");
  }
  Result<LuksHeader> primary = ReadLuks2Copy(read, image_size, 0, false);
  Result<LuksHeader> secondary =
      primary.ok() ? ReadLuks2Copy(read, image_size, primary->hdr_size, true)
                   : ProbeSecondary(read, image_size);

  if (!primary.ok() && !secondary.ok()) {
    const Status& p = primary.status();
    const Status& s = secondary.status();
    if (p.code() == Status::Code::kIOError) {
      return p.WithContext("LUKS2 header");
    }
    if (StartsWith(p.message(), "image is truncated")) {
      return Status::Corruption(p.message());
    }
    std::string msg =
        p.message() == s.message()
            ? "LUKS2 header: " + p.message() + " (in both copies)"
            : "LUKS2 header: no valid copy (primary: " + p.message() +
                  "; secondary: " + s.message() + ")";
    if (p.code() == Status::Code::kNotSupported &&
        s.code() == Status::Code::kNotSupported) {
      return Status::NotSupported(std::move(msg));
    }
    return Status::Corruption(std::move(msg));
  }

  // Both valid: the higher seqid wins, the primary on a tie.
  const bool use_secondary =
      !primary.ok() || (secondary.ok() && secondary->seqid > primary->seqid);
  LuksHeader h =
      use_secondary ? std::move(secondary).value() : std::move(primary).value();
  h.primary_valid = primary.ok();
  h.secondary_valid = secondary.ok();
  h.primary_error = primary.ok() ? "" : primary.status().message();
  h.secondary_error = secondary.ok() ? "" : secondary.status().message();
  return h;
}

}  // namespace

Result<LuksHeader> ReadLuks2Header(const ReadFn& read, uint64_t image_size) {
  try {
    return ReadLuks2HeaderImpl(read, image_size);
  } catch (const std::bad_alloc&) {  // at most a few 4 MiB copies
    return Status::ResourceExhausted("LUKS2 header: out of memory");
  }
}

}  // namespace luksfs::crypto
