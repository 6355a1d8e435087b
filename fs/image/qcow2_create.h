// qcow2 image skeleton writer: the metadata of a NEW qcow2 version 3 image
// (header, extensions, refcount table and blocks, L1 and L2 tables), as
// `qemu-img create -f qcow2` and `qemu-img convert -O qcow2` lay them out in
// substance (qcow2 specification, docs/interop/qcow2.txt in qemu), for
// `luksfs create --type qcow2` and `luksfs convert` to a qcow2 DST.
//
// Layout (host clusters, in file order):
//   0            the header and its extensions (FDE when encrypted, then
//                luksfs's KMS binding record when the spec has one:
//                fs/image/qcow2_binding.h, type 0x4c4b4d53)
//   1 ..         the LUKS header clusters, when encrypted (luks_bytes long)
//   data         guest clusters, appended in increasing guest order
//   L2 tables    one per L1 index that has a data cluster
//   L1 table     ceil(l1_size * 8 / cluster) clusters
//   refcount blocks, then the refcount table, covering every cluster above
//                (refcount 1 each: no snapshots, nothing shared)
// so the image is as sparse as it can be: a guest cluster that was never
// appended is unallocated (reads as zeros, a hole in `qemu-img map`).
//
// Writing order: the caller writes the LUKS header and the data clusters
// first; Finish() returns the metadata writes in qcow2's safe order:
// refcount blocks, refcount table, L2 tables, L1 table, header last. The
// header is what makes the file a qcow2 image, so an interrupted write
// never leaves a valid-looking image with dangling tables.
//
// Units: bytes unless a name says "cluster" (host or guest cluster index).
// Memory: one 16-byte run record per contiguous data run; Finish()
// materialises the metadata (the L1 table of a 100 GiB image with 64 KiB
// clusters is 12.5 KiB; with 512-byte clusters, 25 MiB).
// Thread-safety: none; one thread drives a builder (convert's crypto stage).
// Errors: kInvalidArgument for a spec that qemu would refuse (the message
// names the option), kResourceExhausted when the refcount table would pass
// qemu's limit.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "fs/image/qcow2_format.h"

namespace luksfs::fs::qcow2 {

inline constexpr uint64_t kMinClusterSize = 512;
inline constexpr uint64_t kMaxClusterSize = 2ULL << 20;
inline constexpr uint64_t kDefaultClusterSize = 64ULL << 10;

struct CreateSpec {
  uint64_t virtual_size = 0;            // bytes, a multiple of 512, > 0
  uint64_t cluster_size = kDefaultClusterSize;  // power of two, 512..2 MiB
  uint32_t refcount_bits = 16;          // power of two, 1..64
  bool extended_l2 = false;             // subclusters (cluster >= 16 KiB)
  uint64_t luks_bytes = 0;              // 0: plaintext (crypt_method 0);
                                        // else the LUKS header + keyslot
                                        // material length (FDE length)
  std::string binding_record;           // "" : none; else the luksfs-kms
                                        // JSON, written in the header as
                                        // the last extension (LKMS), NUL
                                        // padded to a multiple of 8
};

// Checks the spec, the L1 table size included (at most 32 MiB, qemu's
// limit), and that the header with its extensions fits in cluster 0.
// Errors: kInvalidArgument naming the option (--cluster-size,
// --refcount-bits, --extended-l2, SIZE; a record with a NUL byte),
// kResourceExhausted when the binding record does not fit in the header
// cluster (the message says how many bytes it needs and how many are free).
Status ValidateCreateSpec(const CreateSpec& spec);

struct MetaWrite {
  uint64_t offset = 0;  // host bytes
  std::vector<uint8_t> bytes;
};

struct FinishedImage {
  std::vector<MetaWrite> writes;  // in the order to apply them
  uint64_t file_size = 0;         // the image file's final length
  uint64_t data_clusters = 0;     // guest clusters allocated
};

class ImageBuilder {
 public:
  // Errors: those of ValidateCreateSpec.
  static Result<std::unique_ptr<ImageBuilder>> Create(const CreateSpec& spec);

  uint64_t cluster_size() const { return cs_; }
  // Host offset of the LUKS header clusters (cluster 1); 0 when plaintext.
  uint64_t luks_offset() const { return spec_.luks_bytes ? cs_ : 0; }
  // The next host offset AppendData hands out.
  uint64_t next_host() const { return next_host_; }

  // Gives guest clusters [guest_cluster, guest_cluster + count) the next
  // `count` host clusters and returns the host offset of the first. Guest
  // clusters must increase strictly across calls. Errors: kInvalidArgument
  // (order, past the virtual size), kResourceExhausted (offset bits).
  Result<uint64_t> AppendData(uint64_t guest_cluster, uint64_t count);

  // The metadata for everything appended so far (see the file comment).
  // Errors: kResourceExhausted (refcount table over 8 MiB, header over a
  // cluster).
  Result<FinishedImage> Finish() const;

 private:
  struct Run {
    uint64_t guest = 0;  // first guest cluster
    uint64_t host = 0;   // its host offset
    uint64_t count = 0;  // clusters
  };
  explicit ImageBuilder(const CreateSpec& spec);

  CreateSpec spec_;
  uint64_t cs_ = 0;
  uint32_t cluster_bits_ = 0;
  uint32_t refcount_order_ = 0;
  uint64_t l2_entries_ = 0;     // entries per L2 table
  uint64_t l1_size_ = 0;        // entries
  uint64_t guest_clusters_ = 0; // of the virtual size
  uint64_t next_host_ = 0;
  uint64_t next_guest_ = 0;     // the lowest guest cluster AppendData accepts
  std::vector<Run> runs_;
};

}  // namespace luksfs::fs::qcow2
