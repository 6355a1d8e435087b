#include "common/http/http_transport.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "common/http/response_headers.h"
#include "common/secure_buffer.h"

namespace luksfs::http {

namespace {

// A curl_slist freed on scope exit; the entry at `secret_index` is wiped
// first (libcurl keeps its own strdup'ed copy of every line).
class HeaderList {
 public:
  HeaderList() = default;
  HeaderList(const HeaderList&) = delete;
  HeaderList& operator=(const HeaderList&) = delete;
  ~HeaderList() {
    int i = 0;
    for (curl_slist* n = list_; n != nullptr; n = n->next, ++i) {
      if (i == secret_index_) SecureWipe(n->data, std::strlen(n->data));
    }
    curl_slist_free_all(list_);
  }
  bool Append(const char* line) {
    curl_slist* l = curl_slist_append(list_, line);
    if (l == nullptr) return false;
    list_ = l;
    ++count_;
    return true;
  }
  void MarkLastSecret() { secret_index_ = count_ - 1; }
  curl_slist* get() const { return list_; }

 private:
  curl_slist* list_ = nullptr;
  int count_ = 0;
  int secret_index_ = -1;
};

// The state of one attempt, shared with libcurl's callbacks.
struct Attempt {
  const Request* req = nullptr;
  Response resp;
  long status = 0;  // of the response being received
  uint64_t upload_pos = 0;
  bool too_large = false;
  bool writer_abort = false;
  bool reader_abort = false;
  Status leaf_refused;  // set by the certificate callback
  char errbuf[CURL_ERROR_SIZE] = {};
};

size_t OnHeader(char* data, size_t size, size_t n, void* ud) {
  auto* a = static_cast<Attempt*>(ud);
  const size_t len = size * n;
  ParseResponseHeaderLine(std::string_view(data, len), &a->status,
                          &a->resp.headers);
  return len;
}

size_t OnBody(char* data, size_t size, size_t n, void* ud) {
  auto* a = static_cast<Attempt*>(ud);
  const Request& req = *a->req;
  const size_t len = size * n;
  if (req.body_writer) {
    switch (req.body_writer(
        a->status, {reinterpret_cast<const uint8_t*>(data), len})) {
      case SinkVerdict::kTaken:
        return len;
      case SinkVerdict::kAbort:
        a->writer_abort = true;
        return 0;  // aborts with CURLE_WRITE_ERROR
      case SinkVerdict::kKeep:
        break;
    }
  }
  std::string& body = a->resp.body;
  if (body.size() + len > req.max_body) {
    if (!req.truncate_body) {
      a->too_large = true;
      return 0;
    }
    body.append(data, req.max_body - body.size());
    return len;
  }
  body.append(data, len);
  return len;
}

size_t OnRead(char* buf, size_t size, size_t n, void* ud) {
  auto* a = static_cast<Attempt*>(ud);
  const Request& req = *a->req;
  const size_t room = size * n;
  if (req.body_reader) {
    const uint64_t left = req.body_size - std::min(a->upload_pos, req.body_size);
    const size_t want = size_t(std::min<uint64_t>(room, left));
    if (want == 0) return 0;
    const size_t got = req.body_reader(
        a->upload_pos, {reinterpret_cast<uint8_t*>(buf), want});
    if (got == SIZE_MAX || got > want) {
      a->reader_abort = true;
      return CURL_READFUNC_ABORT;
    }
    a->upload_pos += got;
    return got;
  }
  const size_t want =
      std::min<uint64_t>(room, req.body.size() - a->upload_pos);
  std::memcpy(buf, req.body.data() + a->upload_pos, want);
  a->upload_pos += want;
  return want;
}

int SslCtxIndex() {
  static int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

// With a leaf_check: the chain is accepted only if the leaf passes it. The
// handshake runs inside the perform that installed this context, so the
// Attempt it points to is alive.
int VerifyLeaf(int /*preverify_ok*/, X509_STORE_CTX* x) {
  if (X509_STORE_CTX_get_error_depth(x) > 0) return 1;  // the leaf decides
  SSL* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return 0;
  auto* a = static_cast<Attempt*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), SslCtxIndex()));
  X509* cert = X509_STORE_CTX_get_current_cert(x);
  if (a == nullptr || cert == nullptr) return 0;
  Status s = a->req->tls.leaf_check(cert);
  if (!s.ok()) {
    a->leaf_refused = std::move(s);
    return 0;
  }
  X509_STORE_CTX_set_error(x, X509_V_OK);
  return 1;
}

CURLcode OnSslCtx(CURL* /*curl*/, void* ssl_ctx, void* user) {
  SSL_CTX* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  if (SSL_CTX_set_ex_data(ctx, SslCtxIndex(), user) != 1) {
    return CURLE_SSL_CERTPROBLEM;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyLeaf);
  // No later handshake on a kept-alive connection: VerifyLeaf must only
  // run inside the perform whose Attempt `user` is.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  return CURLE_OK;
}

// The one mapping of libcurl failures to Status.
Status MapCurlError(const std::string& what, CURLcode rc, const char* errbuf,
                    bool* retryable) {
  const std::string detail =
      errbuf[0] != '\0' ? std::string(errbuf) : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
      return Status::PermissionDenied(
          what + ": TLS: server certificate not trusted: " + detail);
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return Status::InvalidArgument(what + ": TLS: CA file: " + detail);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::InvalidArgument(what + ": " + detail);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      *retryable = true;
      return Status::Unavailable(what + ": unreachable: " + detail);
    default:
      return Status::Unavailable(what + ": " + detail);
  }
}

std::string Bytes(size_t n) {
  if (n >= (size_t(1) << 20) && n % (size_t(1) << 20) == 0) {
    return std::to_string(n >> 20) + " MiB";
  }
  return std::to_string(n) + " bytes";
}

}  // namespace

HttpTransport::HttpTransport(size_t max_idle_handles)
    : pool_(max_idle_handles) {}

Result<Response> HttpTransport::SendOnce(const Request& req, bool* retryable) {
  *retryable = false;
  const std::string what =
      req.what.empty() ? req.method + " " + req.url : req.what;
  LUKSFS_ASSIGN_OR_RETURN(CurlPool::Lease lease, pool_.Acquire());
  CURL* h = lease.get();

  HeaderList list;
  for (const std::string& line : req.headers) {
    if (!list.Append(line.c_str())) {
      return Status::ResourceExhausted(what + ": header list");
    }
  }
  if (!list.Append("Expect:")) {  // no 100-continue round trip
    return Status::ResourceExhausted(what + ": header list");
  }
  if (req.secret_header != nullptr) {
    // NUL-terminated copy in locked memory for curl_slist_append.
    LUKSFS_ASSIGN_OR_RETURN(SecureBuffer line,
                            SecureBuffer::Create(req.secret_header->size() + 1));
    std::memcpy(line.data(), req.secret_header->data(),
                req.secret_header->size());
    if (!list.Append(reinterpret_cast<const char*>(line.data()))) {
      return Status::ResourceExhausted(what + ": header list");
    }
    list.MarkLastSecret();
  }

  Attempt a;
  a.req = &req;
  a.resp.body.reserve(std::min<size_t>(req.max_body, 16384));

  CURLcode setup = CURLE_OK;
  auto set = [&](CURLcode c) {
    if (setup == CURLE_OK) setup = c;
  };
  const Timeouts& t = req.timeouts;
  set(curl_easy_setopt(h, CURLOPT_URL, req.url.c_str()));
  set(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"));
  set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L));
  set(curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L));
  set(curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L));
  set(curl_easy_setopt(h, CURLOPT_USERAGENT, "luksfs"));
  set(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, a.errbuf));
  set(curl_easy_setopt(h, CURLOPT_HTTPHEADER, list.get()));
  set(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader));
  set(curl_easy_setopt(h, CURLOPT_HEADERDATA, &a));
  set(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody));
  set(curl_easy_setopt(h, CURLOPT_WRITEDATA, &a));
  set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t.connect_ms));
  if (t.total_ms > 0) set(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t.total_ms));
  if (t.stall_s > 0) {
    set(curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, t.stall_bytes_per_s));
    set(curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, t.stall_s));
  }
  if (req.receive_buffer_bytes > 0) {
    set(curl_easy_setopt(h, CURLOPT_BUFFERSIZE, req.receive_buffer_bytes));
  }
  if (!req.tls.ca_file.empty()) {
    set(curl_easy_setopt(h, CURLOPT_CAINFO, req.tls.ca_file.c_str()));
  }
  if (req.tls.leaf_check) {
    // The check replaces CA and host-name verification; see VerifyLeaf.
    set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L));
    set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L));
    set(curl_easy_setopt(h, CURLOPT_SSL_SESSIONID_CACHE, 0L));
    // Fail closed: with a TLS backend that cannot run the check, the
    // certificate checks would otherwise simply be off.
    if (curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, OnSslCtx) != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_SSL_CTX_DATA, &a) != CURLE_OK) {
      lease.Discard();
      return Status::NotSupported(
          what + ": certificate pinning needs libcurl built with OpenSSL");
    }
  } else {
    set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L));
    set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L));
  }
  const bool reader = static_cast<bool>(req.body_reader);
  const curl_off_t body_size =
      static_cast<curl_off_t>(reader ? req.body_size : req.body.size());
  if (req.method == "GET") {
    set(curl_easy_setopt(h, CURLOPT_HTTPGET, 1L));
  } else if (req.method == "HEAD") {
    set(curl_easy_setopt(h, CURLOPT_NOBODY, 1L));
  } else if (req.method == "PUT") {
    set(curl_easy_setopt(h, CURLOPT_UPLOAD, 1L));
    set(curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead));
    set(curl_easy_setopt(h, CURLOPT_READDATA, &a));
    set(curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, body_size));
  } else if (req.method == "POST") {
    set(curl_easy_setopt(h, CURLOPT_POST, 1L));
    if (reader) {
      set(curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead));
      set(curl_easy_setopt(h, CURLOPT_READDATA, &a));
    } else {
      static const char kEmpty[] = "";
      set(curl_easy_setopt(
          h, CURLOPT_POSTFIELDS,
          req.body.empty() ? kEmpty
                           : reinterpret_cast<const char*>(req.body.data())));
    }
    set(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, body_size));
  } else {
    set(curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str()));
  }
  if (setup != CURLE_OK) {
    lease.Discard();
    return Status::Internal(what + ": curl_easy_setopt: " +
                            curl_easy_strerror(setup));
  }

  requests_.fetch_add(1);
  const CURLcode rc = curl_easy_perform(h);
  // Leave no pointer to this frame in a handle that goes back to the pool.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, nullptr);

  if (rc == CURLE_OK) {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a.resp.status);
    return std::move(a.resp);
  }
  lease.Discard();  // the connection may be broken
  SecureWipe(a.resp.body.data(), a.resp.body.size());
  if (a.too_large) {
    return Status::Corruption(what + ": response larger than " +
                              Bytes(req.max_body));
  }
  if (a.writer_abort) {
    return Status::IOError(what + ": response body refused", EIO);
  }
  if (a.reader_abort) {
    return Status::IOError(what + ": request body could not be read", EIO);
  }
  if (!a.leaf_refused.ok()) {
    return Status::PermissionDenied(what + ": TLS: " +
                                    a.leaf_refused.message());
  }
  return MapCurlError(what, rc, a.errbuf, retryable);
}

Result<Response> HttpTransport::Send(Request& req, const RetryRules& rules,
                                     SendInfo* info) {
  SendInfo local;
  SendInfo& out = info != nullptr ? *info : local;
  out = SendInfo{};
  for (unsigned retry = 0;; ++retry) {
    if (rules.before_attempt) LUKSFS_RETURN_IF_ERROR(rules.before_attempt(req));
    bool retryable = false;
    Result<Response> r = SendOnce(req, &retryable);
    ++out.attempts;
    if (r.ok()) {
      retryable = rules.retry_response ? rules.retry_response(*r)
                                       : RetryableHttpStatus(r->status);
    }
    if (!retryable) return r;
    if (retry >= rules.policy.max_retries) {
      out.exhausted = true;
      return r;
    }
    if (rules.on_retry) rules.on_retry(r, retry);
    if (r.ok()) SecureWipe(r->body.data(), r->body.size());
    std::this_thread::sleep_for(rules.policy.Delay(retry));
  }
}

}  // namespace luksfs::http
