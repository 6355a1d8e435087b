// `luksfs compare A B`: exit 0 when the plaintexts are identical, 1 when
// they differ (printing "Content mismatch at offset N!" as qemu-img does),
// else the usual codes (2 no key, 3 bad image, 4 storage).
#include <iostream>

#include "fs/cli/commands.h"
#include "fs/cli/prep_open.h"
#include "fs/prep/compare.h"
#include "fs/prep/interrupt.h"
#include "fs/prep/progress.h"

namespace luksfs::cli {

int RunCompare(const Command& cmd) {
  const PrepConfig& p = cmd.prep;
  fs::prep::PlainImage a, b;
  if (auto e = OpenPlain(p.a, cmd.secret, cmd.kms, cmd.storage, p.threads, &a, nullptr)) {
    return Report(*e);
  }
  if (auto e = OpenPlain(p.b, p.new_secret, cmd.kms, cmd.storage, p.threads, &b, nullptr)) {
    return Report(*e);
  }
  fs::prep::InstallInterruptHandler();
  fs::prep::Progress progress(p.progress, false, std::max(a.size, b.size));
  auto r = fs::prep::ComparePlain(a, b, p.strict,
                                  [&](uint64_t done) { progress.Update(done); });
  if (p.progress) progress.Finish(r.ok() ? std::max(a.size, b.size) : 0);
  if (!r.ok()) {
    const int code = r.status().code() == Status::Code::kIOError ? kExitStorage
                                                                 : kExitBadImage;
    return Report({code, p.a + " vs " + p.b + ": " + r.status().message()});
  }
  if (r->size_mismatch) {
    std::cout << (p.strict ? "Strict mode: Image size mismatch!\n"
                           : "Warning: Image size mismatch!\n");
  }
  if (!r->identical) {
    if (!(p.strict && r->size_mismatch)) {
      std::cout << "Content mismatch at offset " << r->first_difference << "!\n";
    }
    return 1;
  }
  std::cout << "Images are identical.\n";
  return kExitOk;
}

}  // namespace luksfs::cli
