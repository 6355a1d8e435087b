// Container: what an image file (or S3 object) is around its LUKS header
// and data. "raw" is a LUKS1/LUKS2 image as cryptsetup makes it: the header
// at byte 0 and the data segment after it. "qcow2" is qemu's qcow2 with
// encrypt.format=luks: a LUKS1 header in the clusters named by the
// full-disk-encryption header extension (0x0537be77), data in clusters
// mapped by the L1/L2 tables (qcow2 specification, docs/interop/qcow2.txt).
//
// The container gives three things: the LUKS header region (reads and, for
// header edits, writes at offsets RELATIVE to the region's start, bounded
// by its size), the BlockMap of the plaintext once a header is known, and
// facts for `luksfs info`.
//
// Ownership: a Container borrows the Storage it was opened on (which must
// outlive it and every BlockMap it returns).
// Thread-safety: ReadLuks/WriteLuks/facts may be called concurrently; OpenMap
// is called once per mount.
// Errors: kCorruption for a malformed container (message names the field),
// kNotSupported for a well-formed feature luksfs refuses (backing file,
// compression, legacy AES, unknown incompatible bits), kIOError from
// Storage, kInvalidArgument for writes to a read-only container.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "crypto/luks_header.h"
#include "fs/image/block_map.h"
#include "fs/storage/storage.h"

namespace luksfs::fs {

struct ContainerOptions {
  // qcow2: bytes of L2 tables and refcount blocks cached (qemu's
  // l2-cache-size). 0: the container's default.
  uint64_t metadata_cache_bytes = 0;
  // raw: mount option allow_discards. Holes of the image file read as
  // plaintext zeros and Discard punches them (LinearMap, discards mode).
  // qcow2 ignores it: it always discards, as qemu does.
  bool allow_discards = false;
};

class Container {
 public:
  virtual ~Container() = default;

  // "raw" or "qcow2".
  virtual const char* format() const = 0;

  // The LUKS header region, in bytes. raw: the whole storage; qcow2: the
  // length of the FDE header clusters.
  virtual uint64_t luks_region_size() const = 0;
  // Reads/writes at `offset` bytes from the start of the LUKS region.
  // Errors: kCorruption ("truncated") past luks_region_size().
  virtual Status ReadLuks(uint64_t offset, std::span<uint8_t> dst) const = 0;
  virtual Status WriteLuks(uint64_t offset, std::span<const uint8_t> src) = 0;

  // The plaintext map for `header` (already validated by CheckMountable).
  // raw: LinearMap over segment 0; qcow2: the cluster map, IV = host/512.
  virtual Result<std::unique_ptr<BlockMap>> OpenMap(
      const crypto::LuksHeader& header, bool writable) = 0;

  // Facts for `luksfs info`, in order: ("version", "3"), ("cluster_size",
  // "65536"), ... Values are decimal integers or plain strings.
  virtual std::vector<std::pair<std::string, std::string>> Facts() const = 0;

  // Makes container metadata and data durable (Storage::Flush and whatever
  // the format needs before it).
  virtual Status Flush() = 0;

  // The KMS binding record the container keeps itself (qcow2: luksfs's
  // header extension, fs/image/qcow2_binding.h), as the luksfs-kms JSON
  // text; nullopt when there is none. raw keeps none (LUKS2 tokens and
  // sidecars are the image layer's business). Errors: kCorruption.
  virtual Result<std::optional<std::string>> BindingRecord() const {
    return std::optional<std::string>();
  }
  // Whether WriteBindingRecord can work here at all (raw: no).
  virtual bool KeepsBindingRecord() const { return false; }
  // Sets (`json`) or removes (nullopt) the record; durable on success.
  // Errors: kNotSupported (raw), kInvalidArgument (read-only),
  // kResourceExhausted (does not fit; the message says what to do),
  // kIOError from Storage (what is on disk is then the old or the new
  // record, see qcow2_binding.h).
  virtual Status WriteBindingRecord(std::optional<std::string_view> json) {
    (void)json;
    return Status::NotSupported(std::string(format()) +
                                " images keep no binding record");
  }
};

// Probes `storage` (qcow2 magic "QFI\xfb", else raw) and opens the
// container. `storage` is borrowed.
Result<std::unique_ptr<Container>> OpenContainer(Storage* storage,
                                                 bool writable,
                                                 const ContainerOptions& opts);

// The raw (cryptsetup) container; OpenContainer's fallback.
Result<std::unique_ptr<Container>> OpenRawContainer(
    Storage* storage, bool writable, const ContainerOptions& opts = {});

}  // namespace luksfs::fs
