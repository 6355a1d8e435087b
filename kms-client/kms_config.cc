#include "kms-client/kms_config.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "kms-client/kmip_client.h"

namespace luksfs::kms {
namespace {

constexpr size_t kMaxConfigBytes = 1 << 20;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ValidName(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

// The line without surrounding blanks and a trailing comment (whitespace,
// then '#').
std::string_view StripComment(std::string_view line) {
  line = Trim(line);
  for (size_t i = 1; i < line.size(); ++i) {
    if (line[i] == '#' && (line[i - 1] == ' ' || line[i - 1] == '\t')) {
      return Trim(line.substr(0, i));
    }
  }
  return line;
}

// "[cluster NAME]" -> NAME, or "" when the line is not a section header.
std::string SectionName(std::string_view line) {
  line = StripComment(line);
  if (line.size() < 2 || line.front() != '[' || line.back() != ']') return "";
  std::string_view in = Trim(line.substr(1, line.size() - 2));
  if (in.substr(0, 8) != "cluster ") return "";
  return std::string(Trim(in.substr(8)));
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const std::string& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

const KmsCluster* KmsClusterConfig::Find(std::string_view name) const {
  for (const KmsCluster& c : clusters) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Result<KmsClusterConfig> ParseKmsConfig(std::string_view text,
                                        const std::string& path) {
  KmsClusterConfig cfg;
  cfg.path = path;
  KmsCluster* cur = nullptr;
  int lineno = 0;
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument(path + ":" + std::to_string(lineno) + ": " +
                                   what);
  };
  std::istringstream in{std::string(text)};
  std::string raw;
  while (std::getline(in, raw)) {
    ++lineno;
    std::string_view line = StripComment(raw);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      const std::string name = SectionName(line);
      if (!ValidName(name)) {
        return bad("expected [cluster NAME] (NAME of letters, digits, . _ -)");
      }
      if (cfg.Find(name) != nullptr) return bad("cluster " + name + " twice");
      cfg.clusters.push_back(KmsCluster{});
      cur = &cfg.clusters.back();
      cur->name = name;
      continue;
    }
    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) return bad("expected KEY = VALUE");
    const std::string key(Trim(line.substr(0, eq)));
    const std::string value(Trim(line.substr(eq + 1)));
    if (cur == nullptr) return bad(key + " outside a [cluster NAME] section");
    if (value.empty()) return bad(key + " has no value");
    if (key == "driver") {
      if (value != "kmip" && value != "kp" && value != "vault") {
        return bad("driver must be kmip, kp or vault");
      }
      cur->driver = value;
    } else if (key == "server") {
      cur->servers.push_back(value);
    } else if (key == "scheme") {
      if (value != "https" && value != "http") {
        return bad("scheme must be https or http");
      }
      cur->scheme = value;
    } else if (key == "mode") {
      if (value != "server" && value != "local") {
        return bad("mode must be server or local");
      }
      cur->mode = value;
    } else if (key == "fingerprint") {
      cur->fingerprints.push_back(value);
    } else if (key == "ca") {
      cur->ca_file = value;
    } else if (key == "client-cert") {
      cur->client_cert_file = value;
    } else if (key == "client-key") {
      cur->client_key_file = value;
    } else if (key == "username") {
      cur->username = value;
    } else if (key == "password-file") {
      cur->password_file = value;
    } else if (key == "token-file") {
      cur->token_file = value;
    } else if (key == "api-key-file") {
      cur->api_key_file = value;
    } else if (key == "iam-endpoint") {
      cur->iam_endpoint = value;
    } else if (key == "instance") {
      cur->instance_id = value;
    } else {
      return bad("unknown setting '" + key + "'");
    }
  }
  return cfg;
}

Result<KmsClusterConfig> LoadKmsConfig(const std::string& path_in) {
  const std::string path = path_in.empty() ? kDefaultKmsConfig : path_in;
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    return Status::InvalidArgument("KMS configuration " + path + ": " +
                                   std::strerror(errno));
  }
  std::string text;
  char buf[4096];
  while (f.read(buf, sizeof buf) || f.gcount() > 0) {
    text.append(buf, static_cast<size_t>(f.gcount()));
    if (text.size() > kMaxConfigBytes) {
      return Status::InvalidArgument("KMS configuration " + path +
                                     ": larger than 1 MiB");
    }
  }
  return ParseKmsConfig(text, path);
}

bool IsClusterUri(std::string_view uri) {
  return uri.substr(0, 12) == "kms-cluster:" ||
         uri.substr(0, 13) == "kmip-cluster:";
}

Result<ClusterKey> ParseClusterUri(std::string_view uri) {
  const size_t colon = uri.find(':');
  if (!IsClusterUri(uri) || colon == std::string_view::npos) {
    return Status::InvalidArgument("not a kms-cluster: URI");
  }
  std::string_view rest = uri.substr(colon + 1);
  const size_t slash = rest.find('/');
  ClusterKey ck;
  ck.cluster = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) ck.key = std::string(rest.substr(slash + 1));
  if (!ValidName(ck.cluster)) {
    return Status::InvalidArgument("KMS URI " + std::string(uri) +
                                   ": bad cluster name (want "
                                   "kms-cluster:NAME/KEY-ID)");
  }
  return ck;
}

std::string ClusterUri(std::string_view cluster, std::string_view key) {
  return "kms-cluster:" + std::string(cluster) + "/" + std::string(key);
}

Result<std::string> ClusterDriverUri(const KmsCluster& c, std::string_view key) {
  if (c.servers.empty()) {
    return Status::InvalidArgument("KMS cluster " + c.name + " has no server");
  }
  if (c.driver == "kmip") {
    std::string base = "kmip://" + Join(c.servers, ",") + "/";
    if (!c.mode.empty()) base += "?mode=" + c.mode;
    Result<KmipUri> parsed = ParseKmipUri(base);
    if (!parsed.ok()) {
      return parsed.status().WithContext("KMS cluster " + c.name);
    }
    return parsed->WithKey(key);
  }
  const std::string scheme = (c.driver == "kp" ? "kp+" : "vault+") + c.scheme;
  return scheme + "://" + c.servers[0] + "/" + std::string(key);
}

Result<std::string> ClusterKeyOf(const KmsCluster& c, std::string_view uri) {
  if (c.driver == "kmip") {
    LUKSFS_ASSIGN_OR_RETURN(KmipUri parsed, ParseKmipUri(uri));
    return parsed.key_id;
  }
  LUKSFS_ASSIGN_OR_RETURN(std::string base, ClusterDriverUri(c, ""));
  if (uri.substr(0, base.size()) != base) {
    return Status::InvalidArgument("URI " + std::string(uri) +
                                   " is not in KMS cluster " + c.name);
  }
  return std::string(uri.substr(base.size()));
}

KmsOptions MergeClusterOptions(const KmsCluster& c, const KmsOptions& given) {
  KmsOptions o = given;
  auto fill = [](std::string& field, const std::string& value) {
    if (field.empty()) field = value;
  };
  fill(o.ca_file, c.ca_file);
  fill(o.fingerprint, Join(c.fingerprints, ","));
  if (o.client_cert_file.empty() && o.client_key_file.empty()) {
    o.client_cert_file = c.client_cert_file;
    o.client_key_file = c.client_key_file;
  }
  fill(o.username, c.username);
  fill(o.password_file, c.password_file);
  fill(o.token_file, c.token_file);
  fill(o.api_key_file, c.api_key_file);
  fill(o.iam_endpoint, c.iam_endpoint);
  fill(o.instance_id, c.instance_id);
  return o;
}

std::string WithPinnedFingerprints(std::string_view text,
                                   const KmsCluster& created,
                                   const std::vector<std::string>& fingerprints,
                                   const std::vector<std::string>& comments) {
  std::string pins;
  for (size_t i = 0; i < fingerprints.size(); ++i) {
    if (i < comments.size() && !comments[i].empty()) {
      pins += "# " + comments[i] + "\n";
    }
    pins += "fingerprint = " + fingerprints[i] + "\n";
  }
  std::istringstream in{std::string(text)};
  std::string raw, out;
  bool inside = false, found = false;
  std::string pending_comment;  // a "# " line just before a fingerprint
  while (std::getline(in, raw)) {
    std::string_view line = Trim(raw);
    if (!line.empty() && line.front() == '[') {
      if (inside) {  // end of our section: the pins go before its blank lines
        size_t blank = 0;
        while (out.size() > blank + 1 && out[out.size() - 1 - blank] == '\n' &&
               out[out.size() - 2 - blank] == '\n') {
          ++blank;
        }
        out.resize(out.size() - blank);
        out += pins + std::string(blank, '\n');
      }
      inside = SectionName(line) == created.name;
      found = found || inside;
      out += raw + "\n";
      continue;
    }
    if (inside) {
      const size_t eq = line.find('=');
      if (eq != std::string_view::npos && Trim(line.substr(0, eq)) == "fingerprint") {
        continue;  // replaced
      }
      if (line.substr(0, 2) == "# " &&
          (line.find("SHA1 Fingerprint=") != std::string_view::npos ||
           line.find("pinned by luksfs kms trust") != std::string_view::npos)) {
        continue;  // our own comment of a replaced pin
      }
    }
    out += raw + "\n";
  }
  if (inside) out += pins;
  if (!found) {
    if (!out.empty() && out.back() != '\n') out += "\n";
    if (!out.empty()) out += "\n";
    out += "[cluster " + created.name + "]\n";
    out += "driver = " + created.driver + "\n";
    for (const std::string& s : created.servers) out += "server = " + s + "\n";
    if (created.driver != "kmip" && created.scheme != "https") {
      out += "scheme = " + created.scheme + "\n";
    }
    out += pins;
  }
  return out;
}

}  // namespace luksfs::kms
