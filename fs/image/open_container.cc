// OpenContainer: the one place that decides what kind of container an image
// is, from its first bytes.
#include <cstring>

#include "fs/image/container.h"

namespace luksfs::fs {

Result<std::unique_ptr<Container>> OpenContainer(Storage* storage,
                                                 bool writable,
                                                 const ContainerOptions&) {
  uint8_t magic[4] = {};
  if (storage->Size() >= sizeof(magic)) {
    LUKSFS_RETURN_IF_ERROR(storage->ReadAt(0, magic));
  }
  if (std::memcmp(magic, "QFI\xfb", 4) == 0) {
    return Status::NotSupported(
        "this is a qcow2 image; qcow2 with LUKS is not supported yet");
  }
  return OpenRawContainer(storage, writable);
}

}  // namespace luksfs::fs
