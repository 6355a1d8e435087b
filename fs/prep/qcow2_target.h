// qcow2 destinations of `luksfs create` and `luksfs convert`: the LUKS1
// header qemu puts inside a qcow2+LUKS image, and Qcow2Target, which turns
// convert's plaintext chunks into packed, allocated (and, for qcow2+LUKS,
// encrypted) runs of host clusters, then writes the metadata once at the
// end (fs/image/qcow2_create lays it out).
//
// qemu's qcow2+LUKS (block/qcow2.c, crypto/block-luks.c): a LUKS1 header
// in the clusters the FDE header extension (0x0537be77) points at, 512-byte
// encryption sectors, and the IV of each sector is its HOST offset / 512
// (not the guest offset). The LUKS payload offset field is the header
// length: 8 sectors of header plus 8 keyslots of key material, each
// rounded to 4096 bytes (4040 sectors for a 512-bit key); qemu ignores it
// for qcow2, where data lives in clusters.
//
// Units: bytes. Thread-safety: a Qcow2Target is driven by one thread at a
// time (Place by convert's crypto stage, Finish after the pipeline).
// Secrets: the passphrase and volume key are borrowed; Place encrypts in
// place and the caller wipes its buffers.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/result.h"
#include "crypto/crypt_engine.h"
#include "crypto/luks2_writer.h"
#include "fs/image/qcow2_create.h"
#include "fs/prep/create.h"
#include "fs/prep/format.h"
#include "fs/prep/output_file.h"

namespace luksfs::fs::prep {

// The LUKS header length qemu reserves for a key of `key_bytes`.
uint64_t QemuLuksHeaderBytes(uint32_t key_bytes);

// Checks a qcow2 format (o.qcow2.enabled) against what qemu's LUKS-in-qcow2
// accepts. Errors: kInvalidArgument naming the option.
Status ValidateQcow2Format(const FormatOptions& o, uint64_t size);

// The qcow2 skeleton spec for `o` and `size` (plaintext bytes), with the
// KMS binding record `binding_record` (luksfs-kms JSON; "" for none) in
// its header (fs/image/qcow2_binding.h).
qcow2::CreateSpec Qcow2Spec(const FormatOptions& o, uint64_t size,
                            std::string_view binding_record = {});

// Whether `binding_record` fits in the header cluster of the image
// Qcow2Spec(o, size) describes. Pure; create and convert call it before
// writing anything, to choose the header or a sidecar (or to refuse an
// s3:// DST). Errors: kResourceExhausted (no room: the message gives the
// bytes needed and free, and names --cluster-size), those of
// ValidateCreateSpec.
Status CheckQcow2BindingRecord(const FormatOptions& o, uint64_t size,
                               std::string_view binding_record);

// The LUKS1 header for a qcow2+LUKS image (offsets relative to the LUKS
// header clusters). Errors: those of BuildHeader.
Result<crypto::NewLuksHeader> BuildQcow2LuksHeader(const FormatOptions& o,
                                                   std::span<const uint8_t> passphrase,
                                                   std::span<const uint8_t> volume_key);

struct HostRun {
  uint64_t host_offset = 0;
  uint64_t length = 0;  // 0: the chunk was all zeros
};

class Qcow2Target {
 public:
  // `engine` (512-byte sectors, the volume key of the LUKS header) is
  // null for qcow2-plain. Both are borrowed. Errors: those of
  // ImageBuilder::Create.
  static Result<std::unique_ptr<Qcow2Target>> Create(const qcow2::CreateSpec& spec,
                                                     crypto::CryptEngine* engine);

  uint64_t cluster_size() const { return builder_->cluster_size(); }
  bool encrypted() const { return engine_ != nullptr; }
  uint64_t luks_offset() const { return builder_->luks_offset(); }

  // The guest range [offset, offset + length) (offset cluster-aligned) in
  // `data`, which holds `capacity` bytes: pads the last partial cluster
  // with zeros, drops all-zero clusters, packs the others to the front in
  // guest order, gives them host clusters and encrypts them in place.
  // Errors: kInvalidArgument (alignment), those of AppendData / Encrypt.
  Result<HostRun> Place(uint64_t offset, uint8_t* data, uint64_t length,
                        uint64_t capacity);

  // Writes the LUKS header (when encrypted) at luks_offset().
  Status WriteLuks(OutputSink& out, const crypto::NewLuksHeader& header);

  // Writes the metadata (refcounts, L2, L1, header last) and sets the
  // file size; into a sequential() sink (an S3Output after HoldFirstPart)
  // in increasing offsets instead. Returns the file size.
  Result<uint64_t> Finish(OutputSink& out);

 private:
  Qcow2Target(std::unique_ptr<qcow2::ImageBuilder> b, crypto::CryptEngine* e)
      : builder_(std::move(b)), engine_(e) {}
  std::unique_ptr<qcow2::ImageBuilder> builder_;
  crypto::CryptEngine* const engine_;
};

// `luksfs create --type qcow2|qcow2-plain`: the skeleton only (sparse),
// with `binding_record` (if not "") in the header written last. `out` is
// committed on success. Errors: as CreateImageIn; kResourceExhausted for a
// record with no room (check first with CheckQcow2BindingRecord).
Result<CreatedImage> CreateQcow2In(OutputSink& out, uint64_t size,
                                   const FormatOptions& format,
                                   std::span<const uint8_t> passphrase,
                                   std::string_view binding_record = {});

}  // namespace luksfs::fs::prep
