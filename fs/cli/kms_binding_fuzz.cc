// libFuzzer target: the luksfs-kms binding (fs/cli/kms_binding.h), read
// from a LUKS2 token or from the IMAGE.luksfs-kms sidecar of a LUKS1 image;
// both are plain JSON anyone with write access to the image may have made.
//
// Checks, beyond "no crash, no sanitizer report": a binding that parses
// serialises and parses back to the same fields.
//
// Build: make fuzz. Run: build/fuzz/kms_binding_fuzz CORPUS_DIR

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fs/cli/kms_binding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace luksfs::cli;
  const std::string text(reinterpret_cast<const char*>(data), size);
  luksfs::Result<KmsBinding> b = BindingFromJson(text);
  if (!b.ok()) return 0;
  luksfs::Result<KmsBinding> again = BindingFromJson(BindingToJson(*b));
  if (!again.ok() || again->keyslot != b->keyslot || again->kms != b->kms ||
      again->wrapped != b->wrapped) {
    std::fprintf(stderr, "binding does not round-trip: %s\n",
                 again.ok() ? "fields differ" : again.status().ToString().c_str());
    std::abort();
  }
  return 0;
}
