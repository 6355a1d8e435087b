// The KMS commands: bind/unbind an image to a root key, shred it, wrap and
// unwrap passphrases (the IBM Cloud WDEK flow), rewrap to a new key, and
// the key administration verbs of `luksfs kms`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>

#include "common/atomic_file.h"
#include "common/hex.h"
#include "common/secret_file.h"
#include "common/secure_buffer.h"
#include "common/unique_fd.h"
#include "crypto/af.h"
#include "crypto/base64.h"
#include "crypto/keyslot_create.h"
#include "crypto/luks1_writer.h"
#include "crypto/luks2_metadata.h"
#include "fs/cli/binding_store.h"
#include "fs/cli/cmd_kms_cluster.h"
#include "fs/cli/commands.h"
#include "fs/cli/created_key.h"
#include "fs/cli/edit_outcome.h"
#include "fs/cli/image.h"
#include "fs/cli/lock_image.h"
#include "fs/cli/secrets.h"

#ifndef LUKSFS_VERSION
#define LUKSFS_VERSION "0.1.0"
#endif

namespace luksfs::cli {

namespace {

// The attributes luksfs gives a root key it creates (vCenter's x-Vendor,
// x-Product, x-Product_Version on KMIP servers).
kms::NewKeyAttributes CreatorAttributes(const std::string& name) {
  kms::NewKeyAttributes a;
  a.name = name;
  a.product_version = "luksfs " LUKSFS_VERSION;
  return a;
}

// PBKDF2 cost of keyslots holding a generated passphrase. The passphrase
// has 256 bits of entropy, so the KDF adds nothing to its strength; 1000 is
// cryptsetup's minimum and keeps KMS mounts fast.
constexpr uint32_t kGeneratedSlotIterations = 1000;

// 32 random bytes as 64 hex characters, in locked memory.
Result<SecureBuffer> GeneratePassphrase() {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer raw, SecureBuffer::Create(32));
  LUKSFS_RETURN_IF_ERROR(crypto::RandomBytes(raw.span()));
  return HexEncodeSecure(raw.span());
}

std::optional<CliError> WriteFileAtomic(const std::string& path,
                                        const std::string& text) {
  Status s = luksfs::WriteFileAtomic(path, std::string_view(text));
  if (!s.ok()) return CliError{kExitStorage, s.message()};
  return std::nullopt;
}

std::optional<CliError> ReadFirst592(const OpenedImage& image,
                                     std::vector<uint8_t>* raw) {
  raw->assign(592, 0);
  Status s = image.container->ReadLuks(0, *raw);
  if (!s.ok()) return CliError{kExitStorage, image.path + ": " + s.message()};
  return std::nullopt;
}

// Random bytes over [offset, offset+size), as writes of at most 1 MiB.
Result<std::vector<crypto::ImageWrite>> RandomFill(uint64_t offset,
                                                   uint64_t size) {
  std::vector<crypto::ImageWrite> w;
  for (uint64_t done = 0; done < size;) {
    const uint64_t n = std::min<uint64_t>(size - done, 1 << 20);
    crypto::ImageWrite x{offset + done, std::vector<uint8_t>(n)};
    LUKSFS_RETURN_IF_ERROR(crypto::RandomBytes(x.bytes));
    w.push_back(std::move(x));
    done += n;
  }
  return w;
}

std::optional<CliError> Audit(const KmsConfig& kms, const std::string& event,
                              const std::map<std::string, std::string>& f) {
  auto log = fs::AuditLog::Open(kms.audit_log);
  if (!log.ok()) return CliError{kExitUsage, log.status().message()};
  (*log)->Event(event, f);
  return std::nullopt;
}

CliError BadImage(const OpenedImage& image, const Status& s) {
  return CliError{kExitBadImage, image.path + ": " + s.message()};
}

// Adds a keyslot holding `pass` (LUKS2: plus the token `binding`). Writes
// key material first, then the header copies; returns the slot in *slot.
// LUKS1 (raw or inside qcow2): the binding is stored first (binding_store.h,
// *where says where), then the keyslot, as the sidecar always was.
std::optional<CliError> AddKmsKeyslot(const OpenedImage& image,
                                      std::span<const uint8_t> pass,
                                      const crypto::UnlockedKey& key,
                                      KmsBinding* binding,
                                      std::string* where) {
  const crypto::LuksHeader& h = image.header;
  if (h.version == 2) {
    crypto::KeyslotSpec spec;
    spec.kdf.type = crypto::KdfType::kPbkdf2;
    spec.kdf.hash = "sha256";
    spec.kdf.iterations = kGeneratedSlotIterations;
    auto ks = crypto::MakeKeyslot(pass, key.volume_key.span(), spec);
    if (!ks.ok()) return BadImage(image, ks.status());
    auto md = crypto::Luks2Metadata::Load(h);
    if (!md.ok()) return BadImage(image, md.status());
    auto where = (*md)->PlanKeyslot(ks->material.size(), std::nullopt);
    if (!where.ok()) return BadImage(image, where.status());
    Status s = (*md)->AddKeyslot(*where, *ks, spec, key.volume_key.size());
    binding->keyslot = where->index;
    auto token = s.ok() ? (*md)->AddToken(BindingToJson(*binding))
                        : Result<int>(s);
    if (!token.ok()) return BadImage(image, token.status());
    binding->token = *token;
    auto headers = (*md)->EncodeHeaders(image.luks_size());
    if (!headers.ok()) return BadImage(image, headers.status());
    std::vector<crypto::ImageWrite> writes;
    writes.push_back({where->area_offset, std::move(ks->material)});
    for (auto& w : *headers) writes.push_back(std::move(w));
    return ApplyWrites(image, writes);
  }
  if (image.path.rfind("s3://", 0) == 0 &&
      !image.container->KeepsBindingRecord()) {
    return CliError{kExitUsage, image.path +
                                    ": LUKS1 images in S3 cannot be bound (no "
                                    "token area); convert to LUKS2 first"};
  }
  auto ks = crypto::MakeKeyslot(
      pass, key.volume_key.span(),
      crypto::Luks1KeyslotSpec(h, kGeneratedSlotIterations));
  if (!ks.ok()) return BadImage(image, ks.status());
  std::vector<uint8_t> raw;
  if (auto e = ReadFirst592(image, &raw)) return e;
  int slot = -1;
  auto writes = crypto::Luks1AddKeyslot(raw, *ks, std::nullopt, &slot);
  if (!writes.ok()) return BadImage(image, writes.status());
  binding->keyslot = slot;
  if (auto e = StoreLuks1Binding(image, binding, where)) return e;
  return ApplyWrites(image, *writes);
}

// Writes that remove `slots` (and their tokens) and destroy their key
// material; `wipe_area` overwrites the whole LUKS2 keyslots area.
std::optional<CliError> RemoveKeyslots(const OpenedImage& image,
                                       const std::vector<int>& slots,
                                       bool wipe_area) {
  const crypto::LuksHeader& h = image.header;
  std::vector<crypto::ImageWrite> writes;
  if (h.version == 1) {
    std::vector<uint8_t> raw;
    if (auto e = ReadFirst592(image, &raw)) return e;
    auto w = crypto::Luks1DisableKeyslots(raw, slots);
    if (!w.ok()) return BadImage(image, w.status());
    return ApplyWrites(image, *w);
  }
  auto md = crypto::Luks2Metadata::Load(h);
  if (!md.ok()) return BadImage(image, md.status());
  for (int slot : slots) {
    Status s = (*md)->RemoveKeyslot(slot);
    if (!s.ok()) return BadImage(image, s);
    for (const crypto::Keyslot& ks : h.keyslots) {
      if (ks.index != slot || wipe_area) continue;
      auto fill = RandomFill(ks.area_offset, ks.area_size);
      if (!fill.ok()) return BadImage(image, fill.status());
      for (auto& w : *fill) writes.push_back(std::move(w));
    }
  }
  if (wipe_area) {
    auto fill = RandomFill(2 * h.hdr_size, h.keyslots_size);
    if (!fill.ok()) return BadImage(image, fill.status());
    for (auto& w : *fill) writes.push_back(std::move(w));
  }
  auto headers = (*md)->EncodeHeaders(image.luks_size());
  if (!headers.ok()) return BadImage(image, headers.status());
  // The wipe needs one flush (not one per chunk: on S3 each is a commit),
  // then each header copy its own, secondary first.
  if (auto e = ApplyWrites(image, writes, /*flush_each=*/false)) return e;
  return ApplyWrites(image, *headers);
}

Result<SecureBuffer> ReadWholeFile(const std::string& path) {
  return ReadSecretFile(path, "input file", SecretFormat::kWhole,
                        kMaxSecretBytes);
}

}  // namespace

int RunBind(const Command& cmd) {
  EditLock edit_lock;  // the header edit excludes every other user
  if (auto e = edit_lock.Take(cmd.image)) return Report(*e);
  OpenedImage image;
  if (auto e = OpenImage(cmd.image, true, cmd.storage, &image)) return Report(*e);
  crypto::DataLayout layout;
  if (auto e = CheckImage(image, &layout)) return Report(*e);
  std::optional<KmsBinding> existing;
  if (auto e = FindBinding(image, &existing)) return Report(*e);
  bool slot_active = false;
  for (const crypto::Keyslot& ks : image.header.keyslots) {
    slot_active = slot_active || (existing && ks.index == existing->keyslot);
  }
  if (existing && !slot_active && image.header.version == 1) {
    // A LUKS1 binding (sidecar or qcow2 record) whose keyslot is not active:
    // an interrupted bind (the binding is written before the keyslot). It
    // opens nothing; this bind writes a new binding over it.
    existing.reset();
  } else if (existing && !slot_active) {
    return Report({kExitUsage, cmd.image + ": holds a stale binding to " +
                                   existing->kms + " (keyslot " +
                                   std::to_string(existing->keyslot) +
                                   " is not active); run 'luksfs unbind " +
                                   cmd.image + "' first"});
  } else if (existing && existing->token < 0 && !existing->in_container &&
      image.container->KeepsBindingRecord()) {
    // A sidecar left by an older luksfs beside a qcow2: move it inside.
    std::string where;
    if (auto e = StoreLuks1Binding(image, &*existing, &where)) return Report(*e);
    if (!existing->in_container) {  // no room in the header: it stays
      return Report({kExitUsage, cmd.image + ": already bound to " +
                                     existing->kms + " (keyslot " +
                                     std::to_string(existing->keyslot) +
                                     ", " + where + "); unbind it first"});
    }
    std::cout << cmd.image << ": binding to " << existing->kms << " (keyslot "
              << existing->keyslot << ") moved into the " << where << "\n";
    return kExitOk;
  }
  if (existing) {
    return Report({kExitUsage, cmd.image + ": already bound to " +
                                   existing->kms + " (keyslot " +
                                   std::to_string(existing->keyslot) +
                                   "); unbind it first"});
  }
  SecretOptions secret = cmd.secret;
  Unlocked unlocked;
  if (secret.passphrase_file.empty() && secret.key_file.empty() &&
      !isatty(STDIN_FILENO)) {
    return Report({kExitUsage, cmd.image + ": bind needs the image's current "
                                           "secret: --passphrase-file or "
                                           "--key-file"});
  }
  if (auto e = UnlockImage(image, secret, cmd.kms, nullptr, &unlocked)) {
    return Report(*e);
  }
  std::string uri = cmd.kms.uri;
  std::optional<CreatedKeyGuard> created_key;
  if (cmd.kms.create_key) {
    kms::NewKeyAttributes attrs =
        CreatorAttributes("luksfs-" + image.header.uuid);
    auto created = kms::CreateRootKey(uri, cmd.kms.options, attrs);
    if (!created.ok()) return Report(KmsError("KMS " + uri, created.status()));
    uri = *created;
    created_key.emplace("bind", uri, cmd.kms.options);
  }
  // Every return below before Disarm() destroys a key created above (the
  // guard runs after Report has printed the error).
  auto client = kms::OpenKms(uri, cmd.kms.options);
  if (!client.ok()) return Report(KmsError("KMS " + uri, client.status()));
  auto pass = GeneratePassphrase();
  if (!pass.ok()) return Report({kExitUsage, pass.status().message()});
  auto wrapped = (*client)->Wrap(pass->span());
  if (!wrapped.ok()) return Report(KmsError("KMS " + uri, wrapped.status()));

  KmsBinding binding;
  binding.kms = uri;
  binding.key_id = (*client)->key_id();
  binding.wrapped = std::move(wrapped).value();
  binding.created = NowRfc3339();
  std::string where;
  if (auto e = AddKmsKeyslot(image, pass->span(), unlocked.key, &binding,
                             &where)) {
    return Report(*e);
  }
  // Prove it: re-read the header and open the new slot with the passphrase.
  OpenedImage again;
  if (auto e = OpenImage(cmd.image, false, cmd.storage, &again)) return Report(*e);
  crypto::UnlockedKey check;
  if (auto e = UnlockWithPassphrase(again, pass->span(), binding.keyslot,
                                    cmd.secret.max_kdf_memory_kib, &check)) {
    return Report({kExitBadImage, "BUG: the new keyslot does not open: " +
                                      e->message});
  }
  if (!check.volume_key.Equals(unlocked.key.volume_key.span())) {
    return Report({kExitBadImage, "BUG: the new keyslot holds another key"});
  }
  if (created_key) created_key->Disarm();
  // vCenter tags a key when it first protects a VM; luksfs when it first
  // protects an image.
  kms::NewKeyAttributes use;
  use.component = "luksfs image";
  use.name = cmd.image.substr(cmd.image.rfind('/') + 1);
  use.identifier = image.header.uuid;
  if (Status s = (*client)->RecordUse(use); !s.ok()) {
    std::cerr << "luksfs: warning: could not tag the root key with its image: "
              << s.message() << "\n";
  }
  if (auto e = Audit(cmd.kms, "bind",
                     {{"image_uuid", image.header.uuid}, {"kms", uri},
                      {"key_id", binding.key_id},
                      {"keyslot", std::to_string(binding.keyslot)}})) {
    return Report(*e);
  }
  std::cout << cmd.image << ": bound to " << uri << " (keyslot "
            << binding.keyslot
            << (binding.token >= 0 ? ", token " + std::to_string(binding.token)
                                   : ", " + where)
            << ")\n";
  return kExitOk;
}

int RunUnbind(const Command& cmd) {
  EditLock edit_lock;  // the header edit excludes every other user
  if (auto e = edit_lock.Take(cmd.image)) return Report(*e);
  OpenedImage image;
  if (auto e = OpenImage(cmd.image, true, cmd.storage, &image)) return Report(*e);
  std::optional<KmsBinding> binding;
  if (auto e = FindBinding(image, &binding)) return Report(*e);
  if (!binding) {
    return Report({kExitUsage, cmd.image + ": not bound to a KMS"});
  }
  size_t others = 0;
  bool bound_slot_active = false;
  for (const auto& ks : image.header.keyslots) {
    if (ks.index != binding->keyslot && ks.type != "reencrypt") ++others;
    bound_slot_active = bound_slot_active || ks.index == binding->keyslot;
  }
  // A stale binding (its keyslot is gone, e.g. after an interrupted shred)
  // opens nothing: removing it changes nothing that opens.
  if (others == 0 && bound_slot_active) {
    return Report({kExitUsage, cmd.image + ": keyslot " +
                                   std::to_string(binding->keyslot) +
                                   " is the only one; unbinding would make the "
                                   "image unopenable (use shred for that)"});
  }
  bool has_slot = false;
  for (const auto& ks : image.header.keyslots) {
    has_slot = has_slot || ks.index == binding->keyslot;
  }
  if (has_slot) {
    if (auto e = RemoveKeyslots(image, {binding->keyslot}, false)) return Report(*e);
  } else if (image.header.version == 2) {
    auto md = crypto::Luks2Metadata::Load(image.header);
    Status s = md.ok() ? (*md)->RemoveToken(binding->token) : md.status();
    auto headers = s.ok() ? (*md)->EncodeHeaders(image.luks_size())
                          : Result<std::vector<crypto::ImageWrite>>(s);
    if (!headers.ok()) return Report(BadImage(image, headers.status()));
    if (auto e = ApplyWrites(image, *headers)) return Report(*e);
  }
  if (image.header.version == 1) {
    if (auto e = DropLuks1Binding(image)) return Report(*e);
  }
  if (auto e = Audit(cmd.kms, "unbind",
                     {{"image_uuid", image.header.uuid}, {"kms", binding->kms},
                      {"keyslot", std::to_string(binding->keyslot)}})) {
    return Report(*e);
  }
  std::cout << cmd.image << ": unbound from " << binding->kms << " (keyslot "
            << binding->keyslot << " removed)\n";
  return kExitOk;
}

int RunShred(const Command& cmd) {
  EditLock edit_lock;  // with --yes, a luksfs daemon serving it goes dark first
  if (auto e = cmd.yes ? edit_lock.TakeDarkening(cmd.image)
                       : edit_lock.Take(cmd.image)) {
    return Report(*e);
  }
  OpenedImage image;
  if (auto e = OpenImage(cmd.image, true, cmd.storage, &image)) return Report(*e);
  if (!cmd.yes) {
    if (!isatty(STDIN_FILENO)) {
      return Report({kExitUsage, cmd.image + ": shred destroys every key; "
                                             "confirm with --yes"});
    }
    std::cerr << "This destroys every keyslot of " << cmd.image
              << " and its KMS key: the data can never be read again.\n"
              << "Type YES to continue: " << std::flush;
    std::string answer;
    std::getline(std::cin, answer);
    if (answer != "YES") return Report({kExitUsage, cmd.image + ": not shredded"});
  }
  std::optional<KmsBinding> binding;
  if (auto e = FindBinding(image, &binding)) return Report(*e);
  std::string kms_result = "no KMS binding";
  bool kms_failed = false;
  if (binding && cmd.keep_key) {
    kms_result = "key " + binding->kms + " kept (--keep-key)";
  } else if (binding) {
    auto client = kms::OpenKms(binding->kms, cmd.kms.options);
    if (!client.ok()) {
      kms_failed = true;
      kms_result = "KMS not reached: " + client.status().message();
    } else {
      Status r = (*client)->Revoke("shred");
      Status d = (*client)->Destroy();
      kms_failed = !d.ok();
      kms_result = std::string("key ") +
                   (r.ok() ? "revoked" : "not revoked (" + r.message() + ")") +
                   ", " +
                   (d.ok() ? "destroyed" : "not destroyed (" + d.message() + ")");
    }
  }
  std::vector<int> slots;
  for (const auto& ks : image.header.keyslots) slots.push_back(ks.index);
  if (auto e = RemoveKeyslots(image, slots, true)) return Report(*e);
  if (image.header.version == 1) {
    if (auto e = DropLuks1Binding(image)) return Report(*e);
  }
  if (auto e = Audit(cmd.kms, "shred",
                     {{"image_uuid", image.header.uuid},
                      {"kms", binding ? binding->kms : ""},
                      {"keyslots_wiped", std::to_string(slots.size())},
                      {"kms_result", kms_result}})) {
    return Report(*e);
  }
  std::cout << cmd.image << ": shredded: " << slots.size()
            << " keyslot(s) wiped; " << kms_result << "\n";
  if (kms_failed) {
    // The keyslots are gone, but copies of the header (backups, object
    // versions) stay openable while the key lives: say so, exit 5.
    return Report(KmsError(cmd.image, Status::Unavailable(
        "keyslots wiped, but the root key was not destroyed: " + kms_result)));
  }
  return kExitOk;
}

int RunWrap(const Command& cmd) {
  auto plain = ReadWholeFile(cmd.in_file);
  if (!plain.ok()) {
    return Report({kExitUsage, plain.status().message()});
  }
  auto client = kms::OpenKms(cmd.kms.uri, cmd.kms.options);
  if (!client.ok()) return Report(KmsError("KMS " + cmd.kms.uri, client.status()));
  auto wrapped = (*client)->Wrap(plain->span());
  plain->Wipe();
  if (!wrapped.ok()) return Report(KmsError("KMS " + cmd.kms.uri, wrapped.status()));
  const std::string text = crypto::Base64Encode(*wrapped) + "\n";
  if (cmd.out_file.empty() || cmd.out_file == "-") {
    std::cout << text;
  } else if (auto e = WriteFileAtomic(cmd.out_file, text)) {
    return Report(*e);
  }
  if (auto e = Audit(cmd.kms, "wrap", {{"kms", cmd.kms.uri},
                                       {"key_id", (*client)->key_id()}})) {
    return Report(*e);
  }
  return kExitOk;
}

namespace {

Result<std::vector<uint8_t>> ReadWdek(const std::string& path) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer text,
                          ReadSecretFile(path, "wrapped key file",
                                         SecretFormat::kWhole, kMaxSecretBytes));
  std::string b64;
  for (uint8_t c : text.span()) {
    if (!std::isspace(c)) b64 += static_cast<char>(c);
  }
  auto blob = crypto::Base64Decode(b64);
  if (!blob.ok()) return blob.status().WithContext("wrapped key file '" + path + "'");
  return blob;
}

}  // namespace

int RunUnwrap(const Command& cmd) {
  auto wdek = ReadWdek(cmd.in_file);
  if (!wdek.ok()) return Report({kExitUsage, wdek.status().message()});
  auto client = kms::OpenKms(cmd.kms.uri, cmd.kms.options);
  if (!client.ok()) return Report(KmsError("KMS " + cmd.kms.uri, client.status()));
  auto plain = (*client)->Unwrap(*wdek);
  if (auto e = Audit(cmd.kms, "unwrap",
                     {{"kms", cmd.kms.uri}, {"key_id", (*client)->key_id()},
                      {"result", plain.ok() ? "ok" : plain.status().message()}})) {
    return Report(*e);
  }
  if (!plain.ok()) return Report(KmsError("KMS " + cmd.kms.uri, plain.status()));
  UniqueFd out;
  int fd = STDOUT_FILENO;  // borrowed unless --out names a file
  if (!cmd.out_file.empty() && cmd.out_file != "-") {
    out.reset(open(cmd.out_file.c_str(),
                   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    fd = out.get();
    if (fd < 0 || fchmod(fd, 0600) != 0) {  // an existing file keeps its mode
      const int err = errno;
      out.reset();
      return Report({kExitStorage, cmd.out_file + ": " + std::strerror(err)});
    }
  }
  const bool ok = write(fd, plain->data(), plain->size()) ==
                  static_cast<ssize_t>(plain->size());
  out.reset();
  if (!ok) return Report({kExitStorage, "cannot write the passphrase"});
  return kExitOk;
}

int RunRewrap(const Command& cmd) {
  EditLock edit_lock;  // the header edit excludes every other user
  if (!cmd.image.empty()) {
    if (auto e = edit_lock.Take(cmd.image)) return Report(*e);
  }
  std::optional<KmsBinding> binding;
  OpenedImage image;
  std::vector<uint8_t> old_blob;
  std::string old_uri = cmd.from_uri;
  if (!cmd.image.empty()) {
    if (auto e = OpenImage(cmd.image, true, cmd.storage, &image)) return Report(*e);
    if (auto e = FindBinding(image, &binding)) return Report(*e);
    if (!binding) return Report({kExitUsage, cmd.image + ": not bound to a KMS"});
    old_uri = binding->kms;
    old_blob = binding->wrapped;
  } else {
    auto wdek = ReadWdek(cmd.in_file);
    if (!wdek.ok()) return Report({kExitUsage, wdek.status().message()});
    old_blob = std::move(wdek).value();
  }
  auto from = kms::OpenKms(old_uri, cmd.kms.options);
  if (!from.ok()) return Report(KmsError("KMS " + old_uri, from.status()));
  // The same key (after a rotation): the KMS's own rewrap, if it has one,
  // so the passphrase never leaves it.
  Result<std::vector<uint8_t>> blob =
      Status::NotSupported("not the same key");
  if (old_uri == cmd.kms.uri) blob = (*from)->Rewrap(old_blob);
  std::string how = "rewrap action";
  auto to = std::move(from);
  if (!blob.ok() && blob.status().code() == Status::Code::kNotSupported) {
    how = "unwrap + wrap";
    auto plain = (*to)->Unwrap(old_blob);
    if (!plain.ok()) return Report(KmsError("KMS " + old_uri, plain.status()));
    to = kms::OpenKms(cmd.kms.uri, cmd.kms.options);
    if (!to.ok()) return Report(KmsError("KMS " + cmd.kms.uri, to.status()));
    blob = (*to)->Wrap(plain->span());
    plain->Wipe();
  }
  if (!blob.ok()) return Report(KmsError("KMS " + cmd.kms.uri, blob.status()));
  if (binding) {
    KmsBinding nb = *binding;
    nb.kms = cmd.kms.uri;
    nb.key_id = (*to)->key_id();
    nb.wrapped = *blob;
    nb.created = NowRfc3339();
    if (image.header.version == 2) {
      auto md = crypto::Luks2Metadata::Load(image.header);
      Status s = md.ok() ? (*md)->RemoveToken(binding->token) : md.status();
      auto t = s.ok() ? (*md)->AddToken(BindingToJson(nb)) : Result<int>(s);
      auto headers = t.ok() ? (*md)->EncodeHeaders(image.luks_size())
                            : Result<std::vector<crypto::ImageWrite>>(t.status());
      if (!headers.ok()) return Report(BadImage(image, headers.status()));
      if (auto e = ApplyWrites(image, *headers)) return Report(*e);
    } else {
      std::string where;
      if (auto e = StoreLuks1Binding(image, &nb, &where)) return Report(*e);
    }
    std::cout << cmd.image << ": rewrapped from " << old_uri << " to "
              << cmd.kms.uri << " (" << how << ")\n";
  } else {
    const std::string text = crypto::Base64Encode(*blob) + "\n";
    if (cmd.out_file.empty() || cmd.out_file == "-") {
      std::cout << text;
    } else if (auto e = WriteFileAtomic(cmd.out_file, text)) {
      return Report(*e);
    }
  }
  if (auto e = Audit(cmd.kms, "rewrap",
                     {{"image_uuid", binding ? image.header.uuid : ""},
                      {"from", old_uri}, {"to", cmd.kms.uri}})) {
    return Report(*e);
  }
  return kExitOk;
}

int RunKmsAdmin(const Command& cmd) {
  if (cmd.kms_verb == "trust") return RunKmsTrust(cmd);
  if (cmd.kms_verb == "clusters") return RunKmsClusters(cmd);
  const std::string& uri = cmd.kms.uri;
  if (cmd.kms_verb == "create-key") {
    kms::NewKeyAttributes attrs = CreatorAttributes("luksfs");
    auto created = kms::CreateRootKey(uri, cmd.kms.options, attrs);
    if (!created.ok()) return Report(KmsError("KMS " + uri, created.status()));
    std::cout << *created << "\n";
    return kExitOk;
  }
  auto client = kms::OpenKms(uri, cmd.kms.options);
  if (!client.ok()) return Report(KmsError("KMS " + uri, client.status()));
  if (cmd.kms_verb == "state") {
    auto st = (*client)->State();
    if (!st.ok()) return Report(KmsError("KMS " + uri, st.status()));
    std::cout << uri << ": " << kms::KeyStateName(*st) << "\n";
    return kExitOk;
  }
  Status s = cmd.kms_verb == "revoke" ? (*client)->Revoke("cessation")
                                      : (*client)->Destroy();
  if (auto e = Audit(cmd.kms, cmd.kms_verb == "revoke" ? "revoke" : "destroy",
                     {{"kms", uri}, {"result", s.ok() ? "ok" : s.message()}})) {
    return Report(*e);
  }
  if (!s.ok()) return Report(KmsError("KMS " + uri, s));
  std::cout << uri << ": " << (cmd.kms_verb == "revoke" ? "revoked" : "destroyed")
            << "\n";
  return kExitOk;
}

}  // namespace luksfs::cli
