#include "fs/storage/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cctype>
#include <ctime>

#include "common/hex.h"

namespace luksfs::fs::sigv4 {

namespace {

bool Unreserved(unsigned char c) {
  return std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Trims and collapses runs of blanks to one space (SigV4 "Trimall").
std::string TrimAll(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

// HMAC-SHA256 into out (32 bytes).
void Hmac(std::span<const uint8_t> key, std::string_view msg, uint8_t out[32]) {
  unsigned int len = 32;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out,
       &len);
}

}  // namespace

std::string UriEncode(std::string_view s, bool encode_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (Unreserved(c) || (c == '/' && !encode_slash)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> q) {
  for (auto& [k, v] : q) {
    k = UriEncode(k, true);
    v = UriEncode(v, true);
  }
  std::sort(q.begin(), q.end());
  std::string out;
  for (const auto& [k, v] : q) {
    if (!out.empty()) out.push_back('&');
    out += k + "=" + v;
  }
  return out;
}

std::string Sha256Hex(std::span<const uint8_t> data) {
  uint8_t md[SHA256_DIGEST_LENGTH];
  SHA256(data.data(), data.size(), md);
  return HexEncode(md);
}

std::string CanonicalRequest(const Request& req, std::string* signed_headers) {
  std::vector<std::pair<std::string, std::string>> h;
  h.reserve(req.headers.size());
  for (const auto& [k, v] : req.headers) h.emplace_back(Lower(k), TrimAll(v));
  // Sorted by name only (stable: a repeated name keeps its order).
  std::stable_sort(h.begin(), h.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string canon_headers, names;
  for (size_t i = 0; i < h.size(); ++i) {
    if (i > 0 && h[i].first == h[i - 1].first) {
      canon_headers.back() = ',';  // repeated name: values joined by ','
      canon_headers += h[i].second + "\n";
      continue;
    }
    canon_headers += h[i].first + ":" + h[i].second + "\n";
    if (!names.empty()) names.push_back(';');
    names += h[i].first;
  }
  if (signed_headers) *signed_headers = names;
  return req.method + "\n" + req.canonical_uri + "\n" + req.canonical_query +
         "\n" + canon_headers + "\n" + names + "\n" + req.payload_hash;
}

std::string StringToSign(std::string_view amz_date, std::string_view scope,
                         std::string_view canonical_request) {
  return "AWS4-HMAC-SHA256\n" + std::string(amz_date) + "\n" +
         std::string(scope) + "\n" + Sha256Hex(canonical_request);
}

Result<SecureBuffer> SigningKey(std::span<const uint8_t> secret,
                                std::string_view date, std::string_view region,
                                std::string_view service) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer k0, SecureBuffer::Create(4 + secret.size()));
  std::copy_n("AWS4", 4, k0.data());
  std::copy(secret.begin(), secret.end(), k0.data() + 4);
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer key, SecureBuffer::Create(32));
  uint8_t tmp[32];
  Hmac(k0.span(), date, tmp);
  Hmac(tmp, region, key.data());
  Hmac(key.span(), service, tmp);
  Hmac(tmp, "aws4_request", key.data());
  SecureWipe(tmp, sizeof(tmp));
  return key;
}

std::string Signature(std::span<const uint8_t> signing_key,
                      std::string_view string_to_sign) {
  uint8_t mac[32];
  Hmac(signing_key, string_to_sign, mac);
  return HexEncode(mac);
}

Result<std::string> Authorization(std::string_view access_key,
                                  std::span<const uint8_t> secret,
                                  std::string_view amz_date,
                                  std::string_view region,
                                  std::string_view service, const Request& req) {
  const std::string date(amz_date.substr(0, 8));
  const std::string scope = date + "/" + std::string(region) + "/" +
                            std::string(service) + "/aws4_request";
  std::string signed_headers;
  const std::string canon = CanonicalRequest(req, &signed_headers);
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer key,
                          SigningKey(secret, date, region, service));
  return "AWS4-HMAC-SHA256 Credential=" + std::string(access_key) + "/" +
         scope + ",SignedHeaders=" + signed_headers +
         ",Signature=" + Signature(key.span(), StringToSign(amz_date, scope, canon));
}

std::string AmzDate(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof(buf), "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace luksfs::fs::sigv4
