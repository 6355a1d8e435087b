// libFuzzer target: what luksfs parses of the S3 configuration it is given,
// S3 URIs ("s3://bucket/key"), the AWS credentials file (INI), the endpoint
// (--s3-endpoint), and the SigV4 canonicalisation of arbitrary request parts.
//
// The input is split at NUL bytes into fields: URI, credentials text,
// profile, endpoint, region, then method, path, query name/value, header
// name/value. Missing fields are empty. Checks: no crash, no sanitizer
// report; a parsed URI has a non-empty key of at most 1024 bytes; UriEncode
// yields only unreserved characters, '/' and %XX.
//
// Build: make fuzz. Run: build/fuzz/s3_config_fuzz CORPUS_DIR

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fs/storage/s3_uri.h"
#include "fs/storage/sigv4.h"

namespace {

std::vector<std::string> Fields(const uint8_t* data, size_t size, size_t n) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0 && out.size() + 1 < n) {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  out.push_back(std::move(cur));
  out.resize(n);
  return out;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "check failed: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace luksfs::fs;
  const std::vector<std::string> f = Fields(data, size, 10);

  (void)IsS3Uri(f[0]);
  luksfs::Result<S3Location> loc = ParseS3Uri(f[0]);
  if (loc.ok()) {
    Check(!loc->key.empty() && loc->key.size() <= 1024, "S3 key length");
  }

  (void)ParseCredentialsFile(f[1], f[2].empty() ? "default" : f[2]);

  S3Options opts;
  opts.endpoint = f[3];
  opts.region = f[4];
  const EnvFn no_env = [](const char*) { return std::optional<std::string>(); };
  const std::string region = ResolveRegion(opts, no_env);
  (void)ResolveEndpoint(opts, region, loc.ok() ? loc->bucket : "bucket");

  const std::string enc = sigv4::UriEncode(f[6], false);
  for (size_t i = 0; i < enc.size(); ++i) {
    const char c = enc[i];
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                       (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                       c == '.' || c == '~' || c == '/' || c == '%';
    Check(plain, "UriEncode output character");
  }
  sigv4::Request req;
  req.method = f[5];
  req.canonical_uri = enc.empty() ? "/" : enc;
  req.canonical_query = sigv4::CanonicalQuery({{f[7], f[8]}, {f[8], f[7]}});
  req.headers = {{"host", "h"}, {f[9], f[8]}, {"x-amz-date", f[7]}};
  req.payload_hash = sigv4::kEmptySha256;
  std::string signed_headers;
  const std::string canonical = sigv4::CanonicalRequest(req, &signed_headers);
  const std::string secret = f[1].substr(0, 64);
  (void)sigv4::Authorization(
      f[2], {reinterpret_cast<const uint8_t*>(secret.data()), secret.size()},
      "20240101T000000Z", region, "s3", req);
  (void)canonical;
  return 0;
}
