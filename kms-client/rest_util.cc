#include "kms-client/rest_util.h"

#include <vector>

#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/secret_file.h"

namespace luksfs::kms {

namespace {

constexpr size_t kMaxTokenBytes = 16384;

bool IsSpace(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Trims whitespace and checks for control characters (header injection).
Result<SecureBuffer> CleanToken(std::span<const uint8_t> raw,
                                const std::string& source) {
  size_t b = 0, e = raw.size();
  while (b < e && IsSpace(raw[b])) ++b;
  while (e > b && IsSpace(raw[e - 1])) --e;
  if (b == e) return Status::InvalidArgument(source + ": empty token");
  for (size_t i = b; i < e; ++i) {
    if (raw[i] < 0x20 || raw[i] == 0x7f) {
      return Status::InvalidArgument(source +
                                     ": token contains control characters");
    }
  }
  return SecureBuffer::CopyOf(raw.subspan(b, e - b));
}

Result<SecureBuffer> ReadTokenFile(const std::string& path) {
  LUKSFS_ASSIGN_OR_RETURN(
      SecureBuffer raw,
      ReadSecretFile(path, "token file", SecretFormat::kWhole, kMaxTokenBytes));
  return CleanToken(raw.span(), path);
}

}  // namespace

bool ValidPathSegment(std::string_view s, size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return s != "." && s != "..";
}

Result<RestUri> ParseRestUri(std::string_view uri, std::string_view scheme) {
  std::string u(uri);
  std::string transport;
  std::string_view rest;
  for (std::string_view t : {"https", "http"}) {
    std::string prefix = std::string(scheme) + "+" + std::string(t) + "://";
    if (uri.substr(0, prefix.size()) == prefix) {
      transport = std::string(t);
      rest = uri.substr(prefix.size());
      break;
    }
  }
  if (transport.empty()) {
    return Status::InvalidArgument("expected " +
                                   std::string(scheme) + "+https://");
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (authority.empty()) {
    return Status::InvalidArgument("missing host");
  }
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(
        "credentials do not belong in the URI (use a token "
                   "file or environment variable)");
  }
  for (char c : authority) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '-' || c == ':' ||
              c == '[' || c == ']';
    if (!ok) {
      return Status::InvalidArgument("bad character in host");
    }
  }
  RestUri out;
  out.base = transport + "://" + std::string(authority);
  if (slash != std::string_view::npos) {
    out.path = std::string(rest.substr(slash + 1));
  }
  if (out.path.find_first_of("?#") != std::string::npos) {
    return Status::InvalidArgument("no query or fragment allowed");
  }
  return out;
}

Result<SecureBuffer> LoadToken(const KmsOptions& options,
                               std::string_view default_env,
                               std::string_view who) {
  if (!options.token_file.empty()) {
    Result<SecureBuffer> t = ReadTokenFile(options.token_file);
    if (!t.ok()) return t.status().WithContext(std::string(who) + ": token");
    return t;
  }
  std::string env =
      options.token_env.empty() ? std::string(default_env) : options.token_env;
  const char* v = std::getenv(env.c_str());
  if (v == nullptr || *v == '\0') {
    return Status::InvalidArgument(std::string(who) +
                                   ": no token: give a token file or set $" +
                                   env);
  }
  return CleanToken({reinterpret_cast<const uint8_t*>(v), std::strlen(v)},
                    "$" + env);
}

Result<SecureBuffer> SecretHeader(std::string_view prefix,
                                  const SecureBuffer& token) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer h,
                          SecureBuffer::Create(prefix.size() + token.size()));
  std::memcpy(h.data(), prefix.data(), prefix.size());
  std::memcpy(h.data() + prefix.size(), token.data(), token.size());
  return h;
}

Result<nlohmann::json> ParseJson(std::string_view body, std::string_view what) {
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr,
                                           /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::Corruption(std::string(what) + ": response is not JSON");
  }
  return j;
}

const nlohmann::json* JsonField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  if (it == j.end()) return nullptr;
  return &*it;
}

const std::string* JsonString(const nlohmann::json& j, const char* key) {
  const nlohmann::json* f = JsonField(j, key);
  if (f == nullptr || !f->is_string()) return nullptr;
  return f->get_ptr<const std::string*>();
}

void WipeJson(nlohmann::json& root) {
  // Iterative: a hostile, deeply nested answer must not overflow the stack.
  std::vector<nlohmann::json*> todo = {&root};
  while (!todo.empty()) {
    nlohmann::json* j = todo.back();
    todo.pop_back();
    if (j->is_string()) {
      std::string* s = j->get_ptr<std::string*>();
      if (!s->empty()) sodium_memzero(s->data(), s->size());
    } else if (j->is_structured()) {
      for (auto& v : *j) todo.push_back(&v);
    }
  }
}

std::string CleanServerText(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 200)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return out;
}

}  // namespace luksfs::kms
