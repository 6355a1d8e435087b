// `luksfs convert SRC DST`: SRC raw or LUKS1/2, DST LUKS1/2 (always a new
// volume key: re-keying) or raw (decrypting). Option checks, secrets and
// exit codes; the pipeline is fs/prep/convert.
//
// Exit codes: 0 done, 1 usage (and an existing DST without --force),
// 2 no key, 3 bad image, 4 storage, 130 interrupted (no DST left).
#include <unistd.h>

#include <csignal>
#include <iostream>

#include "crypto/keyslot_create.h"
#include "fs/cli/binding_store.h"
#include "fs/cli/commands.h"
#include "fs/cli/convert_qcow2.h"
#include "fs/cli/prep_open.h"
#include "fs/cli/prep_secret.h"
#include "fs/prep/convert.h"
#include "fs/prep/create.h"
#include "fs/prep/interrupt.h"
#include "fs/prep/progress.h"
#include "fs/prep/s3_output.h"

namespace luksfs::cli {

namespace {

constexpr int kExitInterrupted = 128 + SIGINT;

}  // namespace

int RunConvert(const Command& cmd) {
  const PrepConfig& p = cmd.prep;
  const bool to_s3 = p.b.rfind("s3://", 0) == 0;
  if (!to_s3 && !p.force && fs::prep::PathExists(p.b)) {
    return Report({kExitUsage, p.b + ": already exists (use --force to replace it)"});
  }
  fs::prep::PlainImage src;
  SecureBuffer src_pass;
  if (auto e = OpenPlain(p.a, cmd.secret, cmd.kms, cmd.storage, p.threads, &src,
                         &src_pass)) {
    return Report(*e);
  }
  std::string type = p.out_type;
  if (type.empty()) {
    type = src.container == fs::prep::Container::kLuks1 ? "luks1" : "luks2";
  }
  if (type == "qcow2" || type == "qcow2-plain") {
    return RunConvertToQcow2(cmd, src, src_pass);
  }
  if (type == "raw" && !cmd.kms.uri.empty()) {
    return Report({kExitUsage, p.b + ": --kms binds a LUKS2 DST, not a raw one"});
  }
  if (type == "raw" && !src.encrypted() && src.container == fs::prep::Container::kRaw) {
    return Report({kExitUsage, p.a + ": SRC is raw and DST would be raw: nothing "
                                     "to encrypt or decrypt (use cp)"});
  }
  fs::prep::FormatOptions format = p.format;
  format.version = type == "luks1" ? 1 : 2;
  fs::prep::InheritFormat(src.format, &format);

  SecureBuffer vk;
  crypto::NewLuksHeader header;
  std::unique_ptr<crypto::CryptEngine> dst_engine;
  // --kms: the binding (LUKS2: a token in the header; LUKS1: a sidecar
  // written just before DST is committed), and the generated passphrase,
  // kept to prove DST.
  std::optional<KmsBinding> binding;
  std::optional<CreatedKeyGuard> created_key;  // --create-key: destroyed on failure
  NewBindingPlace place;
  NewSidecar sidecar;
  SecureBuffer pass;
  if (type != "raw") {
    // DST's secret: --new-*, else SRC's passphrase, else asked (twice).
    if (!cmd.kms.uri.empty()) {
      if (!p.new_secret.passphrase_file.empty() || !p.new_secret.key_file.empty()) {
        return Report({kExitUsage, p.b + ": --kms generates DST's passphrase: no "
                                         "--new-passphrase-file or --new-key-file"});
      }
      if (format.version == 1) {
        if (auto e = PrecheckNewBinding(p.b, cmd.kms.uri, nullptr)) return Report(*e);
      }
      if (auto e = BindNewImage(cmd.kms, "convert", p.b, &format, &pass, &binding,
                                &created_key)) {
        return Report(*e);
      }
      if (format.version == 1) {
        if (auto e = PlaceNewBinding(p.b, nullptr, &*binding, &place)) return Report(*e);
      }
    } else if (!p.new_secret.passphrase_file.empty() || !p.new_secret.key_file.empty() ||
               src_pass.empty()) {
      auto s = ReadNewSecret(p.new_secret, p.b);
      if (!s.ok()) return Report({kExitNoKey, p.b + ": " + s.status().message()});
      pass = std::move(s).value();
    } else {
      pass = std::move(src_pass);
    }
    if (auto s = fs::prep::ValidateFormat(format); !s.ok()) {
      return Report({kExitUsage, p.b + ": " + s.message()});
    }
    auto key = SecureBuffer::Create(format.key_bits / 8);
    if (!key.ok()) return Report({kExitBadImage, key.status().message()});
    vk = std::move(key).value();
    if (auto s = crypto::RandomBytes(vk.span()); !s.ok()) {
      return Report({kExitBadImage, s.message()});
    }
    auto h = fs::prep::BuildHeader(format, pass.span(), vk.span(), src.size);
    if (!binding) pass.Wipe();
    if (!h.ok()) return Report({PrepExitCode(h.status()), p.b + ": " + h.status().message()});
    header = std::move(h).value();
    crypto::EngineOptions eo;
    eo.threads = p.threads;
    auto eng = crypto::CryptEngine::Create(
        format.cipher, vk.span(), fs::prep::EffectiveSectorSize(format, src.size), eo);
    vk.Wipe();
    if (!eng.ok()) return Report({kExitUsage, p.b + ": " + eng.status().message()});
    dst_engine = std::move(eng).value();
  }
  src_pass.Wipe();

  fs::prep::InstallInterruptHandler();
  std::unique_ptr<fs::prep::OutputSink> out;
  if (to_s3) {
    auto o = fs::prep::S3Output::Create(p.b, cmd.storage.s3, p.force);
    if (!o.ok()) return Report({PrepExitCode(o.status()), o.status().message()});
    out = std::move(o).value();
  } else {
    auto o = fs::prep::OutputFile::Create(p.b, p.force);
    if (!o.ok()) return Report({PrepExitCode(o.status()), o.status().message()});
    out = std::move(o).value();
  }
  fs::prep::ConvertTarget target;
  target.out = out.get();
  target.data_offset = dst_engine ? header.data_offset : 0;
  target.engine = dst_engine.get();
  Status s = out->Truncate(target.data_offset + src.size);
  if (s.ok() && dst_engine) s = fs::prep::WriteHeader(*out, header);
  if (!s.ok()) return Report({kExitStorage, s.message()});

  fs::prep::Progress progress(p.progress, p.json_progress, src.size);
  fs::prep::ConvertOptions co;
  co.chunk_bytes = p.chunk_bytes;
  co.progress = [&](uint64_t done) { progress.Update(done); };
  auto r = fs::prep::ConvertPlain(src, target, co);
  progress.Finish(r.ok() ? src.size : 0);
  if (r.ok() && fs::prep::Interrupted()) r = Status::Unavailable("interrupted");
  if (!r.ok()) {
    out.reset();  // deletes the temporary file, or aborts the upload
    if (r.status().code() == Status::Code::kUnavailable) {
      return Report({kExitInterrupted, p.b + ": interrupted; nothing written"});
    }
    return Report({PrepExitCode(r.status()), p.b + ": " + r.status().message()});
  }
  if (!place.sidecar.empty()) {
    // Before DST appears: there is never a DST without its binding.
    if (auto e = sidecar.Write(place.sidecar, BindingToJson(*binding))) return Report(*e);
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
    WarnSidecarHoldsKey(p.b, *binding, place);
  }
  return kExitOk;  // quiet otherwise, as qemu-img convert
}

}  // namespace luksfs::cli
