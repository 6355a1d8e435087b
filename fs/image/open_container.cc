// OpenContainer: the one place that decides what kind of container an image
// is, from its first bytes.
#include <cstring>

#include "fs/image/container.h"
#include "fs/image/qcow2_container.h"

namespace luksfs::fs {

Result<std::unique_ptr<Container>> OpenContainer(Storage* storage,
                                                 bool writable,
                                                 const ContainerOptions& opts) {
  uint8_t magic[4] = {};
  if (storage->Size() >= sizeof(magic)) {
    LUKSFS_RETURN_IF_ERROR(storage->ReadAt(0, magic));
  }
  if (std::memcmp(magic, "QFI\xfb", 4) == 0) {
    return OpenQcow2(storage, writable, opts);
  }
  return OpenRawContainer(storage, writable, opts);
}

}  // namespace luksfs::fs
