#include "fs/cli/options_kms.h"

#include <set>

namespace po = boost::program_options;

namespace luksfs::cli {

namespace {

std::string Str(const po::variables_map& vm, const char* k) {
  return vm.count(k) ? vm[k].as<std::string>() : std::string();
}

}  // namespace

bool IsKmsVerb(const std::string& verb) {
  static const std::set<std::string> kVerbs = {
      "bind", "unbind", "shred", "wrap", "unwrap", "rewrap", "kms"};
  return kVerbs.count(verb) > 0;
}

po::options_description KmsDesc() {
  po::options_description d("KMS options");
  d.add_options()
      ("kms", po::value<std::string>(),
       "root key URI: kmip://, kp+https://, vault+https://, file:")
      ("kms-ca", po::value<std::string>(), "PEM CA bundle to trust the KMS")
      ("kms-fingerprint", po::value<std::string>(),
       "pinned KMS certificate: SHA-1 or SHA-256 hex, or openssl's "
       "'SHA1 Fingerprint=...' line; several separated by ','")
      ("kms-config", po::value<std::string>(),
       "named KMS clusters (kms-cluster:NAME/KEY-ID); default "
       "/etc/luksfs/kms.conf")
      ("kms-cert", po::value<std::string>(), "client certificate (PEM)")
      ("kms-key", po::value<std::string>(), "client private key (PEM)")
      ("kms-user", po::value<std::string>(), "KMIP credential user name")
      ("kms-password-file", po::value<std::string>(),
       "KMIP credential password, from a file")
      ("kms-token-file", po::value<std::string>(),
       "REST bearer token, from a file (else $LUKSFS_KP_TOKEN/$VAULT_TOKEN)")
      ("kms-instance", po::value<std::string>(),
       "Key Protect instance id (bluemix-instance)")
      ("kms-api-key-file", po::value<std::string>(),
       "Key Protect: IBM Cloud IAM API key, from a file (tokens are "
       "fetched and refreshed)")
      ("iam-endpoint", po::value<std::string>(),
       "IAM token endpoint (default https://iam.cloud.ibm.com)")
      ("keystore-passphrase-file", po::value<std::string>(),
       "passphrase of a file: keystore (- = stdin)")
      ("audit-log", po::value<std::string>(),
       "append one JSON line per key event to FILE, or 'syslog'");
  return d;
}

po::options_description KmsMountDesc() {
  po::options_description d("Revocation options");
  d.add_options()
      ("kms-poll", po::value<unsigned>(),
       "seconds between key state checks (default 30; SIGHUP checks now)")
      ("kms-grace", po::value<unsigned>(),
       "seconds the KMS may be unreachable before keys are dropped "
       "(default 300)")
      ("on-revoke", po::value<std::string>(),
       "eio (default): fail all I/O; unmount: also unmount");
  return d;
}

void AddKmsVerbOptions(const std::string& verb, po::options_description* visible,
                       po::options_description* hidden,
                       po::positional_options_description* pos) {
  visible->add(KmsDesc());
  if (verb == "bind" || verb == "kms") {
    visible->add_options()("create-key", "create a new root key in the KMS");
  }
  if (verb == "kms") {
    visible->add_options()
        ("save", "kms trust: pin the certificates into the cluster "
                 "configuration (--kms-config)")
        ("cluster", po::value<std::string>(),
         "kms trust --save of a literal URI: the cluster to create or update");
  }
  if (verb == "shred") {
    visible->add_options()("yes,y", "do not ask for confirmation")(
        "keep-key", "do not revoke and destroy the KMS key (it may be "
                    "shared with other images)");
  }
  if (verb == "wrap" || verb == "unwrap" || verb == "rewrap") {
    visible->add_options()
        ("in", po::value<std::string>(),
         verb == "wrap" ? "passphrase file to wrap (- = stdin)"
                        : "WDEK file: base64 wrapped passphrase (- = stdin)")
        ("out", po::value<std::string>(),
         "where to write the result (default: standard output)");
  }
  if (verb == "rewrap") {
    visible->add_options()("from", po::value<std::string>(),
                           "with --in: the key URI that wrapped the WDEK");
  }
  if (verb == "kms") {
    hidden->add_options()("kms-verb", po::value<std::string>())(
        "target", po::value<std::string>());
    pos->add("kms-verb", 1).add("target", 1);
  } else if (verb == "bind" || verb == "unbind" || verb == "shred" ||
             verb == "rewrap") {
    hidden->add_options()("image", po::value<std::string>());
    pos->add("image", 1);
  }
}

std::string ReadKms(const po::variables_map& vm, KmsConfig* k) {
  k->uri = Str(vm, "kms");
  k->options.ca_file = Str(vm, "kms-ca");
  k->options.fingerprint = Str(vm, "kms-fingerprint");
  k->options.client_cert_file = Str(vm, "kms-cert");
  k->options.client_key_file = Str(vm, "kms-key");
  k->options.username = Str(vm, "kms-user");
  k->options.password_file = Str(vm, "kms-password-file");
  k->options.token_file = Str(vm, "kms-token-file");
  k->options.instance_id = Str(vm, "kms-instance");
  k->options.keystore_passphrase_file = Str(vm, "keystore-passphrase-file");
  k->options.kms_config = Str(vm, "kms-config");
  k->options.api_key_file = Str(vm, "kms-api-key-file");
  k->options.iam_endpoint = Str(vm, "iam-endpoint");
  k->save = vm.count("save") > 0;
  k->cluster = Str(vm, "cluster");
  k->audit_log = Str(vm, "audit-log");
  k->create_key = vm.count("create-key") > 0;
  if (vm.count("kms-poll")) k->poll_seconds = vm["kms-poll"].as<unsigned>();
  if (vm.count("kms-grace")) k->grace_seconds = vm["kms-grace"].as<unsigned>();
  if (vm.count("on-revoke")) {
    const std::string v = vm["on-revoke"].as<std::string>();
    if (v != "eio" && v != "unmount") {
      return "--on-revoke must be eio or unmount";
    }
    k->unmount_on_revoke = v == "unmount";
  }
  if (k->poll_seconds < 1 || k->poll_seconds > 86400) {
    return "--kms-poll must be 1..86400 seconds";
  }
  if (k->grace_seconds > 30 * 86400) return "--kms-grace is too long";
  if (!k->options.client_cert_file.empty() !=
      !k->options.client_key_file.empty()) {
    return "--kms-cert and --kms-key go together";
  }
  return "";
}

std::string ReadKmsVerb(const std::string& verb, const po::variables_map& vm,
                        Command* cmd) {
  using K = Command::Kind;
  cmd->image = Str(vm, "image");
  cmd->in_file = Str(vm, "in");
  cmd->out_file = Str(vm, "out");
  cmd->yes = vm.count("yes") > 0;
  cmd->keep_key = vm.count("keep-key") > 0;
  cmd->from_uri = Str(vm, "from");
  if (verb == "bind") {
    cmd->kind = K::kBind;
    if (cmd->image.empty()) return "IMAGE is required";
    if (cmd->kms.uri.empty()) return "--kms URI is required";
  } else if (verb == "unbind") {
    cmd->kind = K::kUnbind;
    if (cmd->image.empty()) return "IMAGE is required";
  } else if (verb == "shred") {
    cmd->kind = K::kShred;
    if (cmd->image.empty()) return "IMAGE is required";
  } else if (verb == "wrap" || verb == "unwrap") {
    cmd->kind = verb == "wrap" ? K::kWrap : K::kUnwrap;
    if (cmd->kms.uri.empty()) return "--kms URI is required";
    if (cmd->in_file.empty()) return "--in FILE is required";
  } else if (verb == "rewrap") {
    cmd->kind = K::kRewrap;
    if (cmd->kms.uri.empty()) return "--kms URI (the new key) is required";
    if (cmd->image.empty() == cmd->in_file.empty()) {
      return "give IMAGE (its luksfs-kms binding) or --in WDEK, not both";
    }
    if (!cmd->in_file.empty() && cmd->from_uri.empty()) {
      return "--in needs --from URI (the key that wrapped it)";
    }
  } else {
    cmd->kind = K::kKmsAdmin;
    cmd->kms_verb = Str(vm, "kms-verb");
    static const std::set<std::string> kSub = {
        "create-key", "revoke", "destroy", "state", "trust", "clusters"};
    if (!kSub.count(cmd->kms_verb)) {
      return "a verb is needed: create-key, revoke, destroy, state, trust or "
             "clusters";
    }
    const std::string target = Str(vm, "target");
    if (!target.empty()) cmd->kms.uri = target;
    if (cmd->kms_verb == "clusters") return "";
    if (cmd->kms.uri.empty()) return "a key URI is required";
    if (cmd->kms.save && cmd->kms_verb != "trust") {
      return "--save goes with kms trust";
    }
  }
  return "";
}

}  // namespace luksfs::cli
