#include "fs/storage/s3_uri.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace luksfs::fs {

namespace {

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t' || s[b] == '\r')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
  return std::string(s.substr(b, e - b));
}

Result<S3Credentials> MakeCreds(const std::string& id, const std::string& secret,
                                const std::string& token) {
  S3Credentials c;
  c.access_key_id = id;
  auto s = SecureBuffer::CopyOf(
      {reinterpret_cast<const uint8_t*>(secret.data()), secret.size()});
  if (!s.ok()) return s.status();
  c.secret_key = std::move(s).value();
  if (!token.empty()) {
    auto t = SecureBuffer::CopyOf(
        {reinterpret_cast<const uint8_t*>(token.data()), token.size()});
    if (!t.ok()) return t.status();
    c.session_token = std::move(t).value();
  }
  return c;
}

// std::string copies of secrets are wiped before they go.
struct WipedString {
  std::string s;
  ~WipedString() { SecureWipe(s.data(), s.size()); }
};

}  // namespace

bool IsS3Uri(std::string_view image) { return image.rfind("s3://", 0) == 0; }

Result<S3Location> ParseS3Uri(std::string_view uri) {
  if (!IsS3Uri(uri)) return Status::InvalidArgument("not an s3:// URI");
  std::string_view rest = uri.substr(5);
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 >= rest.size()) {
    return Status::InvalidArgument("s3 URI needs s3://BUCKET/KEY");
  }
  S3Location loc{std::string(rest.substr(0, slash)),
                 std::string(rest.substr(slash + 1))};
  if (loc.bucket.size() < 3 || loc.bucket.size() > 63) {
    return Status::InvalidArgument("s3 bucket name must be 3..63 characters");
  }
  for (char c : loc.bucket) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
          c == '_')) {
      return Status::InvalidArgument("s3 bucket name has a bad character");
    }
  }
  if (loc.key.size() > 1024) {
    return Status::InvalidArgument("s3 key is longer than 1024 bytes");
  }
  for (unsigned char c : loc.key) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("s3 key has a control character");
    }
  }
  return loc;
}

EnvFn ProcessEnv() {
  return [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

Result<S3Credentials> ParseCredentialsFile(std::string_view text,
                                           std::string_view profile) {
  if (text.size() > (1 << 20)) {
    return Status::InvalidArgument("credentials file is larger than 1 MiB");
  }
  std::string section;
  WipedString id, secret, token;
  bool found = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string line = Trim(text.substr(pos, nl - pos));
    pos = nl + 1;
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = Trim(std::string_view(line).substr(1, line.size() - 2));
      if (section.rfind("profile ", 0) == 0) section = Trim(section.substr(8));
      if (section == profile) found = true;
      continue;
    }
    if (section != profile) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = Trim(std::string_view(line).substr(0, eq));
    std::string v = Trim(std::string_view(line).substr(eq + 1));
    if (k == "aws_access_key_id") id.s = v;
    else if (k == "aws_secret_access_key") secret.s = v;
    else if (k == "aws_session_token") token.s = v;
    SecureWipe(v.data(), v.size());
  }
  if (!found) {
    return Status::NotFound("no profile [" + std::string(profile) +
                            "] in the AWS credentials file");
  }
  if (id.s.empty() || secret.s.empty()) {
    return Status::NotFound("profile [" + std::string(profile) +
                            "] lacks aws_access_key_id or aws_secret_access_key");
  }
  return MakeCreds(id.s, secret.s, token.s);
}

Result<S3Credentials> LoadS3Credentials(const EnvFn& env) {
  auto id = env("AWS_ACCESS_KEY_ID");
  auto secret = env("AWS_SECRET_ACCESS_KEY");
  if (id && secret) {
    WipedString s{*secret}, t{env("AWS_SESSION_TOKEN").value_or("")};
    SecureWipe(secret->data(), secret->size());
    return MakeCreds(*id, s.s, t.s);
  }
  if (secret) SecureWipe(secret->data(), secret->size());
  std::string path;
  if (auto f = env("AWS_SHARED_CREDENTIALS_FILE")) {
    path = *f;
  } else if (auto home = env("HOME")) {
    path = *home + "/.aws/credentials";
  } else {
    return Status::NotFound(
        "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
        "or AWS_PROFILE with ~/.aws/credentials");
  }
  const std::string profile = env("AWS_PROFILE").value_or("default");
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) {
      return Status::NotFound(
          "no S3 credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY unset "
          "and " + path + " does not exist");
    }
    return PosixError(path, err);
  }
  WipedString text;
  std::ostringstream ss;
  ss << in.rdbuf();
  text.s = ss.str();
  auto c = ParseCredentialsFile(text.s, profile);
  if (!c.ok()) return c.status().WithContext(path);
  return c;
}

std::string ResolveRegion(const S3Options& opts, const EnvFn& env) {
  if (!opts.region.empty()) return opts.region;
  if (auto r = env("AWS_REGION")) return *r;
  if (auto r = env("AWS_DEFAULT_REGION")) return *r;
  return "us-east-1";
}

Result<S3Endpoint> ResolveEndpoint(const S3Options& opts,
                                   const std::string& region,
                                   const std::string& bucket) {
  S3Endpoint ep;
  std::string host;
  if (opts.endpoint.empty()) {
    ep.scheme = "https";
    host = "s3." + region + ".amazonaws.com";
  } else {
    const std::string& e = opts.endpoint;
    const size_t sep = e.find("://");
    if (sep == std::string::npos) {
      return Status::InvalidArgument("--s3-endpoint must be http(s)://HOST[:PORT]");
    }
    ep.scheme = e.substr(0, sep);
    if (ep.scheme != "http" && ep.scheme != "https") {
      return Status::InvalidArgument("--s3-endpoint scheme must be http or https");
    }
    host = e.substr(sep + 3);
    while (!host.empty() && host.back() == '/') host.pop_back();
    if (host.empty() || host.find_first_of("/?#@ ") != std::string::npos) {
      return Status::InvalidArgument(
          "--s3-endpoint must be http(s)://HOST[:PORT] with no path or user");
    }
  }
  switch (opts.addressing) {
    case S3Addressing::kPathStyle: ep.virtual_host = false; break;
    case S3Addressing::kVirtualHost: ep.virtual_host = true; break;
    case S3Addressing::kAuto:
      // AWS: virtual-host unless the bucket has dots (TLS name mismatch).
      ep.virtual_host = opts.endpoint.empty() &&
                        bucket.find('.') == std::string::npos;
      break;
  }
  ep.host = ep.virtual_host ? bucket + "." + host : host;
  return ep;
}

}  // namespace luksfs::fs
