// The qcow2 container: qemu's qcow2 with encrypt.format=luks (qcow2
// specification, docs/interop/qcow2.txt). The LUKS1 header lives in the
// clusters named by the full-disk-encryption header extension; data lives
// in clusters mapped by the L1/L2 tables (see qcow2_map.h), each encrypted
// with IV = host offset / 512.
//
// What is refused (kNotSupported, naming the reason): legacy AES
// (crypt_method 1), a backing file, an external data file, unknown
// incompatible feature bits, compressed clusters (met while mapping).
// A plaintext qcow2 (crypt_method 0) opens, so `info` can describe it, but
// has no LUKS region: ReadLuks and OpenMap say it is not encrypted.
// A writable map of a dirty image (lazy refcounts not written back) first
// rebuilds its refcounts and clears the dirty bit, as qemu does when it
// opens such an image read-write (qcow2_repair.h; what it cannot repair is
// refused with "run qemu-img check -r all"). Writable maps are refused for
// a corrupt image (read-only only) and one with internal snapshots. Opening a map writable clears every autoclear
// feature bit (luksfs does not keep persistent bitmaps in sync), as the
// specification asks of a writer.
// The KMS binding record (Container::BindingRecord) is luksfs's own header
// extension (fs/image/qcow2_binding.h); WriteBindingRecord rewrites the
// header cluster to set or remove it, keeping every other extension.
//
// Ownership, thread-safety, errors: as Container (container.h).
#pragma once

#include <memory>

#include "fs/image/container.h"

namespace luksfs::fs {

Result<std::unique_ptr<Container>> OpenQcow2(Storage* storage, bool writable,
                                             const ContainerOptions& opts);

}  // namespace luksfs::fs
