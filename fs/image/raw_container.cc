// The raw container: a LUKS1/LUKS2 image as cryptsetup makes it. The LUKS
// region is the whole storage (header at byte 0, offsets unchanged), and
// the data segment is linear (LinearMap).
#include <memory>

#include "fs/image/container.h"
#include "fs/image/linear_map.h"

namespace luksfs::fs {

namespace {

class RawContainer : public Container {
 public:
  RawContainer(Storage* storage, bool writable, bool discards)
      : storage_(storage), writable_(writable), discards_(discards) {}

  const char* format() const override { return "raw"; }
  uint64_t luks_region_size() const override { return storage_->Size(); }

  Status ReadLuks(uint64_t offset, std::span<uint8_t> dst) const override {
    return storage_->ReadAt(offset, dst);  // kCorruption past the end
  }
  Status WriteLuks(uint64_t offset, std::span<const uint8_t> src) override {
    if (!writable_) return Status::InvalidArgument("the image is read-only");
    if (offset > storage_->Size() || src.size() > storage_->Size() - offset) {
      return Status::Corruption("header write at byte " +
                                std::to_string(offset) +
                                " runs past the end of the image");
    }
    return storage_->WriteAt(offset, src);
  }

  Result<std::unique_ptr<BlockMap>> OpenMap(const crypto::LuksHeader& header,
                                            bool writable) override {
    if (writable && !writable_) {
      return Status::InvalidArgument("the image is read-only");
    }
    LUKSFS_ASSIGN_OR_RETURN(crypto::DataLayout layout,
                            crypto::ComputeDataLayout(header, storage_->Size()));
    return std::unique_ptr<BlockMap>(
        std::make_unique<LinearMap>(storage_, layout, writable, discards_));
  }

  std::vector<std::pair<std::string, std::string>> Facts() const override {
    return {{"format", "raw"}};
  }

  Status Flush() override { return storage_->Flush(); }

 private:
  Storage* const storage_;
  const bool writable_;
  const bool discards_;  // ContainerOptions::allow_discards
};

}  // namespace

Result<std::unique_ptr<Container>> OpenRawContainer(
    Storage* storage, bool writable, const ContainerOptions& opts) {
  return std::unique_ptr<Container>(
      std::make_unique<RawContainer>(storage, writable, opts.allow_discards));
}

}  // namespace luksfs::fs
