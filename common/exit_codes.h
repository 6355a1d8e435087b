// Process exit codes of every luksfs command. Mirrored in man/luksfs.8,
// section EXIT STATUS; change both together.
#pragma once

namespace luksfs {

enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 1,         // bad command line
  kExitNoKey = 2,         // wrong passphrase, or no keyslot opened
  kExitBadImage = 3,      // not LUKS, corrupt, or unsupported
  kExitStorage = 4,       // missing file or I/O error
  kExitKms = 5,           // KMS error
  kExitMount = 6,         // mountpoint missing/not a dir/busy, FUSE missing
  kExitBusy = 7,          // image in use: locked by another mount or qemu
};

}  // namespace luksfs
