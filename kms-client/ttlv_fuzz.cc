// libFuzzer target: the TTLV decoder and the KMIP response parser on
// arbitrary bytes (what a hostile KMIP server could send).
//
// Checks, beyond "no crash, no sanitizer report": whatever decodes
// re-encodes to exactly the same bytes (the decoder accepts only the
// canonical encoding), and the response/payload parsers never crash on a
// decoded tree.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>

#include "kms-client/kmip_blob.h"
#include "kms-client/kmip_messages.h"
#include "kms-client/kmip_tags.h"
#include "kms-client/ttlv.h"

using namespace luksfs::kms;  // NOLINT: fuzz driver

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  (void)kmip::ParseBlob(in);
  luksfs::Result<TtlvItem> item = DecodeTtlv(in);
  if (!item.ok()) return 0;
  luksfs::Result<std::vector<uint8_t>> again = EncodeTtlv(*item);
  if (!again.ok() || *again != std::vector<uint8_t>(in.begin(), in.end())) {
    std::fprintf(
        stderr, "TTLV re-encoding differs from the input: %s\n",
        again.ok() ? "bytes differ" : again.status().ToString().c_str());
    std::abort();
  }
  (void)TtlvToString(*item);
  for (uint32_t op :
       {kmip::op::kGet, kmip::op::kDecrypt, kmip::op::kGetAttributes,
        kmip::op::kEncrypt, kmip::op::kCreate}) {
    luksfs::Result<kmip::Response> r = kmip::ParseResponse(*item, op);
    if (!r.ok()) continue;
    (void)kmip::ParseUid(*r);
    (void)kmip::ParseStateAttribute(*r);
    (void)kmip::ParseSymmetricKey(*r);
    (void)kmip::ParseEncrypt(*r);
    (void)kmip::ParseDecrypt(*r);
    break;  // the operation is echoed: at most one matches
  }
  return 0;
}
