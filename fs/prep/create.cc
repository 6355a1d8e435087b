#include "fs/prep/create.h"

#include "common/secure_buffer.h"
#include "crypto/keyslot_create.h"
#include "fs/prep/interrupt.h"

namespace luksfs::fs::prep {

Status WriteHeader(OutputSink& out, const crypto::NewLuksHeader& header) {
  for (const crypto::ImageWrite& w : header.writes) {
    LUKSFS_RETURN_IF_ERROR(out.WriteAt(w.offset, w.bytes));
  }
  return Status();
}

Result<CreatedImage> CreateImageIn(OutputSink& out, uint64_t size,
                                   const FormatOptions& format,
                                   std::span<const uint8_t> passphrase) {
  LUKSFS_RETURN_IF_ERROR(ValidateFormat(format));
  if (size == 0) return Status::InvalidArgument("SIZE must be above 0");
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer vk, SecureBuffer::Create(format.key_bits / 8));
  LUKSFS_RETURN_IF_ERROR(crypto::RandomBytes(vk.span()));
  LUKSFS_ASSIGN_OR_RETURN(crypto::NewLuksHeader header,
                          BuildHeader(format, passphrase, vk.span(), size));
  vk.Wipe();
  const uint64_t total = header.data_offset + size;
  LUKSFS_RETURN_IF_ERROR(out.Truncate(total));
  LUKSFS_RETURN_IF_ERROR(WriteHeader(out, header));
  if (Interrupted()) return Status::Unavailable("interrupted");
  LUKSFS_RETURN_IF_ERROR(out.Commit());
  CreatedImage r;
  r.uuid = header.uuid;
  r.data_offset = header.data_offset;
  r.file_bytes = total;
  r.sector_size = EffectiveSectorSize(format, size);
  r.keyslot = header.keyslot;
  return r;
}

Result<CreatedImage> CreateImage(const std::string& path, uint64_t size,
                                 const FormatOptions& format,
                                 std::span<const uint8_t> passphrase,
                                 bool force) {
  LUKSFS_RETURN_IF_ERROR(ValidateFormat(format));
  if (size == 0) return Status::InvalidArgument("SIZE must be above 0");
  LUKSFS_ASSIGN_OR_RETURN(auto out, OutputFile::Create(path, force));
  return CreateImageIn(*out, size, format, passphrase);
}

}  // namespace luksfs::fs::prep
