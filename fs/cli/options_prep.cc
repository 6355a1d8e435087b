#include "fs/cli/options_prep.h"

#include "fs/cli/options_kms.h"

namespace po = boost::program_options;

namespace luksfs::cli {

namespace {

std::string Str(const po::variables_map& vm, const char* k) {
  return vm.count(k) ? vm[k].as<std::string>() : std::string();
}

po::options_description FormatDesc() {
  po::options_description d("Format options (as cryptsetup luksFormat)");
  d.add_options()
      ("type", po::value<std::string>(),
       "luks2 (default), luks1, qcow2 (qcow2 with LUKS, as qemu-img) or "
       "qcow2-plain (qcow2, no encryption)")
      ("cipher,c", po::value<std::string>(), "cipher (default aes-xts-plain64)")
      ("key-size,s", po::value<uint32_t>(), "volume key bits (default 512)")
      ("sector-size", po::value<uint32_t>(),
       "LUKS2 encryption unit: 512..4096 (default 4096 when SIZE allows)")
      ("hash", po::value<std::string>(), "digest and AF hash (default sha256)")
      ("pbkdf", po::value<std::string>(),
       "argon2id (LUKS2 default), argon2i or pbkdf2 (LUKS1)")
      ("iter-time,i", po::value<uint32_t>(),
       "ms the KDF takes on this machine (default 2000)")
      ("pbkdf-force-iterations", po::value<uint32_t>(),
       "KDF iterations (argon2: time cost); no benchmark")
      ("pbkdf-memory", po::value<uint32_t>(),
       "argon2 memory, KiB (default 1048576, at most half the RAM)")
      ("pbkdf-parallel", po::value<uint32_t>(),
       "argon2 lanes (default min(4, CPUs))")
      ("label", po::value<std::string>(), "LUKS2 label")
      ("uuid", po::value<std::string>(), "UUID (default random)")
      ("cluster-size", po::value<std::string>(),
       "qcow2 cluster size: 512..2M, a power of two (default 64K)")
      ("refcount-bits", po::value<uint32_t>(), "qcow2 refcount width: 1..64 (default 16)")
      ("extended-l2", "qcow2: extended L2 entries (subclusters)");
  return d;
}

std::string ReadFormat(const po::variables_map& vm, fs::prep::FormatOptions* f) {
  if (vm.count("type")) {
    const std::string t = Str(vm, "type");
    if (t == "luks2") f->version = 2;
    else if (t == "luks1") f->version = 1;
    else if (t == "qcow2" || t == "qcow2-plain") {
      f->version = 1;  // the LUKS header inside qcow2 is LUKS1
      f->qcow2.enabled = true;
      f->qcow2.encrypted = t == "qcow2";
    } else {
      return "--type must be luks2, luks1, qcow2 or qcow2-plain";
    }
  }
  if (vm.count("cluster-size")) {
    auto cs = fs::prep::ParseSize(Str(vm, "cluster-size"));
    if (!cs.ok()) return "--cluster-size: " + cs.status().message();
    f->qcow2.cluster_size = *cs;
  }
  if (vm.count("refcount-bits")) f->qcow2.refcount_bits = vm["refcount-bits"].as<uint32_t>();
  if (vm.count("extended-l2")) f->qcow2.extended_l2 = true;
  const std::string o_type = Str(vm, "target-type");
  if (!f->qcow2.enabled && o_type != "qcow2" && o_type != "qcow2-plain" &&
      (vm.count("cluster-size") || vm.count("refcount-bits") || vm.count("extended-l2"))) {
    return "--cluster-size, --refcount-bits and --extended-l2 need --type qcow2 or qcow2-plain";
  }
  for (const char* k : {"cipher", "key-size", "sector-size", "hash", "label"}) {
    if (vm.count(k)) f->given.emplace_back(k);
  }
  if (vm.count("cipher")) f->cipher = Str(vm, "cipher");
  if (vm.count("key-size")) f->key_bits = vm["key-size"].as<uint32_t>();
  if (vm.count("sector-size")) f->sector_size = vm["sector-size"].as<uint32_t>();
  if (vm.count("hash")) f->hash = Str(vm, "hash");
  if (vm.count("pbkdf")) f->pbkdf = Str(vm, "pbkdf");
  if (vm.count("iter-time")) f->iter_time_ms = vm["iter-time"].as<uint32_t>();
  if (vm.count("pbkdf-force-iterations")) {
    f->force_iterations = vm["pbkdf-force-iterations"].as<uint32_t>();
  }
  if (vm.count("pbkdf-memory")) f->memory_kib = vm["pbkdf-memory"].as<uint32_t>();
  if (vm.count("pbkdf-parallel")) f->parallel = vm["pbkdf-parallel"].as<uint32_t>();
  if (vm.count("label")) f->label = Str(vm, "label");
  if (vm.count("uuid")) f->uuid = Str(vm, "uuid");
  Status s = fs::prep::ValidateFormat(*f);
  return s.ok() ? "" : s.message();
}

void SecretPair(po::options_description* d, const std::string& prefix,
                const std::string& what) {
  d->add_options()
      ((prefix + "passphrase-file").c_str(), po::value<std::string>(),
       ("first line of FILE is " + what + " (- = stdin)").c_str())
      ((prefix + "key-file").c_str(), po::value<std::string>(),
       ("whole FILE is " + what + " (- = stdin)").c_str());
}

std::string ReadSecretPair(const po::variables_map& vm, const std::string& prefix,
                           SecretOptions* s) {
  s->passphrase_file = Str(vm, (prefix + "passphrase-file").c_str());
  s->key_file = Str(vm, (prefix + "key-file").c_str());
  if (!s->passphrase_file.empty() && !s->key_file.empty()) {
    return "--" + prefix + "passphrase-file and --" + prefix +
           "key-file exclude each other";
  }
  const std::string slot = prefix + "key-slot";
  if (vm.count(slot)) {
    s->key_slot = vm[slot].as<int>();
    if (*s->key_slot < 0 || *s->key_slot > 31) return "--" + slot + " must be 0..31";
  }
  if (vm.count("max-kdf-memory")) {
    s->max_kdf_memory_kib = vm["max-kdf-memory"].as<uint64_t>();
  }
  return "";
}

}  // namespace

bool IsPrepVerb(const std::string& verb) {
  return verb == "create" || verb == "convert" || verb == "compare";
}

void AddPrepVerbOptions(const std::string& verb, po::options_description* visible,
                        po::options_description* hidden,
                        po::positional_options_description* pos) {
  po::options_description secrets("Secret options");
  if (verb == "create") {
    SecretPair(&secrets, "", "the new passphrase");
    visible->add(FormatDesc()).add(secrets).add(KmsDesc());
    visible->add_options()("create-key", "with --kms: create a new root key first")(
        "force", "replace an existing IMAGE");
    hidden->add_options()("a", po::value<std::string>())(
        "size", po::value<std::string>());
    pos->add("a", 1).add("size", 1);
    return;
  }
  hidden->add_options()("a", po::value<std::string>())("b", po::value<std::string>());
  pos->add("a", 1).add("b", 1);
  if (verb == "convert") {
    SecretPair(&secrets, "", "SRC's passphrase");
    secrets.add_options()("key-slot", po::value<int>(), "SRC: try only keyslot N");
    SecretPair(&secrets, "new-", "DST's passphrase (default: SRC's; --kms: generated)");
    secrets.add_options()("max-kdf-memory", po::value<uint64_t>(),
                          "refuse SRC Argon2 keyslots needing more KiB");
    po::options_description conv("Convert options");
    conv.add_options()
        ("target-type,O", po::value<std::string>(),
         "DST format: luks2, luks1, raw (decrypt), qcow2 (qcow2 with LUKS) or "
         "qcow2-plain; default: luks2 for a raw SRC, SRC's type for a LUKS SRC")
        ("progress,p", "progress bar on stderr")
        ("json-progress", "one JSON progress line per second on stderr")
        ("force", "replace an existing DST")
        ("threads", po::value<unsigned>(), "crypto threads (default: CPUs)")
        ("block-size", po::value<uint32_t>(), "pipeline block, MiB (default 8)");
    visible->add(conv).add(FormatDesc()).add(secrets).add(KmsDesc());
    return;
  }
  // compare
  SecretPair(&secrets, "", "A's passphrase");
  secrets.add_options()("key-slot", po::value<int>(), "A: try only keyslot N");
  SecretPair(&secrets, "b-", "B's passphrase");
  secrets.add_options()("b-key-slot", po::value<int>(), "B: try only keyslot N")(
      "max-kdf-memory", po::value<uint64_t>(),
      "refuse Argon2 keyslots needing more KiB");
  visible->add_options()("strict,s", "images of different sizes differ")(
      "progress,p", "progress bar on stderr");
  visible->add(secrets).add(KmsDesc());
}

std::string ReadPrepVerb(const std::string& verb, const po::variables_map& vm,
                         Command* cmd) {
  PrepConfig& p = cmd->prep;
  p.a = Str(vm, "a");
  p.force = vm.count("force") > 0;
  p.progress = vm.count("progress") > 0;
  p.json_progress = vm.count("json-progress") > 0;
  std::string bad = ReadKms(vm, &cmd->kms);
  if (!bad.empty()) return bad;
  if (verb == "create") {
    cmd->kind = Command::Kind::kCreate;
    if (p.a.empty() || !vm.count("size")) return "IMAGE and SIZE are required";
    auto size = fs::prep::ParseSize(Str(vm, "size"));
    if (!size.ok()) return size.status().message();
    p.size = *size;
    if (p.size == 0) return "SIZE must be above 0";
    bad = ReadSecretPair(vm, "", &p.new_secret);
    if (bad.empty()) bad = ReadFormat(vm, &p.format);
    if (bad.empty() && !cmd->kms.uri.empty() &&
        !(p.new_secret.passphrase_file.empty() && p.new_secret.key_file.empty())) {
      bad = "--kms generates the passphrase: no --passphrase-file or --key-file";
    }
    return bad;
  }
  p.b = Str(vm, "b");
  if (p.a.empty() || p.b.empty()) {
    return verb == "convert" ? "SRC and DST are required" : "A and B are required";
  }
  bad = ReadSecretPair(vm, "", &cmd->secret);
  if (!bad.empty()) return bad;
  if (verb == "convert") {
    cmd->kind = Command::Kind::kConvert;
    bad = ReadSecretPair(vm, "new-", &p.new_secret);
    if (bad.empty()) bad = ReadFormat(vm, &p.format);
    if (!bad.empty()) return bad;
    p.out_type = Str(vm, "target-type");
    if (!p.out_type.empty() && p.out_type != "raw" && p.out_type != "luks1" &&
        p.out_type != "luks2" && p.out_type != "qcow2" && p.out_type != "qcow2-plain") {
      return "-O must be luks2, luks1, raw, qcow2 or qcow2-plain";
    }
    if (p.out_type == "qcow2" || p.out_type == "qcow2-plain") {
      p.format.version = 1;
      p.format.qcow2.enabled = true;
      p.format.qcow2.encrypted = p.out_type == "qcow2";
    } else if (!p.out_type.empty() && (vm.count("cluster-size") || vm.count("refcount-bits") ||
                                       vm.count("extended-l2"))) {
      return "--cluster-size, --refcount-bits and --extended-l2 need -O qcow2 or qcow2-plain";
    }
    if (vm.count("type")) {
      const std::string t = Str(vm, "type");
      if (!p.out_type.empty() && p.out_type != t) return "--type and -O disagree";
      p.out_type = t;
    }
    if (vm.count("threads")) p.threads = vm["threads"].as<unsigned>();
    if (p.threads > 256) return "--threads must be 0..256";
    if (vm.count("block-size")) {
      const uint32_t mib = vm["block-size"].as<uint32_t>();
      if (mib < 1 || mib > 256) return "--block-size must be 1..256 MiB";
      p.chunk_bytes = uint64_t{mib} << 20;
    }
    return "";
  }
  cmd->kind = Command::Kind::kCompare;
  p.strict = vm.count("strict") > 0;
  return ReadSecretPair(vm, "b-", &p.new_secret);
}

}  // namespace luksfs::cli
