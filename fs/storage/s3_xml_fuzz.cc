// libFuzzer target: the S3 XML scanner (fs/storage/s3_xml.h) on arbitrary
// bytes, what a hostile or broken S3 server could send as a response body.
//
// Checks, beyond "no crash, no sanitizer report": a value found is at most
// kMaxXmlValue bytes, and XmlText finds back any value XmlEscape escaped.
//
// Build: make fuzz. Run: build/fuzz/s3_xml_fuzz CORPUS_DIR

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fs/storage/s3_xml.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace luksfs::fs;
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  for (const char* tag : {"Code", "Message", "UploadId", "ETag", "Error",
                          "CopyPartResult", "Key"}) {
    const std::optional<std::string> v = XmlText(xml, tag);
    if (v && v->size() > kMaxXmlValue) {
      std::fprintf(stderr, "XmlText returned %zu bytes for <%s>\n", v->size(),
                   tag);
      std::abort();
    }
  }
  (void)XmlErrorSummary(xml);

  // Round trip: a value without markup, escaped, is found again.
  if (size <= kMaxXmlValue / 6) {
    const std::string doc = "<R><UploadId>" + XmlEscape(xml) + "</UploadId></R>";
    const std::optional<std::string> back = XmlText(doc, "UploadId");
    if (!back || *back != xml) {
      std::fprintf(stderr, "XmlText(XmlEscape(s)) != s\n");
      std::abort();
    }
  }
  return 0;
}
