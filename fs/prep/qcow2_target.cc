#include "fs/prep/qcow2_target.h"

#include <algorithm>
#include <cstring>

#include "common/secure_buffer.h"
#include "crypto/keyslot_create.h"
#include "fs/prep/interrupt.h"

namespace luksfs::fs::prep {

namespace {

constexpr uint64_t kLuksStripes = 4000;  // AF stripes of every LUKS1 keyslot

uint64_t RoundUp(uint64_t v, uint64_t m) { return (v + m - 1) / m * m; }

bool AllZero(const uint8_t* p, uint64_t n) {
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

}  // namespace

uint64_t QemuLuksHeaderBytes(uint32_t key_bytes) {
  // crypto/block-luks.c: header_sectors (4096 bytes) + 8 slots of split
  // key material, each rounded up to 4096 bytes.
  const uint64_t material = RoundUp(uint64_t{key_bytes} * kLuksStripes, 4096);
  return 4096 + 8 * material;
}

Status ValidateQcow2Format(const FormatOptions& o, uint64_t size) {
  LUKSFS_RETURN_IF_ERROR(qcow2::ValidateCreateSpec(Qcow2Spec(o, size)));
  if (!o.qcow2.encrypted) return Status();
  if (o.version != 1) {
    return Status::InvalidArgument("--type qcow2 holds a LUKS1 header (as qemu makes it)");
  }
  if (o.sector_size && *o.sector_size != 512) {
    return Status::InvalidArgument("--type qcow2 encrypts 512-byte sectors only (--sector-size 512)");
  }
  if (o.cipher.rfind("aes-", 0) != 0) {
    return Status::InvalidArgument("--type qcow2: --cipher '" + o.cipher +
                                   "' is not supported (AES only: aes-xts-plain64, "
                                   "aes-cbc-essiv:sha256)");
  }
  if (!o.label.empty()) return Status::InvalidArgument("--type qcow2 (LUKS1) has no --label");
  if (!o.tokens.empty()) {
    return Status::InvalidArgument(
        "--type qcow2 holds LUKS1, which has no token area (its KMS binding "
        "is a qcow2 header record)");
  }
  return ValidateFormat(o);
}

qcow2::CreateSpec Qcow2Spec(const FormatOptions& o, uint64_t size,
                            std::string_view binding_record) {
  qcow2::CreateSpec s;
  s.binding_record = std::string(binding_record);
  s.virtual_size = size;
  s.cluster_size = o.qcow2.cluster_size;
  s.refcount_bits = o.qcow2.refcount_bits;
  s.extended_l2 = o.qcow2.extended_l2;
  s.luks_bytes = o.qcow2.encrypted ? QemuLuksHeaderBytes(o.key_bits / 8) : 0;
  return s;
}

Status CheckQcow2BindingRecord(const FormatOptions& o, uint64_t size,
                               std::string_view binding_record) {
  return qcow2::ValidateCreateSpec(Qcow2Spec(o, size, binding_record));
}

Result<crypto::NewLuksHeader> BuildQcow2LuksHeader(const FormatOptions& o,
                                                   std::span<const uint8_t> passphrase,
                                                   std::span<const uint8_t> volume_key) {
  FormatOptions f = o;
  f.version = 1;
  f.sector_size = 512;
  f.data_offset = QemuLuksHeaderBytes(o.key_bits / 8);
  // The LUKS1 header's data size plays no role inside qcow2 (512 divides it).
  return BuildHeader(f, passphrase, volume_key, 512);
}

Result<std::unique_ptr<Qcow2Target>> Qcow2Target::Create(const qcow2::CreateSpec& spec,
                                                         crypto::CryptEngine* engine) {
  LUKSFS_ASSIGN_OR_RETURN(auto b, qcow2::ImageBuilder::Create(spec));
  return std::unique_ptr<Qcow2Target>(new Qcow2Target(std::move(b), engine));
}

Result<HostRun> Qcow2Target::Place(uint64_t offset, uint8_t* data, uint64_t length,
                                   uint64_t capacity) {
  const uint64_t cs = builder_->cluster_size();
  const uint64_t padded = (length + cs - 1) / cs * cs;
  if (offset % cs != 0 || padded > capacity) {
    return Status::InvalidArgument("qcow2: a chunk is not cluster-aligned");
  }
  std::memset(data + length, 0, padded - length);
  uint64_t packed = 0;
  HostRun run;
  bool first = true;
  for (uint64_t i = 0; i < padded;) {
    if (AllZero(data + i, cs)) {
      i += cs;
      continue;
    }
    uint64_t j = i + cs;  // a run of non-zero clusters [i, j)
    while (j < padded && !AllZero(data + j, cs)) j += cs;
    LUKSFS_ASSIGN_OR_RETURN(const uint64_t host,
                            builder_->AppendData((offset + i) / cs, (j - i) / cs));
    if (first) {
      run.host_offset = host;
      first = false;
    }
    if (packed != i) std::memmove(data + packed, data + i, j - i);
    packed += j - i;
    i = j;
  }
  run.length = packed;
  if (packed && engine_) {
    std::span<uint8_t> buf(data, packed);
    LUKSFS_RETURN_IF_ERROR(engine_->Encrypt(run.host_offset / 512, buf, buf));
  }
  return run;
}

Status Qcow2Target::WriteLuks(OutputSink& out, const crypto::NewLuksHeader& header) {
  for (const crypto::ImageWrite& w : header.writes) {
    LUKSFS_RETURN_IF_ERROR(out.WriteAt(luks_offset() + w.offset, w.bytes));
  }
  return Status();
}

Result<uint64_t> Qcow2Target::Finish(OutputSink& out) {
  LUKSFS_ASSIGN_OR_RETURN(qcow2::FinishedImage f, builder_->Finish());
  if (out.sequential()) {
    // A streamed output takes the tables in increasing offsets (the
    // header, at 0, goes to its held first part; see S3Output).
    std::stable_sort(f.writes.begin(), f.writes.end(),
                     [](const qcow2::MetaWrite& a, const qcow2::MetaWrite& b) {
                       return a.offset < b.offset;
                     });
  }
  for (const qcow2::MetaWrite& w : f.writes) {
    LUKSFS_RETURN_IF_ERROR(out.WriteAt(w.offset, w.bytes));
  }
  LUKSFS_RETURN_IF_ERROR(out.Truncate(f.file_size));
  return f.file_size;
}

Result<CreatedImage> CreateQcow2In(OutputSink& out, uint64_t size,
                                   const FormatOptions& format,
                                   std::span<const uint8_t> passphrase,
                                   std::string_view binding_record) {
  LUKSFS_RETURN_IF_ERROR(ValidateQcow2Format(format, size));
  LUKSFS_ASSIGN_OR_RETURN(
      auto target,
      Qcow2Target::Create(Qcow2Spec(format, size, binding_record), nullptr));
  CreatedImage r;
  r.sector_size = 512;
  if (format.qcow2.encrypted) {
    LUKSFS_ASSIGN_OR_RETURN(SecureBuffer vk, SecureBuffer::Create(format.key_bits / 8));
    LUKSFS_RETURN_IF_ERROR(crypto::RandomBytes(vk.span()));
    LUKSFS_ASSIGN_OR_RETURN(crypto::NewLuksHeader header,
                            BuildQcow2LuksHeader(format, passphrase, vk.span()));
    vk.Wipe();
    LUKSFS_RETURN_IF_ERROR(target->WriteLuks(out, header));
    r.uuid = header.uuid;
    r.keyslot = header.keyslot;
    r.data_offset = target->luks_offset();
  }
  LUKSFS_ASSIGN_OR_RETURN(r.file_bytes, target->Finish(out));
  if (Interrupted()) return Status::Unavailable("interrupted");
  LUKSFS_RETURN_IF_ERROR(out.Commit());
  return r;
}

}  // namespace luksfs::fs::prep
