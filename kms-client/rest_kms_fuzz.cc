// libFuzzer target: what a hostile or broken REST KMS server can send,
// parsed by the HTTP client (libcurl plus kms-client/http_client.cc's
// bounds) and by the Key Protect and Vault transit drivers (JSON replies:
// wrap, unwrap, key state, Vault's key read and error texts).
//
// A loopback server thread answers every request with the fuzz input,
// verbatim, as the raw HTTP response (status line, headers, body), then
// closes the connection. The first input byte picks the driver and the
// call; the rest is the response. Seeds are responses a real server gives.
// Checks: no crash, no sanitizer report, no hang (a 2 s request timeout).
//
// Build: make fuzz. Run: build/fuzz/rest_kms_fuzz CORPUS_DIR

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kms-client/key_protect.h"
#include "kms-client/kms.h"
#include "kms-client/vault_transit.h"

namespace {

// The canned response, shared with the server thread.
std::mutex g_mu;
std::string g_response;  // GUARDED_BY(g_mu)

void Serve(int listen_fd) {
  for (;;) {
    int c = accept(listen_fd, nullptr, nullptr);
    if (c < 0) continue;
    // Read the request up to the end of its headers and body (bounded; the
    // client's bodies are small), then answer and close.
    std::string req;
    char buf[4096];
    for (;;) {
      pollfd p = {c, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) break;
      ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) break;
      req.append(buf, size_t(n));
      size_t end = req.find("\r\n\r\n");
      if (end == std::string::npos) continue;
      size_t len = 0;
      size_t cl = req.find("Content-Length: ");
      if (cl != std::string::npos && cl < end) {
        len = std::strtoul(req.c_str() + cl + 16, nullptr, 10);
      }
      if (req.size() >= end + 4 + len || req.size() > (1 << 20)) break;
    }
    std::string resp;
    {
      std::lock_guard<std::mutex> l(g_mu);
      resp = g_response;
    }
    size_t off = 0;
    while (off < resp.size()) {
      ssize_t n = send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += size_t(n);
    }
    close(c);
  }
}

int StartServer() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) std::abort();
  sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      listen(fd, 16) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::abort();
  }
  std::thread(Serve, fd).detach();
  return ntohs(a.sin_port);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace luksfs;
  static const int port = StartServer();
  if (size < 1) return 0;
  {
    std::lock_guard<std::mutex> l(g_mu);
    g_response.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  }
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  kms::KmsOptions o;
  o.timeout_ms = 2000;
  o.instance_id = "fuzz-instance";
  o.token_env = "LUKSFS_FUZZ_TOKEN";
  setenv("LUKSFS_FUZZ_TOKEN", "fuzz-token", 1);
  const bool vault = data[0] & 1;
  Result<std::unique_ptr<kms::KmsClient>> client =
      vault ? kms::OpenVaultTransit("vault+" + base + "/transit/k", o)
            : kms::OpenKeyProtect("kp+" + base + "/k", o);
  if (!client.ok()) std::abort();
  kms::KmsClient& k = **client;
  static const uint8_t plain[32] = {1, 2, 3};
  static const std::string kp_blob = "AAAAAAAAAAAAAAAAAAAAAA==";
  static const std::string vault_blob = "vault:v1:AAAAAAAAAAAAAAAAAAAAAA==";
  const std::string& blob = vault ? vault_blob : kp_blob;
  switch ((data[0] >> 1) % 3) {
    case 0:
      (void)k.Wrap(plain);
      break;
    case 1:
      (void)k.Unwrap({reinterpret_cast<const uint8_t*>(blob.data()),
                      blob.size()});
      break;
    default:
      (void)k.State();
      break;
  }
  return 0;
}
