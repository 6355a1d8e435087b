// Where a LUKS1 image's KMS binding is written and removed (LUKS2 images
// keep theirs in a token, edited with the header in cmd_kms.cc):
//   1. inside the container when it keeps a record (qcow2+LUKS: luksfs's
//      header extension, fs/image/qcow2_binding.h) — travels with the file,
//      local or s3://;
//   2. else, or when the qcow2 header cluster has no room (512-byte
//      clusters and a long record), the sidecar IMAGE.luksfs-kms beside a
//      local image (written atomically: tmp + rename).
// Writing into the container removes a sidecar left by an older luksfs
// (the in-file record wins on reading anyway, fs/image/image.h FindBinding).
//
// Thread-safety: CLI, one thread, under the image's edit lock.
// Errors: CliError with the documented exit code; a failed container write
// says what is on disk now (edit_outcome.h).
#pragma once

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "fs/cli/image.h"
#include "fs/cli/kms_binding.h"

namespace luksfs::cli {

class CreatedKeyGuard;

// Writes `b` (sets b->in_container) and says where in *where ("qcow2
// header extension 0x4c4b4d53" or "sidecar PATH").
std::optional<CliError> StoreLuks1Binding(const OpenedImage& image,
                                          KmsBinding* b, std::string* where);

// Removes the container's record (if any) and the sidecar (if any).
std::optional<CliError> DropLuks1Binding(const OpenedImage& image);

// --- The binding of a NEW LUKS1 image (create, convert with --kms) ---
// The same places as above, chosen BEFORE any byte of the image is written:
// the qcow2 header record (written with the header, so the image never
// exists without it), else the sidecar (written before the image is
// committed, removed again if it is not). An s3:// DST has no sidecar: a
// record with no room, or a raw LUKS1 DST, is refused (exit 1).

// Whether a binding record fits in the new image's qcow2 header (the
// Status of fs::prep::CheckQcow2BindingRecord); null for a raw LUKS1 DST.
using RecordFits = std::function<Status(std::string_view json)>;

struct NewBindingPlace {
  std::string record;   // the JSON for the qcow2 header; "" : a sidecar
  std::string sidecar;  // the sidecar path; "" : in the header
  std::string where;    // for the summary: "qcow2 header extension
                        // 0x4c4b4d53" or "sidecar PATH (why)"
};

// Chooses where `b` goes (sets b->in_container). Errors: exit 1 (s3://
// without room or without a container record; a bad record).
std::optional<CliError> PlaceNewBinding(const std::string& dst,
                                        const RecordFits& fits, KmsBinding* b,
                                        NewBindingPlace* out);

// The same check before the KMS is asked, for an s3:// DST only: a record
// as short as the KMS can make (the URI as given, a WDEK no longer than
// the 64-byte passphrase) that has no room is refused without a KMS call.
std::optional<CliError> PrecheckNewBinding(const std::string& dst,
                                           const std::string& kms_uri,
                                           const RecordFits& fits);

// A sidecar written for a new image before that image is committed. Until
// Keep(), the destructor puts back what the path held before (an older
// sidecar's text, or nothing), so a failed or interrupted create leaves
// no binding to an image that does not exist. One thread; not copyable.
class NewSidecar {
 public:
  NewSidecar() = default;
  ~NewSidecar();
  NewSidecar(const NewSidecar&) = delete;
  NewSidecar& operator=(const NewSidecar&) = delete;

  // Writes `json` to `path` atomically (tmp + rename). Errors: exit 4.
  std::optional<CliError> Write(const std::string& path, const std::string& json);
  void Keep() { armed_ = false; }

 private:
  std::string path_;
  std::optional<std::string> previous_;
  bool armed_ = false;
};

// After a local image with its binding in the header is committed: a
// sidecar beside it belonged to the image it replaced (--force) and goes.
// A failure is a warning on stderr (the header record wins on reading).
void RemoveReplacedSidecar(const std::string& image);

// Proves a new bound image: it opens, its binding is found where it was
// written (the same WDEK), and `pass` unlocks the binding's keyslot.
// Errors: exit 3 "BUG: ..." (the caller removes what it made).
std::optional<CliError> CheckNewBinding(const std::string& path,
                                        const fs::StorageOptions& storage,
                                        std::span<const uint8_t> pass,
                                        const KmsBinding& b);

// For a command that is otherwise quiet (convert): when the binding went
// into a sidecar, says so on stderr, since that file holds the only key.
void WarnSidecarHoldsKey(const std::string& path, const KmsBinding& b,
                         const NewBindingPlace& place);

// After a new bound image is committed: proves it (CheckNewBinding), then
// keeps the sidecar written for it, disarms `created_key` (may be null)
// and, when the binding went into the qcow2 header (place.record set),
// removes the sidecar of the image it replaced. On error a local image is
// unlinked and nothing is kept (the guard then destroys a created key);
// an s3:// object stays, and the error names it.
std::optional<CliError> SettleNewBinding(const std::string& path,
                                         const fs::StorageOptions& storage,
                                         std::span<const uint8_t> pass,
                                         const KmsBinding& b,
                                         const NewBindingPlace& place,
                                         NewSidecar* sidecar,
                                         CreatedKeyGuard* created_key);

}  // namespace luksfs::cli
