#include "kms-client/tls_connection.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "kms-client/cert_info.h"
#include "common/hex.h"

namespace luksfs::kms {
namespace {

using Clock = std::chrono::steady_clock;

int MillisLeft(Deadline deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                  deadline - Clock::now())
                  .count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

// Waits until fd is readable (want_read) or writable. Errors: kUnavailable.
Status WaitFd(int fd, bool want_read, Deadline deadline, const Endpoint& ep) {
  for (;;) {
    const int ms = MillisLeft(deadline);
    if (ms == 0) {
      return Status::Unavailable("KMIP server " + ep.ToString() +
                                 ": timed out");
    }
    pollfd p{fd, static_cast<short>(want_read ? POLLIN : POLLOUT), 0};
    const int rc = ::poll(&p, 1, ms);
    if (rc > 0) return Status();
    if (rc < 0 && errno != EINTR) {
      return Status::Unavailable("KMIP server " + ep.ToString() +
                                 ": poll: " + std::strerror(errno));
    }
  }
}

// Blocks SIGPIPE in this thread for its lifetime, and swallows a SIGPIPE
// that a write to a closed socket raised meanwhile.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_);
  }
  ~SigpipeGuard() {
    if (!was_pending_) {
      sigset_t pending;
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        sigset_t pipe_set;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        const timespec zero{0, 0};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
  bool was_pending_ = false;
};

// Drains OpenSSL's error queue into text; *alert is set when the peer sent
// a TLS alert.
std::string SslErrors(bool* alert) {
  std::string out;
  *alert = false;
  while (unsigned long e = ERR_get_error()) {
    if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
        ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET) {
      *alert = true;
    }
    const char* r = ERR_reason_error_string(e);
    if (!out.empty()) out += "; ";
    out += r != nullptr ? r : "unknown OpenSSL error";
  }
  return out;
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Status for a failed SSL_read/SSL_write/SSL_connect (not WANT_*).
Status IoFailure(SSL* ssl, int ret, const Endpoint& ep, const char* what) {
  const int err = SSL_get_error(ssl, ret);
  const int saved_errno = errno;
  bool alert = false;
  std::string detail = SslErrors(&alert);
  if (alert) {
    return Status::PermissionDenied(
        "KMIP server " + ep.ToString() + " refused the TLS session during " +
        what + " (" + detail +
        "): check that the client certificate is signed by a CA the server "
        "trusts and is allowed to connect");
  }
  if (err == SSL_ERROR_ZERO_RETURN ||
      (err == SSL_ERROR_SYSCALL && ret == 0 && detail.empty())) {
    return Status::Unavailable("KMIP server " + ep.ToString() +
                               " closed the connection during " + what);
  }
  if (err == SSL_ERROR_SYSCALL && detail.empty()) {
    detail = std::strerror(saved_errno);
  }
  return Status::Unavailable(
      "KMIP server " + ep.ToString() + ": TLS " + what +
      " failed: " + (detail.empty() ? "unknown error" : detail));
}

// Runs an SSL operation to completion in non-blocking mode.
template <typename Op>
Status DriveSsl(SSL* ssl, int fd, Deadline deadline, const Endpoint& ep,
                const char* what, Op op, int* result) {
  for (;;) {
    ERR_clear_error();
    errno = 0;
    const int ret = op();
    if (ret > 0) {
      *result = ret;
      return Status();
    }
    const int err = SSL_get_error(ssl, ret);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      LUKSFS_RETURN_IF_ERROR(
          WaitFd(fd, err == SSL_ERROR_WANT_READ, deadline, ep)
              .WithContext(std::string("TLS ") + what));
      continue;
    }
    return IoFailure(ssl, ret, ep, what);
  }
}

// Moves `size` bytes by op(done, chunk) (SSL_write or SSL_read at offset
// `done`, at most 1 MiB a call) under `deadline`.
template <typename Op>
Status Pump(SSL* ssl, int fd, Deadline deadline, const Endpoint& ep,
            const char* what, size_t size, Op op) {
  SigpipeGuard guard;
  size_t done = 0;
  while (done < size) {
    const int chunk = static_cast<int>(std::min<size_t>(size - done, 1 << 20));
    int n = 0;
    LUKSFS_RETURN_IF_ERROR(DriveSsl(
        ssl, fd, deadline, ep, what, [&] { return op(done, chunk); }, &n));
    done += static_cast<size_t>(n);
  }
  return Status();
}

Result<UniqueFd> TcpConnect(const Endpoint& ep, Deadline deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(ep.port);
  const int rc = getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0) {
    return Status::Unavailable("KMIP server " + ep.ToString() +
                               ": cannot resolve: " + gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);
  std::string last = "no address";
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    UniqueFd sock(
        ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                 ai->ai_protocol));
    const int fd = sock.get();
    if (fd < 0) {
      last = std::string("socket: ") + std::strerror(errno);
      continue;
    }
    int err = 0;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
      err = errno;
      if (err == EINPROGRESS) {
        Status s = WaitFd(fd, false, deadline, ep);
        if (!s.ok()) {
          return Status::Unavailable("KMIP server " + ep.ToString() +
                                     ": connect timed out");
        }
        socklen_t len = sizeof err;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err == 0) return sock;
    last = std::strerror(err);
  }
  return Status::Unavailable("KMIP server " + ep.ToString() +
                             ": connect: " + last);
}

}  // namespace

std::string Endpoint::ToString() const {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

Result<std::vector<uint8_t>> ParseFingerprint(std::string_view text) {
  // Trim, then take off "SHA1 Fingerprint=" / "sha256 Fingerprint=".
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text[0]))) {
    text.remove_prefix(1);
  }
  size_t want = 0;  // digest size the prefix names, 0 = any
  const size_t eq = text.find('=');
  if (eq != std::string_view::npos) {
    std::string algo;
    for (char c : text.substr(0, eq)) {
      if (c == ' ') break;
      algo += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    std::string rest(text.substr(algo.size(), eq - algo.size()));
    for (char& c : rest) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (rest != " fingerprint" || (algo != "sha1" && algo != "sha256")) {
      return Status::InvalidArgument(
          "fingerprint: expected hex digits or \"SHA1 Fingerprint=...\" / "
          "\"sha256 Fingerprint=...\" as openssl x509 -fingerprint prints");
    }
    want = algo == "sha1" ? 20 : 32;
    text.remove_prefix(eq + 1);
  }
  std::vector<uint8_t> out;
  int half = -1;
  for (char c : text) {
    if (c == ':') continue;
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return Status::InvalidArgument(
          "fingerprint: not a hex SHA-1/SHA-256 digest (bad character)");
    }
    if (half < 0) {
      half = v;
    } else {
      out.push_back(static_cast<uint8_t>(half << 4 | v));
      half = -1;
    }
  }
  if (half >= 0 || (out.size() != 20 && out.size() != 32) ||
      (want != 0 && out.size() != want)) {
    return Status::InvalidArgument(
        "fingerprint: need 40 hex digits (SHA-1) or 64 (SHA-256) of the "
        "server certificate, colons optional");
  }
  return out;
}

Result<std::vector<std::vector<uint8_t>>> ParseFingerprints(
    std::string_view text) {
  std::vector<std::vector<uint8_t>> out;
  while (true) {
    const size_t comma = text.find(',');
    LUKSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> pin,
                            ParseFingerprint(text.substr(0, comma)));
    out.push_back(std::move(pin));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string FormatFingerprint(std::span<const uint8_t> digest) {
  return HexEncode(digest, HexCase::kUpper, ":");
}

TlsConnection::~TlsConnection() {
  SSL_free(ssl_);  // before fd_ closes
}

Status TlsConnection::WriteAll(std::span<const uint8_t> data,
                               Deadline deadline) {
  return Pump(ssl_, fd_.get(), deadline, endpoint_, "write", data.size(),
              [&](size_t done, int chunk) {
                return SSL_write(ssl_, data.data() + done, chunk);
              });
}

Status TlsConnection::ReadExact(std::span<uint8_t> out, Deadline deadline) {
  // (a read may send an alert or a renegotiation: Pump guards SIGPIPE)
  return Pump(ssl_, fd_.get(), deadline, endpoint_, "read", out.size(),
              [&](size_t done, int chunk) {
                return SSL_read(ssl_, out.data() + done, chunk);
              });
}

Result<std::unique_ptr<TlsClient>> TlsClient::Create(
    const TlsOptions& options) {
  SSL_CTX* raw = SSL_CTX_new(TLS_client_method());
  if (raw == nullptr) return Status::Internal("SSL_CTX_new failed");
  std::unique_ptr<TlsClient> client(new TlsClient(raw, options));
  SSL_CTX* ctx = client->ctx_;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
  // Decrypted records carry unwrapped passphrases (and, in local mode, the
  // root key): have OpenSSL wipe them once read.
  SSL_CTX_set_options(ctx, SSL_OP_CLEANSE_PLAINTEXT);
  bool alert = false;
  if (!options.client_cert_file.empty()) {
    const std::string& key_file = options.client_key_file.empty()
                                      ? options.client_cert_file
                                      : options.client_key_file;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(
            ctx, options.client_cert_file.c_str()) != 1) {
      return Status::InvalidArgument(
          "KMIP client certificate " + options.client_cert_file +
          ": cannot load (" + SslErrors(&alert) + ")");
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) !=
        1) {
      return Status::InvalidArgument("KMIP client key " + key_file +
                                     ": cannot load (" + SslErrors(&alert) +
                                     ")");
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
      return Status::InvalidArgument("KMIP client key " + key_file +
                                     " does not match certificate " +
                                     options.client_cert_file);
    }
  }
  if (!options.pins.empty()) {
    // Trust is the pin, checked after the handshake.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    ERR_clear_error();
    const int ok = options.ca_file.empty()
                       ? SSL_CTX_set_default_verify_paths(ctx)
                       : SSL_CTX_load_verify_locations(
                             ctx, options.ca_file.c_str(), nullptr);
    if (ok != 1) {
      return Status::InvalidArgument(
          "KMIP CA file " +
          (options.ca_file.empty() ? std::string("(system)")
                                   : options.ca_file) +
          ": cannot load (" + SslErrors(&alert) + ")");
    }
  }
  return client;
}

TlsClient::~TlsClient() { SSL_CTX_free(ctx_); }

Result<std::unique_ptr<TlsConnection>> TlsClient::Handshake(
    const Endpoint& ep, bool trust, Status* handshake) const {
  const Deadline deadline =
      Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
  LUKSFS_ASSIGN_OR_RETURN(UniqueFd sock, TcpConnect(ep, deadline));
  const int fd = sock.get();
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) return Status::Internal("SSL_new failed");
  // From here the connection object owns fd and ssl.
  std::unique_ptr<TlsConnection> conn(new TlsConnection(ep, std::move(sock), ssl));
  SSL_set_fd(ssl, fd);
  const bool ip = IsIpLiteral(ep.host);
  if (!ip) SSL_set_tlsext_host_name(ssl, ep.host.c_str());
  if (!trust) {
    SSL_set_verify(ssl, SSL_VERIFY_NONE, nullptr);  // shown, not trusted
  } else if (options_.pins.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    X509_VERIFY_PARAM_set_hostflags(param,
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, ep.host.c_str())
                      : X509_VERIFY_PARAM_set1_host(param, ep.host.c_str(), 0);
    if (ok != 1) return Status::Internal("cannot set TLS host check");
  }
  SigpipeGuard guard;
  int unused = 0;
  *handshake = DriveSsl(
      ssl, fd, deadline, ep, "handshake", [&] { return SSL_connect(ssl); },
      &unused);
  return conn;
}

Result<std::unique_ptr<TlsConnection>> TlsClient::ConnectOne(
    const Endpoint& ep) const {
  Status s;
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<TlsConnection> conn,
                          Handshake(ep, /*trust=*/true, &s));
  SSL* ssl = conn->ssl_;
  if (!s.ok()) {
    const long verify = SSL_get_verify_result(ssl);
    if (options_.pins.empty() && verify != X509_V_OK) {
      return Status::PermissionDenied(
          "KMIP server " + ep.ToString() + ": certificate not trusted (" +
          X509_verify_cert_error_string(verify) + "; CA file " +
          (options_.ca_file.empty() ? std::string("(system CAs)")
                                    : options_.ca_file) +
          ")");
    }
    return s;
  }
  if (!options_.pins.empty()) {
    X509* cert = SSL_get1_peer_certificate(ssl);
    if (cert == nullptr) {
      return Status::PermissionDenied("KMIP server " + ep.ToString() +
                                      " presented no certificate");
    }
    Result<bool> match = PinsMatch(cert, options_.pins);
    const std::string presented = PresentedFingerprints(cert);
    X509_free(cert);
    if (!match.ok()) return match.status();
    if (!*match) {
      return Status::PermissionDenied(
          "KMIP server " + ep.ToString() +
          ": certificate fingerprint mismatch: server presented " + presented +
          "; pinned " + FingerprintLines(options_.pins));
    }
  }
  return conn;
}

Result<std::vector<uint8_t>> TlsClient::FetchCertificate(
    const Endpoint& ep) const {
  Status s;
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<TlsConnection> conn,
                          Handshake(ep, /*trust=*/false, &s));
  X509* cert = SSL_get1_peer_certificate(conn->ssl_);
  if (cert == nullptr) {
    if (!s.ok()) return s;
    return Status::Unavailable("server " + ep.ToString() +
                               " presented no certificate");
  }
  const int n = i2d_X509(cert, nullptr);
  std::vector<uint8_t> der(n > 0 ? static_cast<size_t>(n) : 0);
  unsigned char* p = der.data();
  if (n <= 0 || i2d_X509(cert, &p) != n) der.clear();
  X509_free(cert);
  if (der.empty()) return Status::Internal("cannot encode the certificate");
  return der;
}

Result<std::unique_ptr<TlsConnection>> TlsClient::Connect(
    const std::vector<Endpoint>& endpoints) const {
  std::string errors;
  bool denied = false;
  for (const Endpoint& ep : endpoints) {
    Result<std::unique_ptr<TlsConnection>> conn = ConnectOne(ep);
    if (conn.ok()) return conn;
    const Status& s = conn.status();
    if (s.code() == Status::Code::kInvalidArgument ||
        s.code() == Status::Code::kInternal) {
      return s;  // local problem: another server will not help
    }
    denied |= s.code() == Status::Code::kPermissionDenied;
    if (!errors.empty()) errors += "; ";
    errors += s.message();
  }
  if (endpoints.empty()) return Status::InvalidArgument("no KMIP server");
  if (endpoints.size() > 1) {
    errors = "no KMIP server usable: " + errors;
  }
  return denied ? Status::PermissionDenied(errors)
                : Status::Unavailable(errors);
}

}  // namespace luksfs::kms
