#include "fs/cli/cmd_kms_cluster.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/atomic_file.h"
#include "common/unique_fd.h"
#include "fs/cli/image.h"
#include "kms-client/cert_info.h"
#include "kms-client/kmip_client.h"
#include "kms-client/kms_config.h"
#include "kms-client/tls_connection.h"

namespace luksfs::cli {
namespace {

constexpr uint16_t kHttpsPort = 443;

// "host", "host:port", "[v6]:port". Errors: kInvalidArgument.
Result<kms::Endpoint> ParseHostPort(std::string_view s, uint16_t default_port) {
  kms::Endpoint ep;
  ep.port = default_port;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("bad server address '" + std::string(s) + "'");
    }
    ep.host = std::string(s.substr(1, close - 1));
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') {
        return Status::InvalidArgument("bad server address '" + std::string(s) + "'");
      }
      port = s.substr(close + 2);
    }
  } else {
    const size_t colon = s.rfind(':');
    ep.host = std::string(s.substr(0, colon));
    if (colon != std::string_view::npos) port = s.substr(colon + 1);
  }
  if (!port.empty()) {
    unsigned long v = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || v > 65535) {
        return Status::InvalidArgument("bad port in '" + std::string(s) + "'");
      }
      v = v * 10 + static_cast<unsigned long>(c - '0');
    }
    if (v == 0 || v > 65535) {
      return Status::InvalidArgument("bad port in '" + std::string(s) + "'");
    }
    ep.port = static_cast<uint16_t>(v);
  }
  if (ep.host.empty()) {
    return Status::InvalidArgument("no host in '" + std::string(s) + "'");
  }
  return ep;
}

// What `kms trust` and `kms clusters` need to know about a target.
struct Target {
  kms::KmsCluster cluster;  // name empty for a literal URI
  std::vector<kms::Endpoint> endpoints;
  kms::KmsOptions options;  // with the cluster's settings merged in
};

Result<std::vector<kms::Endpoint>> ClusterEndpoints(const kms::KmsCluster& c) {
  std::vector<kms::Endpoint> eps;
  const uint16_t def = c.driver == "kmip" ? kms::kKmipDefaultPort
                       : c.scheme == "http" ? 80
                                            : kHttpsPort;
  for (const std::string& s : c.servers) {
    LUKSFS_ASSIGN_OR_RETURN(kms::Endpoint ep, ParseHostPort(s, def));
    eps.push_back(std::move(ep));
  }
  if (eps.empty()) {
    return Status::InvalidArgument("KMS cluster " + c.name + " has no server");
  }
  return eps;
}

Result<Target> ResolveTarget(const std::string& uri,
                             const kms::KmsOptions& given) {
  Target t;
  t.options = given;
  if (kms::IsClusterUri(uri)) {
    LUKSFS_ASSIGN_OR_RETURN(kms::ClusterKey ck, kms::ParseClusterUri(uri));
    LUKSFS_ASSIGN_OR_RETURN(kms::KmsClusterConfig cfg,
                            kms::LoadKmsConfig(given.kms_config));
    const kms::KmsCluster* c = cfg.Find(ck.cluster);
    if (c == nullptr) {
      return Status::InvalidArgument("KMS cluster '" + ck.cluster +
                                     "' is not in " + cfg.path);
    }
    t.cluster = *c;
    t.options = kms::MergeClusterOptions(*c, given);
    LUKSFS_ASSIGN_OR_RETURN(t.endpoints, ClusterEndpoints(*c));
    return t;
  }
  if (uri.rfind("kmip://", 0) == 0) {
    LUKSFS_ASSIGN_OR_RETURN(kms::KmipUri parsed, kms::ParseKmipUri(uri));
    t.cluster.driver = "kmip";
    t.endpoints = parsed.endpoints;
    for (const kms::Endpoint& ep : t.endpoints) {
      t.cluster.servers.push_back(ep.ToString());
    }
    return t;
  }
  for (const char* driver : {"kp", "vault"}) {
    for (const char* scheme : {"https", "http"}) {
      const std::string prefix = std::string(driver) + "+" + scheme + "://";
      if (uri.rfind(prefix, 0) != 0) continue;
      std::string_view rest = std::string_view(uri).substr(prefix.size());
      rest = rest.substr(0, rest.find('/'));
      LUKSFS_ASSIGN_OR_RETURN(
          kms::Endpoint ep,
          ParseHostPort(rest, std::string(scheme) == "http" ? 80 : kHttpsPort));
      t.cluster.driver = driver;
      t.cluster.scheme = scheme;
      t.cluster.servers.push_back(std::string(rest));
      t.endpoints.push_back(std::move(ep));
      return t;
    }
  }
  return Status::InvalidArgument(
      "kms trust: " + uri +
      ": want kmip://, kp+https://, vault+https:// or kms-cluster:NAME");
}

Result<std::unique_ptr<kms::TlsClient>> MakeTls(const Target& t, bool trust) {
  kms::TlsOptions o;
  if (t.cluster.driver == "kmip") {
    o.client_cert_file = t.options.client_cert_file;
    o.client_key_file = t.options.client_key_file;
  }
  o.timeout_ms = t.options.timeout_ms;
  if (trust) {
    o.ca_file = t.options.ca_file;
    if (!t.options.fingerprint.empty()) {
      LUKSFS_ASSIGN_OR_RETURN(o.pins,
                              kms::ParseFingerprints(t.options.fingerprint));
    }
  }
  return kms::TlsClient::Create(o);
}

// A TCP connection to `ep` within `timeout_ms` (plain-http REST clusters).
Status TcpReachable(const kms::Endpoint& ep, int timeout_ms) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(ep.port);
  if (getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res) != 0) {
    return Status::Unavailable(ep.ToString() + ": cannot resolve");
  }
  Status out = Status::Unavailable(ep.ToString() + ": connection refused");
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    UniqueFd sock(socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         a->ai_protocol));
    const int fd = sock.get();
    if (fd < 0) continue;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = poll(&p, 1, timeout_ms) == 1 ? 0 : -1;
      int err = 0;
      socklen_t len = sizeof err;
      if (rc == 0 && (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err)) {
        rc = -1;
        errno = err;
      }
    }
    const int err = errno;
    sock.reset();
    if (rc == 0) {
      out = Status();
      break;
    }
    out = Status::Unavailable(ep.ToString() + ": " + std::strerror(err));
  }
  freeaddrinfo(res);
  return out;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

int RunKmsTrust(const Command& cmd) {
  auto target = ResolveTarget(cmd.kms.uri, cmd.kms.options);
  if (!target.ok()) return Report({kExitUsage, target.status().message()});
  std::string cluster = target->cluster.name;
  if (cmd.kms.save && cluster.empty()) {
    cluster = cmd.kms.cluster;
    if (cluster.empty()) {
      return Report({kExitUsage,
                     "kms trust --save of a literal URI needs --cluster NAME"});
    }
  }
  auto tls = MakeTls(*target, /*trust=*/false);
  if (!tls.ok()) return Report({kExitUsage, tls.status().message()});
  std::vector<std::string> pins, comments;
  for (const kms::Endpoint& ep : target->endpoints) {
    auto der = (*tls)->FetchCertificate(ep);
    if (!der.ok()) return Report(KmsError("KMS server " + ep.ToString(), der.status()));
    auto info = kms::DescribeCertificateDer(*der);
    if (!info.ok()) return Report(KmsError("KMS server " + ep.ToString(), info.status()));
    std::cout << "KMS server " << ep.ToString() << "\n"
              << "  subject: " << info->subject << "\n"
              << "  issuer:  " << info->issuer << "\n"
              << "  valid:   " << info->not_before << " to " << info->not_after
              << "\n"
              << "  " << kms::FingerprintLine(info->sha1) << "\n"
              << "  " << kms::FingerprintLine(info->sha256) << "\n";
    pins.push_back(kms::FingerprintLine(info->sha256));
    comments.push_back("pinned by luksfs kms trust: " + ep.ToString() + ", " +
                       info->subject + ", until " + info->not_after + ", " +
                       kms::FingerprintLine(info->sha1));
  }
  if (!cmd.kms.save) return kExitOk;
  const std::string path = cmd.kms.options.kms_config.empty()
                               ? std::string(kms::kDefaultKmsConfig)
                               : cmd.kms.options.kms_config;
  const std::string old_text = ReadText(path);
  kms::KmsCluster created = target->cluster;
  created.name = cluster;
  const std::string text =
      kms::WithPinnedFingerprints(old_text, created, pins, comments);
  // Never write a file that would not load back.
  auto check = kms::ParseKmsConfig(text, path);
  if (!check.ok()) return Report({kExitUsage, check.status().message()});
  // 0644: the file names credential files but holds no secret.
  Status s = WriteFileAtomic(path, text, 0644);
  if (!s.ok()) return Report({kExitStorage, s.message()});
  std::cout << "pinned " << pins.size() << " certificate(s) into " << path
            << " [cluster " << cluster << "]\n";
  return kExitOk;
}

int RunKmsClusters(const Command& cmd) {
  auto cfg = kms::LoadKmsConfig(cmd.kms.options.kms_config);
  if (!cfg.ok()) return Report({kExitUsage, cfg.status().message()});
  size_t total = 0, down = 0;
  for (const kms::KmsCluster& c : cfg->clusters) {
    std::cout << "cluster " << c.name << " (" << c.driver << ", "
              << c.servers.size() << " server(s)"
              << (c.fingerprints.empty() ? "" : ", pinned") << ")\n";
    Target t;
    t.cluster = c;
    t.options = kms::MergeClusterOptions(c, cmd.kms.options);
    auto eps = ClusterEndpoints(c);
    if (!eps.ok()) {
      std::cout << "  " << eps.status().message() << "\n";
      ++down;
      continue;
    }
    auto tls = MakeTls(t, /*trust=*/true);
    for (const kms::Endpoint& ep : *eps) {
      ++total;
      Status s;
      if (c.driver != "kmip" && c.scheme == "http") {
        s = TcpReachable(ep, t.options.timeout_ms);
      } else if (!tls.ok()) {
        s = tls.status();
      } else {
        auto conn = (*tls)->Connect({ep});
        s = conn.ok() ? Status() : conn.status();
      }
      if (!s.ok()) ++down;
      std::cout << "  " << ep.ToString() << ": "
                << (s.ok() ? (c.driver != "kmip" && c.scheme == "http"
                                  ? "reachable"
                                  : "reachable, TLS trusted")
                           : "UNREACHABLE: " + s.message())
                << "\n";
    }
  }
  if (cfg->clusters.empty()) std::cout << "no clusters in " << cfg->path << "\n";
  if (down > 0) {
    return Report(KmsError(cfg->path, Status::Unavailable(
        std::to_string(down) + " of " + std::to_string(total) +
        " KMS server(s) unreachable")));
  }
  return kExitOk;
}

}  // namespace luksfs::cli
