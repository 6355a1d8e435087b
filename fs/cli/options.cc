#include "fs/cli/options.h"

#include "fs/cli/options_kms.h"
#include "fs/cli/options_prep.h"

#include <boost/program_options.hpp>

#include <map>
#include <set>
#include <sstream>

namespace po = boost::program_options;

namespace luksfs::cli {

namespace {

const char kUsage[] =
    "usage: luksfs mount [options] IMAGE MOUNTPOINT\n"
    "       luksfs umount MOUNTPOINT\n"
    "       luksfs pid MOUNTPOINT\n"
    "       luksfs info IMAGE [--json]\n"
    "       luksfs check IMAGE [--passphrase-file F | --key-file F] [--key-slot N]\n"
    "       luksfs bind IMAGE --kms URI [--create-key] [secret options]\n"
    "       luksfs unbind IMAGE | shred IMAGE [--yes]\n"
    "       luksfs wrap|unwrap --kms URI --in FILE [--out FILE]\n"
    "       luksfs rewrap IMAGE --kms NEW-URI | kms VERB URI\n"
    "       luksfs create [options] IMAGE SIZE\n"
    "       luksfs convert [options] SRC DST | compare [options] A B\n"
    "       luksfs --version | --help | COMMAND --help\n"
    "See luksfs(8).";

// -o words that map onto long options (value words end in '=').
const std::map<std::string, std::string> kOWords = {
    {"ro", "--read-only"},          {"allow_other", "--allow-other"},
    {"direct_io", "--direct-io"},   {"debug", "--debug"},
    {"foreground", "--foreground"}, {"name=", "--name="},
    {"threads=", "--threads="},     {"kernel_readahead=", "--kernel-readahead="},     {"passphrase_file=", "--passphrase-file="},
    {"key_file=", "--key-file="},   {"key_slot=", "--key-slot="},
    {"io_uring=", "--io-uring="},
    {"max_kdf_memory=", "--max-kdf-memory="},
    {"max_kdf_time=", "--max-kdf-time="},
    {"s3_endpoint=", "--s3-endpoint="}, {"s3_region=", "--s3-region="},
    {"s3_path_style", "--s3-path-style"}, {"s3_virtual_host", "--s3-virtual-host"},
    {"s3_ca=", "--s3-ca="},             {"s3_retries=", "--s3-retries="},
    {"cache_dir=", "--cache-dir="},     {"cache_size=", "--cache-size="},
    {"read_ahead=", "--read-ahead="},   {"commit_interval=", "--commit-interval="},
    {"s3_stream_window=", "--s3-stream-window="},
    {"kms_ca=", "--kms-ca="},           {"kms_fingerprint=", "--kms-fingerprint="},
    {"kms_cert=", "--kms-cert="},       {"kms_key=", "--kms-key="},
    {"kms_user=", "--kms-user="},       {"kms_password_file=", "--kms-password-file="},
    {"kms_token_file=", "--kms-token-file="}, {"kms_instance=", "--kms-instance="},
    {"keystore_passphrase_file=", "--keystore-passphrase-file="},
    {"audit_log=", "--audit-log="},     {"kms_poll=", "--kms-poll="},
    {"kms_grace=", "--kms-grace="},     {"on_revoke=", "--on-revoke="},
    {"kms_config=", "--kms-config="},
    {"kms_api_key_file=", "--kms-api-key-file="},
    {"iam_endpoint=", "--iam-endpoint="},
    {"nolock", "--no-lock"},
    {"allow_discards", "--allow-discards"},
    {"uid=", "--uid="},   {"gid=", "--gid="},   {"umask=", "--umask="},
    {"mode=", "--mode="}, {"nonempty", "--nonempty"},
    {"s3_lease_ttl=", "--s3-lease-ttl="},
    {"verbose", "--verbose"},           {"quiet", "--quiet"},
    {"log_file=", "--log-file="},
    {"offset=", "--offset="},           {"partition=", "--partition="},
    {"nopartitions", "--no-partitions"},
};
// Generic mount(8) words that mean nothing to luksfs.
const std::set<std::string> kIgnoredWords = {
    "rw",     "defaults", "dev",  "nodev",  "suid",  "nosuid",  "exec",
    "noexec", "auto",     "noauto", "user", "nouser", "users",  "_netdev",
    "nofail", "atime",    "noatime", "relatime", "async", "sync",
    // more of mount(8)'s and systemd's words, ignored as mount.fuse3 does
    // (x-* and comment=* are ignored by prefix in ExpandMountOptions)
    "owner", "group", "nodiratime", "diratime", "strictatime", "lazytime",
    "nolazytime", "silent", "loud", "iversion", "noiversion", "mand",
    "nomand", "nosymfollow", "symfollow", "norelatime", "nostrictatime"};

po::options_description SecretDesc() {
  po::options_description d("Secret options");
  d.add_options()
      ("passphrase-file", po::value<std::string>(),
       "first line of FILE is the passphrase (- = stdin)")
      ("key-file", po::value<std::string>(),
       "whole FILE, byte for byte, is the passphrase (- = stdin)")
      ("key-slot", po::value<int>(), "try only keyslot N")
      ("max-kdf-memory", po::value<uint64_t>(),
       "refuse Argon2 keyslots needing more KiB (default 1048576)")
      ("max-kdf-time", po::value<double>(),
       "seconds of KDF work allowed for one open, all keyslots (default 60)");
  return d;
}

po::options_description MountDesc() {
  po::options_description d("Mount options");
  d.add_options()
      ("foreground,f", "stay in the foreground")
      ("read-only,r", "read-only view")
      ("name", po::value<std::string>(), "view file name (default disk.raw)")
      ("threads", po::value<unsigned>(), "crypto threads (default: CPUs)")
      ("kernel-readahead", po::value<unsigned>(),
       "kernel readahead of the view in KiB, 0 = kernel default (1024)")
      ("direct-io", "bypass the kernel page cache")
      ("allow-discards", "raw images: punch discarded ranges out of the image "
                         "file and read its holes as zeros (leaks which blocks "
                         "are unused)")
      ("io-uring", po::value<std::string>(),
       "FUSE transport: auto (default), on (require FUSE over io_uring), off")
      ("allow-other", "allow access by other users")
      ("no-lock", "take no image lock (qemu's locking=off; unsafe)")
      ("uid", po::value<uint32_t>(), "owner of the view (default: yours)")
      ("gid", po::value<uint32_t>(), "group of the view (default: yours)")
      ("umask", po::value<std::string>(), "octal bits cleared from 0666/0777")
      ("mode", po::value<std::string>(), "octal mode of the view (default 0600)")
      ("nonempty", "mount over a non-empty directory")
      ("no-partitions",
       "no file per partition of a table in the view (NAME.p1, ...)")
      ("s3-lease-ttl", po::value<unsigned>(),
       "s3:// read-write: seconds a dead mount's lease lasts (default 60)")
      ("debug,d", "verbose log")
      ("verbose,v", "log debug lines too (not FUSE's own debug output)")
      ("quiet,q", "log warnings and errors only")
      ("log-file", po::value<std::string>(),
       "append the daemon's log to FILE (default: syslog, else stderr)");
  return d;
}

po::options_description StorageDesc() {
  po::options_description d("S3 options (IMAGE = s3://BUCKET/KEY)");
  d.add_options()
      ("s3-endpoint", po::value<std::string>(),
       "http(s)://HOST[:PORT] of an S3-compatible server (default: AWS)")
      ("s3-region", po::value<std::string>(),
       "region for signing (default: AWS_REGION, AWS_DEFAULT_REGION, us-east-1)")
      ("s3-path-style", "address the bucket as https://HOST/BUCKET/KEY")
      ("s3-virtual-host", "address the bucket as https://BUCKET.HOST/KEY")
      ("s3-ca", po::value<std::string>(), "PEM CA bundle (default: system CAs)")
      ("s3-retries", po::value<unsigned>(),
       "retries per request on 5xx, timeouts, resets (default 8)")
      ("cache-dir", po::value<std::string>(),
       "directory of the write-back file (ciphertext; default /var/tmp)")
      ("cache-size", po::value<uint64_t>(),
       "MiB of ciphertext cached in memory (default 256)")
      ("read-ahead", po::value<uint64_t>(),
       "KiB read ahead on sequential reads, 0 = off (default 16384)")
      ("s3-stream-window", po::value<uint64_t>(),
       "MiB per streaming GET of sequential read-ahead, 0 = parallel ranged GETs (default 256)")
      ("commit-interval", po::value<uint64_t>(),
       "seconds between background commits, 0 = off (default 30)")
      ("offset", po::value<uint64_t>(),
       "the LUKS header is at byte N of IMAGE (of the partition with --partition)")
      ("partition", po::value<int>(),
       "the LUKS header is in partition N (MBR or GPT) of the disk IMAGE");
  return d;
}

// Fills the storage options; returns "" or a usage error.
std::string ReadStorage(const po::variables_map& vm, fs::StorageOptions* st) {
  fs::S3Options& o = st->s3;
  auto str = [&](const char* k, std::string* v) {
    if (vm.count(k)) *v = vm[k].as<std::string>();
  };
  str("s3-endpoint", &o.endpoint);
  str("s3-region", &o.region);
  str("s3-ca", &o.ca_file);
  str("cache-dir", &o.cache_dir);
  if (vm.count("s3-path-style") && vm.count("s3-virtual-host")) {
    return "--s3-path-style and --s3-virtual-host exclude each other";
  }
  if (vm.count("s3-path-style")) o.addressing = fs::S3Addressing::kPathStyle;
  if (vm.count("s3-virtual-host")) o.addressing = fs::S3Addressing::kVirtualHost;
  if (vm.count("s3-retries")) o.max_retries = vm["s3-retries"].as<unsigned>();
  if (vm.count("cache-size")) o.cache_mib = vm["cache-size"].as<uint64_t>();
  if (vm.count("read-ahead")) o.read_ahead_kib = vm["read-ahead"].as<uint64_t>();
  if (vm.count("s3-stream-window")) {
    o.stream_window_mib = vm["s3-stream-window"].as<uint64_t>();
  }
  if (vm.count("commit-interval")) {
    o.commit_interval_s = vm["commit-interval"].as<uint64_t>();
  }
  if (!o.endpoint.empty() && o.endpoint.rfind("http://", 0) != 0 &&
      o.endpoint.rfind("https://", 0) != 0) {
    return "--s3-endpoint must start with http:// or https://";
  }
  if (o.max_retries > 100) return "--s3-retries must be 0..100";
  if (o.cache_mib < 1 || o.cache_mib > (1u << 20)) {
    return "--cache-size must be 1..1048576 MiB";
  }
  if (o.read_ahead_kib > 1024 * 1024) return "--read-ahead must be at most 1048576 KiB";
  if (o.stream_window_mib > 5u << 20) return "--s3-stream-window must be at most 5242880 MiB";
  if (o.commit_interval_s > 86400) return "--commit-interval must be at most 86400 s";
  if (vm.count("offset")) st->offset = vm["offset"].as<uint64_t>();
  if (vm.count("partition")) st->partition = vm["partition"].as<int>();
  if (st->offset % 512 != 0) return "--offset must be a multiple of 512 bytes";
  if (vm.count("partition") && (st->partition < 1 || st->partition > 1024)) {
    return "--partition must be 1..1024";
  }
  return "";
}

// The usage lines of one command (its --help shows these and its options).
std::string VerbUsage(const std::string& cmd) {
  static const std::map<std::string, std::string> kVerbUsage = {
      {"mount",
       "usage: luksfs mount [options] IMAGE MOUNTPOINT\n"
       "       luksfs IMAGE MOUNTPOINT [-o OPTION[,OPTION...]]  (mount.luksfs, fstab)"},
      {"umount", "usage: luksfs umount MOUNTPOINT"},
      {"pid", "usage: luksfs pid MOUNTPOINT"},
      {"info", "usage: luksfs info IMAGE [--json] [S3 options]"},
      {"check", "usage: luksfs check IMAGE [secret options] [S3 options] [KMS options]"},
      {"bind", "usage: luksfs bind IMAGE --kms URI [--create-key] [secret options]"},
      {"unbind", "usage: luksfs unbind IMAGE [secret options]"},
      {"shred", "usage: luksfs shred IMAGE [--yes] [--keep-key]"},
      {"wrap", "usage: luksfs wrap --kms URI --in FILE [--out FILE]"},
      {"unwrap", "usage: luksfs unwrap --kms URI --in FILE [--out FILE]"},
      {"rewrap",
       "usage: luksfs rewrap IMAGE --kms NEW-URI\n"
       "       luksfs rewrap --in WDEK --from OLD-URI --kms NEW-URI [--out FILE]"},
      {"kms",
       "usage: luksfs kms VERB [URI] [KMS options]\n"
       "verbs:\n"
       "  create-key URI   create a root key and print its URI\n"
       "  revoke URI       revoke the key: images bound to it no longer open\n"
       "  destroy URI      destroy the key (crypto-shred every image bound to it)\n"
       "  state URI        print the key's state\n"
       "  trust URI        show the server certificate; --save pins it in the\n"
       "                   cluster configuration (--kms-config)\n"
       "  clusters         list the configured KMS clusters and check each server"},
  };
  auto it = kVerbUsage.find(cmd);
  return it == kVerbUsage.end() ? "usage: luksfs " + cmd : it->second;
}

std::string Help(const std::string& cmd, const po::options_description& d) {
  std::ostringstream os;
  if (cmd.empty()) {
    os << kUsage << "\n";
  } else {
    os << VerbUsage(cmd) << "\n\n" << d;
  }
  return os.str();
}

ParseResult Error(const std::string& msg) {
  return ParseResult{std::nullopt, msg};
}

void ReadSecret(const po::variables_map& vm, SecretOptions* s) {
  if (vm.count("passphrase-file")) {
    s->passphrase_file = vm["passphrase-file"].as<std::string>();
  }
  if (vm.count("key-file")) s->key_file = vm["key-file"].as<std::string>();
  if (vm.count("key-slot")) s->key_slot = vm["key-slot"].as<int>();
  if (vm.count("max-kdf-memory")) {
    s->max_kdf_memory_kib = vm["max-kdf-memory"].as<uint64_t>();
  }
  if (vm.count("max-kdf-time")) {
    s->max_kdf_seconds = vm["max-kdf-time"].as<double>();
  }
}

std::string CheckSecret(const SecretOptions& s) {
  if (!s.passphrase_file.empty() && !s.key_file.empty()) {
    return "--passphrase-file and --key-file exclude each other";
  }
  if (s.key_slot && (*s.key_slot < 0 || *s.key_slot > 31)) {
    return "--key-slot must be 0..31";
  }
  if (s.max_kdf_memory_kib < 32) return "--max-kdf-memory is below 32 KiB";
  if (!(s.max_kdf_seconds > 0 && s.max_kdf_seconds <= 86400)) {
    return "--max-kdf-time must be more than 0 and at most 86400 seconds";
  }
  return "";
}

// The option groups a command takes, in one table: a command parses exactly
// the groups it declares (and shows in its --help). bind, unbind, shred and
// rewrap once showed the S3 group but read it only when --s3-endpoint or
// --s3-region was given, dropping --s3-ca and --s3-path-style.
struct OptionGroups {
  bool secret = false;   // SecretDesc: --passphrase-file, --key-file, ...
  bool storage = false;  // StorageDesc: --s3-*, --cache-*, ...
  bool kms = false;      // KmsDesc: --kms, --kms-ca, ... (and revocation)
};

OptionGroups GroupsOf(const std::string& verb) {
  if (verb == "mount" || verb == "check" || verb == "bind" ||
      verb == "unbind" || verb == "shred" || verb == "rewrap") {
    return {true, true, true};
  }
  if (verb == "info") return {false, true, false};
  if (IsKmsVerb(verb)) return {false, false, true};  // wrap, unwrap, kms
  return {};                                         // umount, pid
}

// Reads every group the command takes into the fields its runner reads
// (mount: cmd->mount.*, every other command: cmd->*). "" or a usage error.
std::string ReadGroups(const std::string& verb, const po::variables_map& vm,
                       Command* cmd) {
  const OptionGroups g = GroupsOf(verb);
  const bool mount = verb == "mount";
  std::string bad;
  if (g.secret) {
    SecretOptions* s = mount ? &cmd->mount.secret : &cmd->secret;
    ReadSecret(vm, s);
    bad = CheckSecret(*s);
  }
  if (bad.empty() && g.storage) {
    bad = ReadStorage(vm, mount ? &cmd->mount.storage : &cmd->storage);
  }
  if (bad.empty() && g.kms) bad = ReadKms(vm, mount ? &cmd->mount.kms : &cmd->kms);
  return bad;
}

}  // namespace

ParseResult ExpandMountOptions(const std::vector<std::string>& in,
                               std::vector<std::string>* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    std::string list;
    if (in[i] == "-o") {
      if (i + 1 >= in.size()) return Error("-o needs a value");
      list = in[++i];
    } else if (in[i].size() > 2 && in[i].compare(0, 2, "-o") == 0) {
      list = in[i].substr(2);
    } else {
      out->push_back(in[i]);
      continue;
    }
    std::stringstream ss(list);
    std::string word;
    while (std::getline(ss, word, ',')) {
      if (word.empty() || kIgnoredWords.count(word)) continue;
      if (word.rfind("x-", 0) == 0 || word.rfind("comment=", 0) == 0) {
        continue;  // x-systemd.automount, x-mount.mkdir, comment=systemd.*
      }
      const size_t eq = word.find('=');
      const std::string key = eq == std::string::npos ? word
                                                      : word.substr(0, eq + 1);
      auto it = kOWords.find(key);
      if (it == kOWords.end()) {
        return Error("unknown mount option '" + word + "'");
      }
      out->push_back(eq == std::string::npos ? it->second
                                             : it->second + word.substr(eq + 1));
    }
  }
  return ParseResult{Command{}, ""};
}

ParseResult ParseCommandLine(const std::vector<std::string>& args_in) {
  std::vector<std::string> args = args_in;
  Command cmd;
  if (args.empty() || args[0] == "--help" || args[0] == "-h" ||
      args[0] == "help") {
    cmd.kind = Command::Kind::kHelp;
    cmd.help_text = Help("", {});
    cmd.usage_error = args.empty();
    return ParseResult{cmd, ""};
  }
  if (args[0] == "--version" || args[0] == "-V") {
    cmd.kind = Command::Kind::kVersion;
    return ParseResult{cmd, ""};
  }
  std::string verb = args[0];
  static const std::set<std::string> kVerbs = {"mount", "umount", "pid",
                                               "info", "check"};
  if (kVerbs.count(verb) || IsKmsVerb(verb) || IsPrepVerb(verb)) {
    args.erase(args.begin());
  } else {
    // `luksfs IMAGE MNT [-o ...]`, as mount.fuse3 calls it. A lone word
    // with no options is a mistyped command rather than a mount.
    if (args.size() == 1 && verb[0] != '-') {
      return Error("unknown command '" + verb + "'");
    }
    verb = "mount";
  }

  po::options_description visible;
  po::options_description hidden;
  po::positional_options_description pos;
  visible.add_options()("help,h", "show this help");
  if (verb == "mount") {
    visible.add(SecretDesc()).add(MountDesc()).add(StorageDesc());
    visible.add(KmsDesc()).add(KmsMountDesc());
    hidden.add_options()("image", po::value<std::string>())(
        "mountpoint", po::value<std::string>());
    pos.add("image", 1).add("mountpoint", 1);
  } else if (verb == "check") {
    visible.add(SecretDesc()).add(StorageDesc()).add(KmsDesc());
    hidden.add_options()("image", po::value<std::string>());
    pos.add("image", 1);
  } else if (verb == "info") {
    visible.add_options()("json", "print JSON");
    visible.add(StorageDesc());
    hidden.add_options()("image", po::value<std::string>());
    pos.add("image", 1);
  } else if (IsPrepVerb(verb)) {
    AddPrepVerbOptions(verb, &visible, &hidden, &pos);
    visible.add(StorageDesc());
  } else if (IsKmsVerb(verb)) {
    if (GroupsOf(verb).secret) visible.add(SecretDesc());
    if (GroupsOf(verb).storage) visible.add(StorageDesc());
    AddKmsVerbOptions(verb, &visible, &hidden, &pos);
  } else {
    hidden.add_options()("mountpoint", po::value<std::string>());
    pos.add("mountpoint", 1);
  }
  po::options_description all;
  all.add(visible).add(hidden);

  std::vector<std::string> expanded;
  if (verb == "mount") {
    ParseResult r = ExpandMountOptions(args, &expanded);
    if (!r.command) return Error(verb + ": " + r.error);
  } else {
    expanded = args;
  }

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(expanded)
                  .options(all)
                  .positional(pos)
                  .style(po::command_line_style::unix_style)
                  .run(),
              vm);
    po::notify(vm);
  } catch (const po::too_many_positional_options_error&) {
    return Error(verb + ": too many arguments (usage: " +
                 VerbUsage(verb).substr(7, VerbUsage(verb).find('\n') == std::string::npos
                                              ? std::string::npos
                                              : VerbUsage(verb).find('\n') - 7) +
                 ")");
  } catch (const po::error& e) {
    // boost's error_with_option_name::what() replaces %placeholders% in its
    // template with the user's text, again and again while the result still
    // holds one: "--x%canonical_option%" looped forever (found by
    // options_fuzz). Name the argument ourselves instead.
    if (dynamic_cast<const po::error_with_option_name*>(&e) != nullptr) {
      for (const std::string& a : expanded) {
        if (a.find('%') == std::string::npos) continue;
        return Error(verb + ": cannot parse the argument \"" + a.substr(0, 80) +
                     "\" (unknown option, or a bad or missing value)");
      }
    }
    return Error(verb + ": " + e.what());
  }
  if (vm.count("help")) {
    cmd.kind = Command::Kind::kHelp;
    cmd.help_text = Help(verb, visible);
    return ParseResult{cmd, ""};
  }

  if (std::string bad = ReadGroups(verb, vm, &cmd); !bad.empty()) {
    return Error(verb + ": " + bad);
  }
  auto need = [&](const char* what) -> std::string {
    return vm.count(what) ? vm[what].as<std::string>() : std::string();
  };
  if (verb == "mount") {
    cmd.kind = Command::Kind::kMount;
    MountConfig& m = cmd.mount;
    m.image = need("image");
    m.mountpoint = need("mountpoint");
    if (m.image.empty() || m.mountpoint.empty()) {
      return Error("mount: IMAGE and MOUNTPOINT are required");
    }
    m.foreground = vm.count("foreground") > 0;
    m.read_only = vm.count("read-only") > 0;
    m.allow_other = vm.count("allow-other") > 0;
    m.direct_io = vm.count("direct-io") > 0;
    m.allow_discards = vm.count("allow-discards") > 0;
    m.debug = vm.count("debug") > 0;
    m.no_lock = vm.count("no-lock") > 0;
    m.nonempty = vm.count("nonempty") > 0;
    m.no_partitions = vm.count("no-partitions") > 0;
    if (vm.count("uid")) m.uid = vm["uid"].as<uint32_t>();
    if (vm.count("gid")) m.gid = vm["gid"].as<uint32_t>();
    for (auto [key, out] : {std::pair{"umask", &m.umask}, std::pair{"mode", &m.mode}}) {
      if (!vm.count(key)) continue;
      const std::string v = vm[key].as<std::string>();
      size_t used = 0;
      unsigned long bits = 0;
      try {
        bits = std::stoul(v, &used, 8);
      } catch (const std::exception&) {
        used = 0;
      }
      if (v.empty() || used != v.size() || bits > 07777) {
        return Error(std::string("mount: --") + key + " must be octal, 0..7777");
      }
      *out = static_cast<uint32_t>(bits);
    }
    if (m.umask && m.mode) return Error("mount: --umask and --mode exclude each other");
    if (vm.count("s3-lease-ttl")) {
      m.s3_lease_ttl = vm["s3-lease-ttl"].as<unsigned>();
      if (m.s3_lease_ttl < 3 || m.s3_lease_ttl > 86400) {
        return Error("mount: --s3-lease-ttl must be 3..86400 seconds");
      }
    }
    m.verbose = vm.count("verbose") > 0;
    m.quiet = vm.count("quiet") > 0;
    if (vm.count("log-file")) m.log_file = vm["log-file"].as<std::string>();
    if (m.verbose && m.quiet) return Error("mount: --verbose and --quiet exclude each other");
    if (vm.count("name")) m.name = vm["name"].as<std::string>();
    if (vm.count("threads")) m.threads = vm["threads"].as<unsigned>();
    if (vm.count("kernel-readahead")) {
      m.kernel_readahead_kib = vm["kernel-readahead"].as<unsigned>();
      m.kernel_readahead_set = true;
      if (m.kernel_readahead_kib > 65536) {
        return Error("mount: --kernel-readahead must be 0..65536 KiB");
      }
    }
    if (vm.count("io-uring")) {
      const std::string u = vm["io-uring"].as<std::string>();
      m.io_uring_explicit = true;
      if (u == "auto") m.io_uring = MountConfig::IoUring::kAuto;
      else if (u == "on") m.io_uring = MountConfig::IoUring::kOn;
      else if (u == "off") m.io_uring = MountConfig::IoUring::kOff;
      else return Error("mount: --io-uring must be auto, on or off, not '" + u + "'");
    }
    if (m.name.empty() || m.name == "." || m.name == ".." ||
        m.name.find('/') != std::string::npos || m.name.size() > 255) {
      return Error("mount: --name must be a plain file name");
    }
    if (m.threads > 256) return Error("mount: --threads must be 0..256");
  } else if (verb == "check") {
    cmd.kind = Command::Kind::kCheck;
    cmd.image = need("image");
    if (cmd.image.empty()) return Error("check: IMAGE is required");
  } else if (verb == "info") {
    cmd.kind = Command::Kind::kInfo;
    cmd.image = need("image");
    cmd.json = vm.count("json") > 0;
    if (cmd.image.empty()) return Error("info: IMAGE is required");
  } else if (IsKmsVerb(verb)) {
    std::string bad = ReadKmsVerb(verb, vm, &cmd);
    if (!bad.empty()) return Error(verb + ": " + bad);
  } else if (IsPrepVerb(verb)) {
    std::string bad = ReadPrepVerb(verb, vm, &cmd);
    if (bad.empty()) bad = ReadStorage(vm, &cmd.storage);
    if (!bad.empty()) return Error(verb + ": " + bad);
  } else {  // umount, pid
    cmd.kind = verb == "pid" ? Command::Kind::kPid : Command::Kind::kUmount;
    cmd.mountpoint = need("mountpoint");
    if (cmd.mountpoint.empty()) return Error(verb + ": MOUNTPOINT is required");
  }
  return ParseResult{cmd, ""};
}

}  // namespace luksfs::cli
