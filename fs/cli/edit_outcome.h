// What a header edit (bind, unbind, rewrap, shred) left on disk after one
// of its writes failed. A failed write does not mean the edit did not take
// effect: LUKS2 writes the secondary header copy before the primary, so an
// error on the primary leaves the edit in force through the secondary.
// Reporting the outcome on disk, not the attempt, keeps the message true.
//
// Thread-safety: none needed (CLI, one thread). Errors: none; whatever
// cannot be read back is itself the description ("no readable header").
#pragma once

#include <string>

#include "fs/cli/image.h"

namespace luksfs::cli {

// One clause, read back from `image.storage` now: "on disk now: bound to
// URI (keyslot N), keyslots 0,1, both header copies valid (seqid S)", or
// "... not bound ...", or "... NEEDS REPAIR: ...; repair: ...". Names the
// repair command when one is needed.
std::string DescribeOnDisk(const OpenedImage& image);

}  // namespace luksfs::cli
