// `luksfs create IMAGE SIZE`: option checks, the secret, the optional KMS
// binding, and exit codes. The image itself is made by fs/prep/create.
#include <unistd.h>

#include <iostream>

#include "common/secure_buffer.h"
#include "crypto/keyslot_create.h"
#include "crypto/luks2_writer.h"
#include "fs/cli/binding_store.h"
#include "fs/cli/commands.h"
#include "fs/cli/image.h"
#include "fs/cli/prep_open.h"
#include "fs/cli/prep_secret.h"
#include "fs/prep/create.h"
#include "fs/prep/interrupt.h"
#include "fs/prep/qcow2_target.h"
#include "fs/prep/s3_output.h"

namespace luksfs::cli {

namespace {

// --type qcow2 | qcow2-plain: the skeleton (header, LUKS1 header, L1,
// refcounts), nothing else: every guest cluster is unallocated. With
// --kms the binding record is part of the header, written last (or, with
// no room, a sidecar written before the image is committed).
int RunCreateQcow2(const Command& cmd) {
  const PrepConfig& p = cmd.prep;
  fs::prep::FormatOptions format = p.format;
  const bool to_s3 = p.a.rfind("s3://", 0) == 0;
  const bool kms = !cmd.kms.uri.empty();
  if (kms && !format.qcow2.encrypted) {
    return Report({kExitUsage, p.a + ": --type qcow2-plain is not encrypted: no --kms"});
  }
  if (kms && (!p.new_secret.passphrase_file.empty() || !p.new_secret.key_file.empty())) {
    return Report({kExitUsage, p.a + ": --kms generates the passphrase: no "
                                     "--passphrase-file or --key-file"});
  }
  if (auto s = fs::prep::ValidateQcow2Format(format, p.size); !s.ok()) {
    return Report({kExitUsage, p.a + ": " + s.message()});
  }
  const RecordFits fits = [&](std::string_view json) {
    return fs::prep::CheckQcow2BindingRecord(format, p.size, json);
  };
  if (kms) {
    if (auto e = PrecheckNewBinding(p.a, cmd.kms.uri, fits)) return Report(*e);
  }
  std::unique_ptr<fs::prep::OutputSink> out;
  if (to_s3) {
    // The header is written last: hold the first part (see S3Output).
    auto o = fs::prep::S3Output::Create(p.a, cmd.storage.s3, p.force);
    if (!o.ok()) return Report({PrepExitCode(o.status()), o.status().message()});
    (*o)->HoldFirstPart();
    out = std::move(o).value();
  } else if (!p.force && fs::prep::PathExists(p.a)) {
    return Report({kExitUsage, p.a + ": already exists (use --force to replace it)"});
  }
  SecureBuffer pass;
  std::optional<KmsBinding> binding;
  std::optional<CreatedKeyGuard> created_key;  // --create-key: destroyed on failure
  NewBindingPlace place;
  NewSidecar sidecar;
  if (kms) {
    // The KMS first: an error there leaves nothing behind.
    if (auto e = BindNewImage(cmd.kms, "create", p.a, &format, &pass, &binding,
                              &created_key)) {
      return Report(*e);
    }
    if (auto e = PlaceNewBinding(p.a, fits, &*binding, &place)) return Report(*e);
  } else if (format.qcow2.encrypted) {
    auto secret = ReadNewSecret(p.new_secret, p.a);
    if (!secret.ok()) return Report({kExitNoKey, p.a + ": " + secret.status().message()});
    pass = std::move(secret).value();
  } else if (!p.new_secret.passphrase_file.empty() || !p.new_secret.key_file.empty()) {
    return Report({kExitUsage, p.a + ": --type qcow2-plain is not encrypted: no "
                                     "--passphrase-file or --key-file"});
  }
  fs::prep::InstallInterruptHandler();
  if (!out) {
    auto o = fs::prep::OutputFile::Create(p.a, p.force);
    if (!o.ok()) return Report({PrepExitCode(o.status()), o.status().message()});
    out = std::move(o).value();
  }
  if (!place.sidecar.empty()) {
    if (auto e = sidecar.Write(place.sidecar, BindingToJson(*binding))) return Report(*e);
  }
  auto made = fs::prep::CreateQcow2In(*out, p.size, format, pass.span(), place.record);
  if (!made.ok()) return Report({PrepExitCode(made.status()), p.a + ": " + made.status().message()});
  if (binding) {
    if (auto e = SettleNewBinding(p.a, cmd.storage, pass.span(), *binding, place, &sidecar,
                                  created_key ? &*created_key : nullptr)) {
      return Report(*e);
    }
  }
  pass.Wipe();
  std::cout << p.a << ": qcow2" << (format.qcow2.encrypted ? "+LUKS1" : " (not encrypted)")
            << ", " << p.size << " bytes virtual, cluster " << format.qcow2.cluster_size
            << ", file " << made->file_bytes << " bytes";
  if (format.qcow2.encrypted) std::cout << ", UUID " << made->uuid;
  if (binding) {
    std::cout << ", bound to " << binding->kms << " (keyslot " << binding->keyslot
              << ", " << place.where << ")";
  }
  std::cout << "\n";
  return kExitOk;
}

}  // namespace

int RunCreate(const Command& cmd) {
  const PrepConfig& p = cmd.prep;
  const bool to_s3 = p.a.rfind("s3://", 0) == 0;
  if (p.format.qcow2.enabled) return RunCreateQcow2(cmd);
  if (!cmd.kms.uri.empty() && p.format.version == 1) {
    // Before S3 or the KMS is asked: an s3:// LUKS1 image has no sidecar.
    if (auto e = PrecheckNewBinding(p.a, cmd.kms.uri, nullptr)) return Report(*e);
  }
  std::unique_ptr<fs::prep::OutputSink> s3_out;
  if (to_s3) {
    auto o = fs::prep::S3Output::Create(p.a, cmd.storage.s3, p.force);
    if (!o.ok()) return Report({PrepExitCode(o.status()), o.status().message()});
    s3_out = std::move(o).value();
  } else if (!p.force && fs::prep::PathExists(p.a)) {
    return Report({kExitUsage, p.a + ": already exists (use --force to replace it)"});
  }
  fs::prep::FormatOptions format = p.format;
  SecureBuffer pass;
  std::optional<KmsBinding> binding;
  std::optional<CreatedKeyGuard> created_key;  // --create-key: destroyed on failure
  NewBindingPlace place;  // LUKS1: the sidecar (LUKS2: the token)
  NewSidecar sidecar;
  if (!cmd.kms.uri.empty()) {
    if (auto e = BindNewImage(cmd.kms, "create", p.a, &format, &pass, &binding,
                              &created_key)) {
      return Report(*e);
    }
    if (format.version == 1) {
      if (auto e = PlaceNewBinding(p.a, nullptr, &*binding, &place)) return Report(*e);
    }
  } else {
    auto secret = ReadNewSecret(p.new_secret, p.a);
    if (!secret.ok()) return Report({kExitNoKey, p.a + ": " + secret.status().message()});
    pass = std::move(secret).value();
  }
  // From here signals become a flag (not before: a prompt must stay
  // interruptible): the output is discarded (file unlinked, upload aborted)
  // instead of the process dying mid-write.
  fs::prep::InstallInterruptHandler();
  if (!place.sidecar.empty()) {
    // Before the image appears: there is never an image without it.
    if (auto e = sidecar.Write(place.sidecar, BindingToJson(*binding))) return Report(*e);
  }
  auto made = to_s3 ? fs::prep::CreateImageIn(*s3_out, p.size, format, pass.span())
                    : fs::prep::CreateImage(p.a, p.size, format, pass.span(), p.force);
  if (!made.ok()) return Report({PrepExitCode(made.status()), p.a + ": " + made.status().message()});
  if (binding) {
    // Prove it: the new image opens with the generated passphrase, and
    // its binding is where it was written.
    if (auto e = SettleNewBinding(p.a, cmd.storage, pass.span(), *binding, place, &sidecar,
                                  created_key ? &*created_key : nullptr)) {
      return Report(*e);
    }
  }
  pass.Wipe();
  std::cout << p.a << ": LUKS" << format.version << ", " << p.size
            << " bytes of data at offset " << made->data_offset << ", sector "
            << made->sector_size << ", UUID " << made->uuid;
  if (binding && place.sidecar.empty()) {
    std::cout << ", bound to " << binding->kms << " (keyslot 0, token 0)";
  } else if (binding) {
    std::cout << ", bound to " << binding->kms << " (keyslot 0, " << place.where
              << ": keep it with the image, it holds the only key)";
  }
  std::cout << "\n";
  return kExitOk;
}

}  // namespace luksfs::cli
