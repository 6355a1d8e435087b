#include "fs/cli/commands.h"
#include "fs/cli/image.h"
namespace luksfs::cli {
int RunConvert(const Command&) { return Report({kExitUsage, "convert: not yet"}); }
int RunCompare(const Command&) { return Report({kExitUsage, "compare: not yet"}); }
}
