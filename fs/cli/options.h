// Command-line parsing: argv -> a plain Command. Pure (no I/O); the
// Boost.Program_options objects never leave options.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fs/prep/format.h"
#include "fs/storage/open_storage.h"
#include "kms-client/kms.h"

namespace luksfs::cli {

struct SecretOptions {
  std::string passphrase_file;  // first line; "-" = stdin
  std::string key_file;         // whole file; "-" = stdin
  std::optional<int> key_slot;
  uint64_t max_kdf_memory_kib = 1048576;
  double max_kdf_seconds = 60;  // --max-kdf-time: all KDF work of one open
};

// Key management: where a wrapped passphrase's root key lives, how to
// reach it, and (mount) how to watch it for revocation.
struct KmsConfig {
  std::string uri;                  // --kms (bind, wrap, unwrap, rewrap, kms)
  kms::KmsOptions options;          // --kms-ca, --kms-cert, ...
  bool create_key = false;          // bind/kms: create a new root key first
  unsigned poll_seconds = 30;       // mount: --kms-poll
  unsigned grace_seconds = 300;     // mount: --kms-grace (unreachable)
  bool unmount_on_revoke = false;   // mount: --on-revoke=unmount
  std::string audit_log;            // --audit-log FILE, or "syslog"
  bool save = false;                // kms trust --save: pin into the config
  std::string cluster;              // kms trust --cluster NAME
};

struct MountConfig {
  std::string image;
  std::string mountpoint;
  SecretOptions secret;
  std::string name = "disk.raw";
  bool foreground = false;
  bool read_only = false;
  bool allow_other = false;
  bool direct_io = false;
  bool allow_discards = false;  // -o allow_discards: raw PUNCH_HOLE, holes read 0
  bool debug = false;
  unsigned threads = 0;  // 0: online CPUs
  unsigned kernel_readahead_kib = 1024;  // 0: kernel default
  bool kernel_readahead_set = false;     // given on the command line
  enum class IoUring { kAuto, kOn, kOff };
  IoUring io_uring = IoUring::kAuto;     // --io-uring: the FUSE transport
  bool io_uring_explicit = false;        // given on the command line
  fs::StorageOptions storage;  // s3:// images: endpoint, cache, ...
  KmsConfig kms;               // key from a luksfs-kms token or sidecar
  bool no_lock = false;        // -o nolock: take no image lock (warned)
  // Access: -o uid=,gid=,umask=,mode= (see fs/fuse/view_fs.h ViewOptions).
  std::optional<uint32_t> uid, gid;
  std::optional<uint32_t> umask, mode;  // octal on the command line
  bool nonempty = false;       // -o nonempty: mount over a non-empty dir
  bool no_partitions = false;  // --no-partitions: disk.raw only, no .pN files
  unsigned s3_lease_ttl = 60;  // s3:// read-write: lease lifetime, seconds
  // mount.luksfs (mount(8) helper) and logging:
  bool fake = false;             // -f of mount(8): check all, mount nothing
  std::string mount_namespace;   // -N: a mount namespace path or a PID
  bool verbose = false;          // -v/--verbose: debug lines in the log
  bool quiet = false;            // -q/--quiet: warnings and errors only
  std::string log_file;          // --log-file FILE (else syslog, or stderr)
};

// create, convert, compare (parsed in options_prep.cc).
struct PrepConfig {
  fs::prep::FormatOptions format;  // create; convert to LUKS
  std::string out_type;            // convert -O: raw|luks1|luks2 ("": auto)
  uint64_t size = 0;               // create: plaintext bytes
  std::string a, b;                // create: a = IMAGE; convert/compare: A B
  SecretOptions new_secret;        // create: the secret; convert: DST's;
                                   // compare: image B's
  bool force = false;              // replace an existing output
  bool progress = false;           // -p
  bool json_progress = false;      // --json-progress
  bool strict = false;             // compare -s: sizes must match
  unsigned threads = 0;            // crypto threads, 0 = CPUs
  uint64_t chunk_bytes = 8u << 20; // convert: pipeline block size
};

struct Command {
  enum class Kind {
    kMount, kUmount, kPid, kInfo, kCheck, kHelp, kVersion,
    kBind, kUnbind, kShred, kWrap, kUnwrap, kRewrap, kKmsAdmin,
    kCreate, kConvert, kCompare,
  };
  Kind kind = Kind::kHelp;
  MountConfig mount;            // kMount
  std::string image;            // kInfo, kCheck
  SecretOptions secret;         // kCheck
  bool json = false;            // kInfo
  fs::StorageOptions storage;   // kInfo, kCheck (s3:// images)
  std::string mountpoint;       // kUmount, kPid
  std::string help_text;        // kHelp
  bool usage_error = false;     // kHelp without a command: stderr, exit 1
  KmsConfig kms;                // bind, unbind, shred, wrap, unwrap, rewrap, kms
  bool yes = false;             // shred: no confirmation prompt
  bool keep_key = false;        // shred: leave the KMS key alone
  std::string in_file;          // wrap: passphrase file; unwrap: WDEK file
  std::string out_file;         // unwrap: where the passphrase goes ("-")
  std::string from_uri;         // rewrap --in: the old key
  std::string kms_verb;         // kms: create-key|revoke|destroy|state
  PrepConfig prep;              // create, convert, compare
};

// Parsed command, or a usage error message (exit code 1).
struct ParseResult {
  std::optional<Command> command;
  std::string error;  // set when !command
};

ParseResult ParseCommandLine(const std::vector<std::string>& args);

// Expands "-o a,b=c" / "-oa,b=c" into long options ("--a", "--b=c") using
// the mount -o vocabulary; unknown words are an error. Exposed for tests.
ParseResult ExpandMountOptions(const std::vector<std::string>& in,
                               std::vector<std::string>* out);

}  // namespace luksfs::cli
