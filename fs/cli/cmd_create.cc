// `luksfs create IMAGE SIZE`: option checks, the secret, the optional KMS
// binding, and exit codes. The image itself is made by fs/prep/create.
#include <unistd.h>

#include <iostream>

#include "common/secure_buffer.h"
#include "crypto/keyslot_create.h"
#include "crypto/luks2_writer.h"
#include "fs/cli/commands.h"
#include "fs/cli/image.h"
#include "fs/cli/prep_secret.h"
#include "fs/prep/create.h"
#include "fs/prep/s3_output.h"

namespace luksfs::cli {

namespace {

// Keyslots holding a generated passphrase: 256 bits of entropy, so the KDF
// adds nothing; pbkdf2 at cryptsetup's minimum keeps KMS opens fast (the
// same policy as `luksfs bind`).
constexpr uint32_t kGeneratedSlotIterations = 1000;

int CreateExit(const Status& s) {
  switch (s.code()) {
    case Status::Code::kInvalidArgument:
    case Status::Code::kNotSupported:
      return kExitUsage;
    case Status::Code::kIOError:
    case Status::Code::kNotFound:
      return kExitStorage;
    default:
      return kExitBadImage;
  }
}

}  // namespace

int RunCreate(const Command& cmd) {
  const PrepConfig& p = cmd.prep;
  const bool to_s3 = p.a.rfind("s3://", 0) == 0;
  std::unique_ptr<fs::prep::OutputSink> s3_out;
  if (to_s3) {
    auto o = fs::prep::S3Output::Create(p.a, cmd.storage.s3, p.force);
    if (!o.ok()) return Report({CreateExit(o.status()), o.status().message()});
    s3_out = std::move(o).value();
  } else if (!p.force && fs::prep::PathExists(p.a)) {
    return Report({kExitUsage, p.a + ": already exists (use --force to replace it)"});
  }
  fs::prep::FormatOptions format = p.format;
  SecureBuffer pass;
  std::optional<KmsBinding> binding;
  if (!cmd.kms.uri.empty()) {
    if (format.version != 2) {
      return Report({kExitUsage, p.a + ": --kms needs --type luks2 (LUKS1 has no "
                                       "token area; run 'luksfs bind' afterwards)"});
    }
    if (format.uuid.empty()) {
      auto uuid = crypto::RandomUuid();
      if (!uuid.ok()) return Report({kExitBadImage, uuid.status().message()});
      format.uuid = *uuid;
    }
    std::string uri = cmd.kms.uri;
    if (cmd.kms.create_key) {
      kms::NewKeyAttributes attrs;
      attrs.name = "luksfs-" + format.uuid;
      attrs.identifier = format.uuid;
      auto created = kms::CreateRootKey(uri, cmd.kms.options, attrs);
      if (!created.ok()) return Report(KmsError("KMS " + uri, created.status()));
      uri = *created;
    }
    auto client = kms::OpenKms(uri, cmd.kms.options);
    if (!client.ok()) return Report(KmsError("KMS " + uri, client.status()));
    auto gen = GenerateHexPassphrase();
    if (!gen.ok()) return Report({kExitBadImage, gen.status().message()});
    pass = std::move(gen).value();
    auto wrapped = (*client)->Wrap(pass.span());
    if (!wrapped.ok()) return Report(KmsError("KMS " + uri, wrapped.status()));
    KmsBinding b;
    b.keyslot = 0;
    b.kms = uri;
    b.key_id = (*client)->key_id();
    b.wrapped = std::move(wrapped).value();
    b.created = NowRfc3339();
    format.tokens.push_back(BindingToJson(b));
    format.pbkdf = "pbkdf2";
    format.force_iterations = kGeneratedSlotIterations;
    binding = std::move(b);
  } else {
    auto secret = ReadNewSecret(p.new_secret, p.a);
    if (!secret.ok()) return Report({kExitNoKey, p.a + ": " + secret.status().message()});
    pass = std::move(secret).value();
  }
  auto made = to_s3 ? fs::prep::CreateImageIn(*s3_out, p.size, format, pass.span())
                    : fs::prep::CreateImage(p.a, p.size, format, pass.span(), p.force);
  if (!made.ok()) return Report({CreateExit(made.status()), p.a + ": " + made.status().message()});
  if (binding) {
    // Prove it: the new image opens with the generated passphrase.
    OpenedImage again;
    if (auto e = OpenImage(p.a, false, cmd.storage, &again)) return Report(*e);
    crypto::UnlockedKey check;
    if (auto e = UnlockWithPassphrase(again, pass.span(), 0, 1048576, &check)) {
      if (!to_s3) unlink(p.a.c_str());
      return Report({kExitBadImage, "BUG: the new image does not open: " + e->message});
    }
  }
  pass.Wipe();
  std::cout << p.a << ": LUKS" << format.version << ", " << p.size
            << " bytes of data at offset " << made->data_offset << ", sector "
            << made->sector_size << ", UUID " << made->uuid;
  if (binding) std::cout << ", bound to " << binding->kms << " (keyslot 0, token 0)";
  std::cout << "\n";
  return kExitOk;
}

}  // namespace luksfs::cli
