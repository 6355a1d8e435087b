#include "fs/image/qcow2_container.h"

#include <algorithm>
#include <mutex>
#include <vector>

#include "common/log.h"
#include "fs/image/kms_binding.h"
#include "fs/image/qcow2_binding.h"
#include "fs/image/qcow2_format.h"
#include "fs/image/qcow2_map.h"
#include "fs/image/qcow2_repair.h"

namespace luksfs::fs {
namespace {

class Qcow2Container : public Container {
 public:
  Qcow2Container(Storage* storage, qcow2::Header h, bool writable,
                 const ContainerOptions& opts)
      : storage_(storage), h_(std::move(h)), writable_(writable), opts_(opts) {}

  const char* format() const override { return "qcow2"; }

  uint64_t luks_region_size() const override {
    return h_.has_fde ? h_.fde_length : 0;
  }

  Status ReadLuks(uint64_t offset, std::span<uint8_t> dst) const override {
    LUKSFS_RETURN_IF_ERROR(CheckRegion(offset, dst.size()));
    return storage_->ReadAt(h_.fde_offset + offset, dst);
  }

  Status WriteLuks(uint64_t offset, std::span<const uint8_t> src) override {
    if (!writable_) {
      return Status::InvalidArgument("qcow2 container is read-only");
    }
    LUKSFS_RETURN_IF_ERROR(CheckRegion(offset, src.size()));
    return storage_->WriteAt(h_.fde_offset + offset, src);
  }

  Result<std::unique_ptr<BlockMap>> OpenMap(const crypto::LuksHeader& header,
                                            bool writable) override {
    if (!h_.has_fde) return NotEncrypted();
    if (header.segments.empty()) {
      return Status::Corruption("LUKS header inside qcow2 has no segment");
    }
    if (writable) {
      if (!writable_) {
        return Status::InvalidArgument("qcow2 container is read-only");
      }
      if (h_.corrupt()) {
        return Status::NotSupported(
            "qcow2 image is marked corrupt: it can only be mounted read-only "
            "(repair it with qemu-img check -r all)");
      }
      if (h_.nb_snapshots > 0) {
        return Status::NotSupported(
            "qcow2 image has " + std::to_string(h_.nb_snapshots) +
            " internal snapshot(s): it can only be mounted read-only");
      }
      if (h_.dirty()) {
        // Lazy refcounts not written back: rebuild them first, as qemu
        // does when it opens a dirty image read-write (qcow2_repair.h).
        LUKSFS_ASSIGN_OR_RETURN(const qcow2::RepairReport r,
                                qcow2::RepairRefcounts(storage_, &h_));
        LogWarning("qcow2 image was dirty: " + std::to_string(r.fixed) +
                   " refcount(s) repaired (" + std::to_string(r.leaked) +
                   " leaked cluster(s) freed), dirty bit cleared");
      }
      if (h_.autoclear_features != 0) {
        uint8_t zero[8] = {};
        LUKSFS_RETURN_IF_ERROR(storage_->WriteAt(88, zero));
        LUKSFS_RETURN_IF_ERROR(storage_->Flush());
        h_.autoclear_features = 0;
      }
    }
    Qcow2MapOptions mo;
    mo.unit_size = header.segments[0].sector_size;
    mo.writable = writable;
    mo.cache_bytes = opts_.metadata_cache_bytes;
    LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<Qcow2Map> m,
                            Qcow2Map::Open(storage_, h_, mo));
    return std::unique_ptr<BlockMap>(std::move(m));
  }

  std::vector<std::pair<std::string, std::string>> Facts() const override {
    std::vector<std::pair<std::string, std::string>> f;
    f.emplace_back("version", std::to_string(h_.version));
    f.emplace_back("cluster_size", std::to_string(h_.cluster_size()));
    f.emplace_back("virtual_size", std::to_string(h_.size));
    f.emplace_back("allocated_bytes", AllocatedBytes());
    f.emplace_back("file_size", std::to_string(storage_->Size()));
    f.emplace_back("encryption", h_.crypt_method == qcow2::kCryptLuks
                                     ? "luks"
                                     : "none");
    f.emplace_back("refcount_bits", std::to_string(h_.refcount_bits()));
    f.emplace_back("extended_l2", h_.extended_l2() ? "yes" : "no");
    f.emplace_back("lazy_refcounts",
                   (h_.compatible_features & qcow2::kCompatLazyRefcounts)
                       ? "yes"
                       : "no");
    f.emplace_back("dirty", h_.dirty() ? "yes" : "no");
    f.emplace_back("corrupt", h_.corrupt() ? "yes" : "no");
    f.emplace_back("snapshots", std::to_string(h_.nb_snapshots));
    if (h_.has_fde) {
      f.emplace_back("luks_offset", std::to_string(h_.fde_offset));
      f.emplace_back("luks_length", std::to_string(h_.fde_length));
    }
    f.emplace_back("kms_binding", BindingFact());
    return f;
  }

  Status Flush() override { return storage_->Flush(); }

  Result<std::optional<std::string>> BindingRecord() const override {
    return qcow2::BindingRecord(h_);
  }

  bool KeepsBindingRecord() const override { return h_.has_fde; }

  // Re-reads the header cluster (the caller holds the image lock, so no
  // one else edits it), plans the rewrite (qcow2_binding.h: why a torn
  // write is harmless) and writes each step at offset 0 in ONE WriteAt,
  // flushed (fsync, or the S3 commit) before the next step. qemu itself
  // rewrites its header cluster the same way (one write, no journal).
  Status WriteBindingRecord(std::optional<std::string_view> json) override {
    if (!writable_) {
      return Status::InvalidArgument("qcow2 container is read-only");
    }
    if (!h_.has_fde) return NotEncrypted();
    const uint64_t file_size = storage_->Size();
    std::vector<uint8_t> head(std::min<uint64_t>(file_size, h_.cluster_size()));
    LUKSFS_RETURN_IF_ERROR(storage_->ReadAt(0, head));
    LUKSFS_ASSIGN_OR_RETURN(qcow2::Header now,
                            qcow2::ParseHeader(head, file_size));
    if (now.cluster_bits != h_.cluster_bits) {
      return Status::Corruption("qcow2 header changed while it was edited");
    }
    LUKSFS_ASSIGN_OR_RETURN(const auto steps,
                            qcow2::PlanBindingWrites(now, json));
    for (const std::vector<uint8_t>& image : steps) {
      LUKSFS_RETURN_IF_ERROR(storage_->WriteAt(0, image));
      LUKSFS_RETURN_IF_ERROR(storage_->Flush());
    }
    if (!steps.empty()) {
      LUKSFS_ASSIGN_OR_RETURN(h_, qcow2::ParseHeader(steps.back(), file_size));
    }
    return Status();
  }

 private:
  static Status NotEncrypted() {
    return Status::NotSupported(
        "qcow2 image is not encrypted (crypt_method 0); luksfs serves "
        "qcow2 with encrypt.format=luks");
  }

  Status CheckRegion(uint64_t offset, uint64_t len) const {
    if (!h_.has_fde) return NotEncrypted();
    if (offset > h_.fde_length || len > h_.fde_length - offset) {
      return Status::Corruption(
          "LUKS header clusters are truncated: " + std::to_string(len) +
          " bytes at " + std::to_string(offset) + " pass their length (" +
          std::to_string(h_.fde_length) + " bytes)");
    }
    return Status();
  }

  // The in-file binding as `info` shows it: "none", "KMS-URI (keyslot N,
  // header extension 0x4c4b4d53)", or "unreadable: why".
  std::string BindingFact() const {
    Result<std::optional<std::string>> r = qcow2::BindingRecord(h_);
    if (!r.ok()) return "unreadable: " + r.status().message();
    if (!*r) return "none";
    Result<KmsBinding> b = BindingFromJson(**r);
    if (!b.ok()) return "unreadable: " + b.status().message();
    return b->kms + " (keyslot " + std::to_string(b->keyslot) +
           ", header extension " + qcow2::Hex(qcow2::kExtLuksfsKms) + ")";
  }

  // A read-only walk of the L2 tables; "?" if the tables are damaged.
  std::string AllocatedBytes() const {
    Qcow2MapOptions mo;
    mo.unit_size = 512;
    Result<std::unique_ptr<Qcow2Map>> m = Qcow2Map::Open(storage_, h_, mo);
    if (!m.ok()) return "?";
    Result<uint64_t> n = (*m)->CountAllocated();
    return n.ok() ? std::to_string(*n) : "?";
  }

  Storage* const storage_;
  // Autoclear bits change once, at a writable OpenMap; the extensions at
  // WriteBindingRecord (a header edit: the CLI holds the image lock).
  qcow2::Header h_;
  const bool writable_;
  const ContainerOptions opts_;
};

}  // namespace

Result<std::unique_ptr<Container>> OpenQcow2(Storage* storage, bool writable,
                                             const ContainerOptions& opts) {
  const uint64_t file_size = storage->Size();
  std::vector<uint8_t> head(std::min<uint64_t>(file_size, 24));
  LUKSFS_RETURN_IF_ERROR(storage->ReadAt(0, head));
  LUKSFS_ASSIGN_OR_RETURN(const uint32_t bits, qcow2::PeekClusterBits(head));
  head.resize(std::min<uint64_t>(file_size, uint64_t{1} << bits));
  LUKSFS_RETURN_IF_ERROR(storage->ReadAt(0, head));
  LUKSFS_ASSIGN_OR_RETURN(qcow2::Header h,
                          qcow2::ParseHeader(head, file_size));
  return std::unique_ptr<Container>(
      new Qcow2Container(storage, std::move(h), writable, opts));
}

}  // namespace luksfs::fs
