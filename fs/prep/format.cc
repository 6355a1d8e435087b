#include "fs/prep/format.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <thread>

#include "crypto/kdf_bench.h"

namespace luksfs::fs::prep {

namespace {

constexpr uint32_t kDefaultMemoryKib = 1048576;
constexpr uint32_t kDigestMs = 125;  // cryptsetup's volume key digest time

Result<crypto::KdfType> KdfTypeOf(const FormatOptions& o) {
  const std::string name = !o.pbkdf.empty() ? o.pbkdf
                           : o.version == 1 ? "pbkdf2"
                                            : "argon2id";
  if (name == "pbkdf2") return crypto::KdfType::kPbkdf2;
  if (name == "argon2i") return crypto::KdfType::kArgon2i;
  if (name == "argon2id") return crypto::KdfType::kArgon2id;
  return Status::InvalidArgument("--pbkdf must be pbkdf2, argon2i or argon2id, not '" +
                                 name + "'");
}

uint32_t HalfRamKib() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return kDefaultMemoryKib;
  const uint64_t half = uint64_t(pages) * uint64_t(page) / 2 / 1024;
  return static_cast<uint32_t>(std::min<uint64_t>(half, UINT32_MAX));
}

}  // namespace

Status ValidateFormat(const FormatOptions& o) {
  if (o.version != 1 && o.version != 2) {
    return Status::InvalidArgument("--type must be luks1 or luks2");
  }
  if (o.key_bits == 0 || o.key_bits % 8 != 0 || o.key_bits > 4096) {
    return Status::InvalidArgument("--key-size must be a multiple of 8 bits");
  }
  LUKSFS_ASSIGN_OR_RETURN(const crypto::KdfType kdf, KdfTypeOf(o));
  if (o.version == 1) {
    if (kdf != crypto::KdfType::kPbkdf2) {
      return Status::InvalidArgument("LUKS1 keyslots use --pbkdf pbkdf2 only");
    }
    if (o.sector_size && *o.sector_size != 512) {
      return Status::InvalidArgument("LUKS1 supports --sector-size 512 only");
    }
    if (!o.label.empty()) return Status::InvalidArgument("LUKS1 has no --label");
    if (!o.tokens.empty()) {
      return Status::InvalidArgument("LUKS1 has no token area for a KMS binding");
    }
  }
  if (o.sector_size) {
    const uint32_t s = *o.sector_size;
    if (s < 512 || s > 4096 || (s & (s - 1)) != 0) {
      return Status::InvalidArgument(
          "--sector-size must be 512, 1024, 2048 or 4096");
    }
  }
  if (o.iter_time_ms == 0 || o.iter_time_ms > 600000) {
    return Status::InvalidArgument("--iter-time must be 1..600000 ms");
  }
  if (kdf == crypto::KdfType::kPbkdf2 && o.force_iterations &&
      *o.force_iterations < 1000) {
    return Status::InvalidArgument("--pbkdf-force-iterations must be >= 1000 for pbkdf2");
  }
  if (kdf != crypto::KdfType::kPbkdf2) {
    if (o.force_iterations && *o.force_iterations < 4) {
      return Status::InvalidArgument("--pbkdf-force-iterations must be >= 4 for argon2");
    }
    if (o.memory_kib && (*o.memory_kib < 32 || *o.memory_kib > 4194304)) {
      return Status::InvalidArgument("--pbkdf-memory must be 32..4194304 KiB");
    }
    if (o.parallel && (*o.parallel < 1 || *o.parallel > 4)) {
      return Status::InvalidArgument("--pbkdf-parallel must be 1..4");
    }
  }
  if (!o.uuid.empty() && !crypto::IsUuidText(o.uuid)) {
    return Status::InvalidArgument("--uuid '" + o.uuid + "' is not a UUID");
  }
  if (o.label.size() > 47) return Status::InvalidArgument("--label is over 47 bytes");
  return Status();
}

uint32_t EffectiveSectorSize(const FormatOptions& o, uint64_t data_bytes) {
  if (o.sector_size) return *o.sector_size;
  if (o.version == 1) return 512;
  return data_bytes % 4096 == 0 ? 4096 : 512;
}

Result<crypto::NewLuksHeader> BuildHeader(const FormatOptions& o,
                                          std::span<const uint8_t> passphrase,
                                          std::span<const uint8_t> volume_key,
                                          uint64_t data_bytes) {
  LUKSFS_RETURN_IF_ERROR(ValidateFormat(o));
  crypto::NewLuksSpec spec;
  spec.cipher = o.cipher;
  spec.key_bytes = o.key_bits / 8;
  spec.sector_size = EffectiveSectorSize(o, data_bytes);
  if (data_bytes % spec.sector_size != 0) {
    return Status::InvalidArgument("size " + std::to_string(data_bytes) +
                                   " is not a multiple of the sector size " +
                                   std::to_string(spec.sector_size));
  }
  spec.hash = o.hash;
  spec.label = o.label;
  spec.uuid = o.uuid;
  LUKSFS_ASSIGN_OR_RETURN(const crypto::KdfType type, KdfTypeOf(o));
  const unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  const uint32_t parallel = o.parallel.value_or(std::min(4u, cpus));
  const uint32_t memory =
      o.memory_kib.value_or(std::min(kDefaultMemoryKib, HalfRamKib()));
  if (o.force_iterations) {
    spec.kdf.type = type;
    spec.kdf.hash = o.hash;
    spec.kdf.iterations = *o.force_iterations;
    if (type != crypto::KdfType::kPbkdf2) {
      spec.kdf.memory_kib = memory;
      spec.kdf.cpus = parallel;
    }
    spec.digest_iterations = 1000;
  } else {
    crypto::KdfBenchTarget t;
    t.type = type;
    t.hash = o.hash;
    t.target_ms = o.iter_time_ms;
    t.max_memory_kib = memory;
    t.parallel = parallel;
    t.key_bytes = spec.key_bytes;
    LUKSFS_ASSIGN_OR_RETURN(spec.kdf, crypto::BenchmarkKdf(t));
    LUKSFS_ASSIGN_OR_RETURN(
        spec.digest_iterations,
        crypto::BenchmarkPbkdf2(o.hash, std::min(kDigestMs, o.iter_time_ms),
                                spec.key_bytes));
  }
  spec.tokens = o.tokens;
  if (o.data_offset) spec.data_offset = *o.data_offset;
  return o.version == 1 ? crypto::FormatLuks1(spec, passphrase, volume_key)
                        : crypto::FormatLuks2(spec, passphrase, volume_key);
}

void InheritFormat(const SourceFormat& src, FormatOptions* o) {
  auto given = [&](const char* name) {
    return std::find(o->given.begin(), o->given.end(), name) != o->given.end();
  };
  const bool luks2 = o->version == 2 && !o->qcow2.enabled;
  if (!src.cipher.empty() && !given("cipher") &&
      (!o->qcow2.enabled || src.cipher.rfind("aes-", 0) == 0)) {
    o->cipher = src.cipher;
    if (src.key_bits && !given("key-size")) o->key_bits = src.key_bits;
  }
  if (!src.hash.empty() && !given("hash")) o->hash = src.hash;
  if (luks2 && src.sector_size && !given("sector-size")) o->sector_size = src.sector_size;
  if (luks2 && !src.label.empty() && !given("label")) o->label = src.label;
}

Result<uint64_t> ParseSize(const std::string& text) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    const uint64_t d = text[i] - '0';
    if (v > (UINT64_MAX - d) / 10) return Status::InvalidArgument("size '" + text + "' is too large");
    v = v * 10 + d;
    ++i;
  }
  if (i == 0) return Status::InvalidArgument("size '" + text + "' is not a number");
  std::string suffix = text.substr(i);
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.size() == 3 && suffix.substr(1) == "IB") suffix = suffix.substr(0, 1);
  if (suffix.size() == 2 && suffix[1] == 'B') suffix = suffix.substr(0, 1);
  int shift = 0;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "K") shift = 10;
  else if (suffix == "M") shift = 20;
  else if (suffix == "G") shift = 30;
  else if (suffix == "T") shift = 40;
  else return Status::InvalidArgument("size '" + text + "': unknown unit");
  if (shift && v > (UINT64_MAX >> shift)) {
    return Status::InvalidArgument("size '" + text + "' is too large");
  }
  return v << shift;
}

}  // namespace luksfs::fs::prep
