// libFuzzer target: the input is a whole qcow2 image file. The header
// parser, the L1/refcount table checks of Qcow2Map::Open, Map() over the
// first 256 MiB of the disk and the L2 walk of CountAllocated must never
// crash, hang or allocate without bound, whatever the bytes. The container
// (OpenQcow2, Facts, ReadLuks) is driven too, and so is luksfs's KMS
// header extension (qcow2_binding.h): the record is read and parsed as
// JSON, and every header rewrite planned for it (set, grow, remove) must
// parse again — a plan that breaks the header traps. A dirty header also
// drives the refcount rebuild (qcow2_repair.h) over the tables.
//
// Build: make fuzz. Run: build/fuzz/qcow2_fuzz CORPUS_DIR (seed with small
// qcow2 images: qemu-img create -f qcow2 -o cluster_size=512, qemu-io
// writes; tests/run-all.sh makes some).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fs/image/kms_binding.h"
#include "fs/image/qcow2_binding.h"
#include "fs/image/qcow2_container.h"
#include "fs/image/qcow2_format.h"
#include "fs/image/qcow2_map.h"
#include "fs/image/qcow2_repair.h"

namespace {

using luksfs::Status;

// Read-only Storage over the fuzz input.
class MemStorage : public luksfs::fs::Storage {
 public:
  MemStorage(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t Size() const override { return size_; }
  Status ReadAt(uint64_t offset, std::span<uint8_t> dst) const override {
    if (offset > size_ || dst.size() > size_ - offset) {
      return Status::Corruption("image is truncated: read past the end");
    }
    if (!dst.empty()) std::memcpy(dst.data(), data_ + offset, dst.size());
    return Status();
  }
  Status WriteAt(uint64_t, std::span<const uint8_t>) override {
    return Status::InvalidArgument("storage is read-only");
  }
  Status Flush() override { return Status(); }
  const std::string& name() const override { return name_; }

 private:
  const uint8_t* data_;
  size_t size_;
  std::string name_ = "fuzz";
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace luksfs::fs;
  MemStorage storage(data, size);
  auto c = OpenQcow2(&storage, false, ContainerOptions());
  if (c.ok()) {
    (void)(*c)->Facts();
    std::vector<uint8_t> luks(592);
    (void)(*c)->ReadLuks(0, luks);
  }
  const size_t head = std::min<size_t>(size, qcow2::kMaxHeaderBytes);
  auto h = qcow2::ParseHeader(std::span<const uint8_t>(data, head), size);
  if (!h.ok()) return 0;
  (void)qcow2::SerializeHeader(*h);
  auto record = qcow2::BindingRecord(*h);
  if (record.ok() && *record) (void)BindingFromJson(**record);
  const std::string small = "{\"type\":\"luksfs-kms\"}";
  const std::string large(600, 'k');
  for (int i = 0; i < 3; ++i) {
    std::optional<std::string_view> json;
    if (i == 1) json = small;
    if (i == 2) json = large;
    auto plan = qcow2::PlanBindingWrites(*h, json);
    if (!plan.ok()) continue;
    for (const std::vector<uint8_t>& image : *plan) {
      if (!qcow2::ParseHeader(image, size).ok()) __builtin_trap();
    }
  }
  if (h->dirty()) {  // the rebuild walks every table (its writes fail here)
    qcow2::Header copy = *h;
    (void)qcow2::RepairRefcounts(&storage, &copy);
  }
  Qcow2MapOptions mo;
  mo.cache_bytes = 4 * h->cluster_size();  // small: exercise eviction
  auto m = Qcow2Map::Open(&storage, *h, mo);
  if (!m.ok()) return 0;
  std::vector<Extent> ex;
  (void)(*m)->Map(0, 256ULL << 20, &ex);
  (void)(*m)->CountAllocated();
  return 0;
}
