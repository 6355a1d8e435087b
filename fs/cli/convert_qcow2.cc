#include "fs/cli/convert_qcow2.h"

#include <unistd.h>

#include <csignal>
#include <iostream>

#include "crypto/keyslot_create.h"
#include "fs/cli/binding_store.h"
#include "fs/cli/image.h"
#include "fs/cli/prep_open.h"
#include "fs/cli/prep_secret.h"
#include "fs/prep/convert.h"
#include "fs/prep/interrupt.h"
#include "fs/prep/progress.h"
#include "fs/prep/qcow2_target.h"
#include "fs/prep/s3_output.h"

namespace luksfs::cli {

int RunConvertToQcow2(const Command& cmd, fs::prep::PlainImage& src,
                      SecureBuffer& src_pass) {
  const PrepConfig& p = cmd.prep;
  fs::prep::FormatOptions format = p.format;
  format.qcow2.enabled = true;
  format.version = 1;
  fs::prep::InheritFormat(src.format, &format);
  const bool to_s3 = p.b.rfind("s3://", 0) == 0;
  const bool kms = !cmd.kms.uri.empty();
  if (kms && !format.qcow2.encrypted) {
    return Report({kExitUsage, p.b + ": -O qcow2-plain is not encrypted: no --kms"});
  }
  if (kms && (!p.new_secret.passphrase_file.empty() || !p.new_secret.key_file.empty())) {
    return Report({kExitUsage, p.b + ": --kms generates DST's passphrase: no "
                                     "--new-passphrase-file or --new-key-file"});
  }
  if (auto s = fs::prep::ValidateQcow2Format(format, src.size); !s.ok()) {
    return Report({kExitUsage, p.b + ": " + s.message()});
  }
  const RecordFits fits = [&](std::string_view json) {
    return fs::prep::CheckQcow2BindingRecord(format, src.size, json);
  };
  if (kms) {
    if (auto e = PrecheckNewBinding(p.b, cmd.kms.uri, fits)) return Report(*e);
  }

  crypto::NewLuksHeader header;
  std::unique_ptr<crypto::CryptEngine> engine;
  // With --kms: the binding (the KMS is asked before DST is touched), where
  // it goes, and the generated passphrase, kept to prove the result.
  std::optional<KmsBinding> binding;
  std::optional<CreatedKeyGuard> created_key;  // --create-key: destroyed on failure
  NewBindingPlace place;
  NewSidecar sidecar;
  SecureBuffer pass;
  if (format.qcow2.encrypted) {
    // DST's secret: generated for --kms, else --new-*, else SRC's
    // passphrase, else asked (twice).
    if (kms) {
      if (auto e = BindNewImage(cmd.kms, "convert", p.b, &format, &pass, &binding,
                                &created_key)) {
        return Report(*e);
      }
      if (auto e = PlaceNewBinding(p.b, fits, &*binding, &place)) return Report(*e);
    } else if (!p.new_secret.passphrase_file.empty() || !p.new_secret.key_file.empty() ||
        src_pass.empty()) {
      auto s = ReadNewSecret(p.new_secret, p.b);
      if (!s.ok()) return Report({kExitNoKey, p.b + ": " + s.status().message()});
      pass = std::move(s).value();
    } else {
      pass = std::move(src_pass);
    }
    auto key = SecureBuffer::Create(format.key_bits / 8);
    if (!key.ok()) return Report({kExitBadImage, key.status().message()});
    SecureBuffer vk = std::move(key).value();
    if (auto s = crypto::RandomBytes(vk.span()); !s.ok()) {
      return Report({kExitBadImage, s.message()});
    }
    auto h = fs::prep::BuildQcow2LuksHeader(format, pass.span(), vk.span());
    if (!binding) pass.Wipe();
    if (!h.ok()) return Report({PrepExitCode(h.status()), p.b + ": " + h.status().message()});
    header = std::move(h).value();
    crypto::EngineOptions eo;
    eo.threads = p.threads;
    auto eng = crypto::CryptEngine::Create(format.cipher, vk.span(), 512, eo);
    vk.Wipe();
    if (!eng.ok()) return Report({kExitUsage, p.b + ": " + eng.status().message()});
    engine = std::move(eng).value();
  }
  src_pass.Wipe();

  auto target = fs::prep::Qcow2Target::Create(
      fs::prep::Qcow2Spec(format, src.size, place.record), engine.get());
  if (!target.ok()) {
    return Report({PrepExitCode(target.status()), p.b + ": " + target.status().message()});
  }
  fs::prep::InstallInterruptHandler();
  std::unique_ptr<fs::prep::OutputSink> out;
  if (to_s3) {
    // A streamed multipart upload; the header and LUKS header (written
    // last and first) live in the held first part.
    auto o = fs::prep::S3Output::Create(p.b, cmd.storage.s3, p.force);
    if (!o.ok()) return Report({PrepExitCode(o.status()), o.status().message()});
    (*o)->HoldFirstPart();
    out = std::move(o).value();
  } else {
    auto o = fs::prep::OutputFile::Create(p.b, p.force);
    if (!o.ok()) return Report({PrepExitCode(o.status()), o.status().message()});
    out = std::move(o).value();
  }
  if (engine) {
    if (Status s = (*target)->WriteLuks(*out, header); !s.ok()) {
      return Report({kExitStorage, s.message()});
    }
  }
  fs::prep::ConvertTarget t;
  t.out = out.get();
  t.qcow2 = target->get();
  fs::prep::Progress progress(p.progress, p.json_progress, src.size);
  fs::prep::ConvertOptions co;
  const uint64_t cs = format.qcow2.cluster_size;
  co.chunk_bytes = (p.chunk_bytes + cs - 1) / cs * cs;
  co.progress = [&](uint64_t done) { progress.Update(done); };
  auto r = fs::prep::ConvertPlain(src, t, co);
  progress.Finish(r.ok() ? src.size : 0);
  if (r.ok() && fs::prep::Interrupted()) r = Status::Unavailable("interrupted");
  if (r.ok()) {
    auto f = (*target)->Finish(*out);
    if (!f.ok()) r = f.status();
  }
  if (r.ok() && !place.sidecar.empty()) {
    // Before DST appears: there is never a DST without its binding.
    if (auto e = sidecar.Write(place.sidecar, BindingToJson(*binding))) return Report(*e);
  }
  if (!r.ok()) {
    out.reset();  // deletes the temporary file
    if (r.status().code() == Status::Code::kUnavailable) {
      return Report({128 + SIGINT, p.b + ": interrupted; nothing written"});
    }
    return Report({PrepExitCode(r.status()), p.b + ": " + r.status().message()});
  }
  if (Status c = out->Commit(); !c.ok()) {
    out.reset();
    return Report({kExitStorage, c.message()});
  }
  if (binding) {
    if (auto e = SettleNewBinding(p.b, cmd.storage, pass.span(), *binding, place, &sidecar,
                                  created_key ? &*created_key : nullptr)) {
      return Report(*e);
    }
    pass.Wipe();
    // convert is quiet, except to say where the only key of DST is kept.
    WarnSidecarHoldsKey(p.b, *binding, place);
  }
  return kExitOk;
}

}  // namespace luksfs::cli
