#include "fs/cli/edit_outcome.h"

#include <optional>
#include <string>
#include <vector>

#include "crypto/luks_header.h"
#include "fs/cli/kms_binding.h"

namespace luksfs::cli {

namespace {

// Big-endian seqid of the LUKS2 binary header copy at `offset` (bytes
// 16..23 of the header, LUKS2 on-disk format), or nullopt if unreadable.
std::optional<uint64_t> SeqidAt(const OpenedImage& image, uint64_t offset) {
  uint8_t b[8];
  if (!image.read(offset + 16, b).ok()) return std::nullopt;
  uint64_t x = 0;
  for (uint8_t c : b) x = (x << 8) | c;
  return x;
}

}  // namespace

std::string DescribeOnDisk(const OpenedImage& image) {
  Result<crypto::LuksHeader> h =
      crypto::ReadLuksHeader(image.read, image.luks_size());
  if (!h.ok()) {
    return "on disk now: NEEDS REPAIR: no readable LUKS header (" +
           h.status().message() +
           "); repair: restore a header backup (cryptsetup "
           "luksHeaderRestore " + image.path + " --header-backup-file FILE)";
  }
  std::string out = "on disk now: ";
  std::vector<std::string> repairs;

  OpenedImage now;
  now.path = image.path;
  now.header = *h;
  // A fresh container reads the binding record (qcow2) as it is on disk
  // now; it borrows image.storage, which outlives `now`.
  if (image.storage != nullptr) {
    auto c = fs::OpenContainer(image.storage.get(), false, {});
    if (c.ok()) now.container = std::move(c).value();
  }
  std::optional<KmsBinding> binding;
  std::optional<CliError> e = FindBinding(now, &binding);
  std::string slots;
  bool slot_active = false;
  for (const crypto::Keyslot& ks : h->keyslots) {
    slots += (slots.empty() ? "" : ",") + std::to_string(ks.index);
    if (binding && ks.index == binding->keyslot) slot_active = true;
  }
  if (e) {
    out += "binding unreadable (" + e->message + ")";
    repairs.push_back("luksfs unbind " + image.path);
  } else if (binding && slot_active) {
    out += "bound to " + binding->kms + " (keyslot " +
           std::to_string(binding->keyslot) + ")";
  } else if (binding) {
    out += "NEEDS REPAIR: the binding names keyslot " +
           std::to_string(binding->keyslot) + ", which is not active";
    repairs.push_back("luksfs unbind " + image.path +
                      " removes the stale binding");
  } else {
    out += "not bound to a KMS";
  }
  out += ", keyslots " + (slots.empty() ? std::string("none") : slots);

  if (h->version == 2) {
    std::optional<uint64_t> p = SeqidAt(image, 0);
    std::optional<uint64_t> s = SeqidAt(image, h->hdr_size);
    if (h->primary_valid && h->secondary_valid && p && s && *p == *s) {
      out += ", both header copies valid (seqid " + std::to_string(*p) + ")";
    } else {
      out += ", NEEDS REPAIR: header copies differ (primary " +
             (h->primary_valid ? "seqid " + std::to_string(p.value_or(0))
                               : "damaged") +
             ", secondary " +
             (h->secondary_valid ? "seqid " + std::to_string(s.value_or(0))
                                 : "damaged") +
             "; seqid " + std::to_string(h->seqid) + " is in effect)";
      repairs.push_back("cryptsetup repair " + image.path +
                        " rewrites the stale copy from the one in effect");
    }
  }
  if (!repairs.empty()) {
    out += "; repair: ";
    for (size_t i = 0; i < repairs.size(); ++i) {
      out += (i ? ", then " : "") + repairs[i];
    }
  }
  return out;
}

}  // namespace luksfs::cli
