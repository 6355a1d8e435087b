// `luksfs info`: the header as cryptsetup luksDump shows it, or as JSON.
// Shows no secret: no key material, and not the salts or digests either.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fs/cli/commands.h"
#include "fs/cli/image.h"

namespace luksfs::cli {

namespace {

using nlohmann::ordered_json;

std::string PriorityName(int p) {
  return p == 0 ? "ignored" : p == 2 ? "preferred" : "normal";
}

ordered_json KeyslotJson(const crypto::Keyslot& ks) {
  ordered_json j;
  j["slot"] = ks.index;
  j["type"] = ks.type;
  j["priority"] = ks.priority;
  j["key_size"] = ks.key_bytes * 8;
  ordered_json kdf;
  kdf["type"] = crypto::KdfName(ks.kdf.type);
  if (ks.kdf.type == crypto::KdfType::kPbkdf2) {
    kdf["hash"] = ks.kdf.hash;
    kdf["iterations"] = ks.kdf.iterations;
  } else {
    kdf["time"] = ks.kdf.iterations;
    kdf["memory"] = ks.kdf.memory_kib;
    kdf["cpus"] = ks.kdf.cpus;
  }
  j["kdf"] = kdf;
  j["af"] = {{"stripes", ks.stripes}, {"hash", ks.af_hash}};
  j["area"] = {{"offset", ks.area_offset},
               {"size", ks.area_size},
               {"encryption", ks.area_cipher},
               {"key_size", ks.area_key_bytes * 8}};  // bits, as every key_size
  return j;
}

std::string CopyState(bool valid, const std::string& error) {
  return valid ? "ok" : "damaged: " + error;
}

// qcow2: the container's facts (version, cluster size, virtual size, ...)
// and the view size is the virtual size, not the LUKS payload's.
bool IsQcow2(const fs::Container& c) {
  return std::string(c.format()) == "qcow2";
}

ordered_json HeaderJson(const crypto::LuksHeader& h, uint64_t image_size,
                        const Status& mountable, const fs::Container& c) {
  ordered_json j;
  if (IsQcow2(c)) {
    ordered_json facts;
    facts["format"] = c.format();
    for (const auto& [k, v] : c.Facts()) {
      const bool num = !v.empty() && v.find_first_not_of("0123456789") ==
                                         std::string::npos;
      if (num) {
        facts[k] = std::stoull(v);
      } else {
        facts[k] = v;
      }
    }
    j["container"] = facts;
  }
  j["version"] = h.version;
  j["uuid"] = h.uuid;
  j["label"] = h.label;
  j["subsystem"] = h.subsystem;
  const crypto::Segment* seg = h.segments.empty() ? nullptr : &h.segments[0];
  j["cipher"] = seg ? seg->encryption : "";
  j["key_size"] = h.key_bytes * 8;
  j["data_offset"] = seg ? seg->offset : 0;
  if (seg && seg->size) {
    j["data_size"] = *seg->size;
  } else {
    j["data_size"] = "dynamic";
  }
  j["sector_size"] = seg ? seg->sector_size : 512;
  j["iv_tweak"] = seg ? seg->iv_tweak : 0;
  auto layout = crypto::ComputeDataLayout(h, image_size);
  if (IsQcow2(c)) {
    for (const auto& [k, v] : c.Facts()) {
      if (k == "virtual_size") j["view_size"] = std::stoull(v);
    }
  } else if (layout.ok() && mountable.ok()) {
    j["view_size"] = layout->size;
  }
  ordered_json slots = ordered_json::array();
  for (const auto& ks : h.keyslots) slots.push_back(KeyslotJson(ks));
  j["keyslots"] = slots;
  ordered_json tokens = ordered_json::array();
  for (const auto& t : h.tokens) {
    tokens.push_back({{"token", t.index}, {"type", t.type},
                      {"keyslots", t.keyslots}});
  }
  j["tokens"] = tokens;
  if (h.version == 2) {
    j["metadata"] = {{"hdr_size", h.hdr_size},
                     {"seqid", h.seqid},
                     {"checksum_alg", h.checksum_alg},
                     {"keyslots_size", h.keyslots_size},
                     {"primary", CopyState(h.primary_valid, h.primary_error)},
                     {"secondary",
                      CopyState(h.secondary_valid, h.secondary_error)}};
  }
  j["requirements"] = h.requirements;
  j["mountable"] = mountable.ok();
  j["unmountable_reason"] = mountable.ok() ? "" : mountable.message();
  return j;
}

void PrintText(const crypto::LuksHeader& h, uint64_t image_size,
               const Status& mountable, const fs::Container& c) {
  std::ostringstream o;
  auto row = [&](const std::string& k, const std::string& v) {
    o << k << ":" << std::string(k.size() < 15 ? 15 - k.size() : 1, ' ') << v
      << "\n";
  };
  std::string qcow2_size;
  if (IsQcow2(c)) {
    o << "qcow2 container\n";
    for (const auto& [k, v] : c.Facts()) {
      o << "  " << k << ": " << v << "\n";
      if (k == "virtual_size") qcow2_size = v;
    }
    o << "\n";
  }
  o << "LUKS header information\n";
  row("Version", std::to_string(h.version));
  if (h.version == 2) {
    row("Epoch", std::to_string(h.seqid));
    row("Metadata area", std::to_string(h.hdr_size) + " [bytes]");
    row("Keyslots area", std::to_string(h.keyslots_size) + " [bytes]");
  }
  row("UUID", h.uuid);
  if (h.version == 2) {
    row("Label", h.label.empty() ? "(no label)" : h.label);
    row("Subsystem", h.subsystem.empty() ? "(no subsystem)" : h.subsystem);
    row("Header copies",
        "primary " + CopyState(h.primary_valid, h.primary_error) +
            ", secondary " + CopyState(h.secondary_valid, h.secondary_error));
    if (!h.requirements.empty()) {
      std::string r;
      for (const auto& s : h.requirements) r += (r.empty() ? "" : ", ") + s;
      row("Requirements", r);
    }
  }
  o << "\nData segments:\n";
  for (const auto& s : h.segments) {
    o << "  " << s.index << ": " << s.type << "\n";
    o << "\toffset: " << s.offset << " [bytes]\n";
    o << "\tlength: "
      << (s.size ? std::to_string(*s.size) + " [bytes]" : "(whole device)")
      << "\n";
    o << "\tcipher: " << s.encryption << "\n";
    o << "\tsector: " << s.sector_size << " [bytes]\n";
    if (s.iv_tweak) o << "\tiv_tweak: " << s.iv_tweak << "\n";
    if (s.has_integrity) o << "\tintegrity: yes\n";
  }
  auto layout = crypto::ComputeDataLayout(h, image_size);
  if (!qcow2_size.empty()) {
    o << "  view size: " << qcow2_size << " [bytes] (qcow2 virtual size)\n";
  } else if (layout.ok()) {
    o << "  view size: " << layout->size << " [bytes]\n";
  }
  o << "\nKeyslots:\n";
  for (const auto& ks : h.keyslots) {
    o << "  " << ks.index << ": " << ks.type << "\n";
    o << "\tKey:        " << ks.key_bytes * 8 << " bits\n";
    if (h.version == 2) o << "\tPriority:   " << PriorityName(ks.priority) << "\n";
    o << "\tCipher:     " << ks.area_cipher << "\n";
    o << "\tCipher key: " << ks.area_key_bytes * 8 << " bits\n";
    o << "\tPBKDF:      " << crypto::KdfName(ks.kdf.type) << "\n";
    if (ks.kdf.type == crypto::KdfType::kPbkdf2) {
      o << "\tHash:       " << ks.kdf.hash << "\n";
      o << "\tIterations: " << ks.kdf.iterations << "\n";
    } else {
      o << "\tTime cost:  " << ks.kdf.iterations << "\n";
      o << "\tMemory:     " << ks.kdf.memory_kib << "\n";
      o << "\tThreads:    " << ks.kdf.cpus << "\n";
    }
    o << "\tAF stripes: " << ks.stripes << "\n";
    o << "\tAF hash:    " << ks.af_hash << "\n";
    o << "\tArea offset:" << ks.area_offset << " [bytes]\n";
    o << "\tArea length:" << ks.area_size << " [bytes]\n";
  }
  if (!h.tokens.empty()) {
    o << "\nTokens:\n";
    for (const auto& t : h.tokens) o << "  " << t.index << ": " << t.type << "\n";
  }
  o << "\nDigests:\n";
  for (const auto& d : h.digests) {
    o << "  " << d.index << ": " << d.type << "\n";
    o << "\tHash:       " << d.hash << "\n";
    o << "\tIterations: " << d.iterations << "\n";
  }
  o << "\nMountable:      "
    << (mountable.ok() ? "yes" : "no: " + mountable.message()) << "\n";
  std::cout << o.str();
}

}  // namespace

int RunInfo(const std::string& path, bool json,
            const fs::StorageOptions& storage) {
  OpenedImage image;
  if (auto e = OpenImage(path, false, storage, &image)) return Report(*e);
  Status mountable = crypto::CheckMountable(image.header);
  if (mountable.ok()) {
    mountable = crypto::ComputeDataLayout(image.header, image.luks_size())
                    .status();
  }
  if (json) {
    std::cout << HeaderJson(image.header, image.luks_size(), mountable,
                            *image.container)
                     .dump(2)
              << "\n";
  } else {
    PrintText(image.header, image.luks_size(), mountable, *image.container);
  }
  return kExitOk;
}

int RunCheck(const std::string& path, const SecretOptions& secret,
             const KmsConfig& kms,
             const fs::StorageOptions& storage) {
  OpenedImage image;
  if (auto e = OpenImage(path, false, storage, &image)) return Report(*e);
  // The same verdict as mount: an image luksfs cannot serve fails here too.
  crypto::DataLayout layout;
  if (auto e = CheckImage(image, &layout)) return Report(*e);
  Unlocked unlocked;
  if (auto e = UnlockImage(image, secret, kms, nullptr, &unlocked)) {
    return Report(*e);
  }
  unlocked.key.volume_key.Wipe();
  std::cout << path << ": keyslot " << unlocked.key.keyslot << " opened"
            << (unlocked.binding ? " (passphrase unwrapped by " +
                                       unlocked.binding->kms + ")"
                                 : std::string())
            << "\n";
  return kExitOk;
}

}  // namespace luksfs::cli
