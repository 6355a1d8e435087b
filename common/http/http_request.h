// What one HTTP exchange is made of, for the transport
// (common/http/http_transport.h): the request a caller describes and the
// response it gets back. Plain data; see HttpTransport for the rules.
//
// Ownership: everything a Request points to (secret_header, body, the
// callbacks' captures) is borrowed and must outlive the Send call.
// Thread-safety: plain values; a Request is used by one Send at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/secure_buffer.h"

typedef struct x509_st X509;

namespace luksfs::http {

// Default bound of Response::body, bytes.
inline constexpr size_t kDefaultMaxBody = size_t(1) << 20;
// Response headers kept: at most this many, each value at most this long
// (longer ones are dropped, not truncated).
inline constexpr size_t kMaxResponseHeaders = 100;
inline constexpr size_t kMaxHeaderValueBytes = 8192;

// What a body writer did with a chunk of the response body.
enum class SinkVerdict {
  kTaken,  // consumed by the writer
  kKeep,   // not the writer's: append it to Response::body (bounded)
  kAbort,  // refuse the transfer: Send fails (kIOError EIO)
};

struct TlsOptions {
  std::string ca_file;  // PEM bundle; "" = the system CAs
  // Optional check of the server's leaf certificate (a pin). When set it
  // REPLACES CA and host-name verification and TLS session reuse is off.
  // Return Ok to accept; an error's message becomes a kPermissionDenied
  // "WHAT: TLS: MESSAGE". Called on the sending thread, during the handshake
  // (renegotiation is refused). libcurl does not tell two checks apart when
  // it reuses a connection: give one HttpTransport one leaf_check.
  std::function<Status(X509* leaf)> leaf_check;
};

struct Timeouts {
  long connect_ms = 10000;         // TCP + TLS connect, milliseconds, > 0
  long total_ms = 0;               // whole attempt, milliseconds; 0 = none
  long stall_s = 0;                // abort an attempt slower than
  long stall_bytes_per_s = 1024;   //   stall_bytes_per_s for stall_s; 0 = off
};

struct Request {
  std::string method = "GET";  // GET HEAD PUT POST DELETE (others verbatim)
  std::string url;             // http:// or https:// only
  // Prefix of every error message; "" means "METHOD URL". Never a secret.
  std::string what;
  std::vector<std::string> headers;  // "Name: value" lines, no secrets
  // One more header line that carries a credential ("Authorization: ...").
  // Borrowed; the transport's copies of it are wiped after each attempt.
  const SecureBuffer* secret_header = nullptr;

  // Body source, for PUT and POST: borrowed bytes, or a positional reader
  // that fills dst from byte `offset` of a body of body_size bytes and
  // returns the count (0 only at the end; SIZE_MAX aborts the attempt).
  // A retry reads again from offset 0.
  std::span<const uint8_t> body;
  std::function<size_t(uint64_t offset, std::span<uint8_t> dst)> body_reader;
  uint64_t body_size = 0;  // with body_reader

  // Body sink: chunks go to body_writer when set (with the status of the
  // response they belong to), else to Response::body.
  std::function<SinkVerdict(long status, std::span<const uint8_t> chunk)>
      body_writer;
  size_t max_body = kDefaultMaxBody;  // bound of Response::body, bytes
  // Over max_body: keep the first max_body bytes (true) or fail the
  // attempt with kCorruption (false).
  bool truncate_body = false;

  TlsOptions tls;
  Timeouts timeouts;
  long receive_buffer_bytes = 0;  // libcurl's receive buffer; 0 = default
};

struct Response {
  long status = 0;   // HTTP status code of the final response
  std::string body;  // what body_writer did not take, at most max_body
  // Headers of the final response (after any 100 Continue): names in
  // lower case, values without surrounding blanks, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;

  // The first header named `lower_name`, or nullopt.
  std::optional<std::string_view> Header(std::string_view lower_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_name) return std::string_view(v);
    }
    return std::nullopt;
  }
};

}  // namespace luksfs::http
