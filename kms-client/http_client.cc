#include "kms-client/http_client.h"

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "kms-client/cert_info.h"
#include "common/retry_policy.h"
#include "kms-client/tls_connection.h"

namespace luksfs::kms {

namespace {

Status GlobalInit() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) return Status::Internal("curl_global_init failed");
  return Status::Ok();
}

int SslCtxIndex() {
  static int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr,
                                              nullptr);
  return index;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

// A curl_slist freed on scope exit; the entry at `secret_index` is wiped
// first.
class HeaderList {
 public:
  ~HeaderList() {
    int i = 0;
    for (curl_slist* n = list_; n != nullptr; n = n->next, ++i) {
      if (i == secret_index_) sodium_memzero(n->data, std::strlen(n->data));
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

}  // namespace

struct HttpClient::Impl {
  HttpOptions options;
  std::unique_ptr<CURL, CurlDeleter> curl;
  bool pinned = false;
  std::vector<std::vector<uint8_t>> pins;  // SHA-1 or SHA-256 each
  bool pin_mismatch = false;  // set by the verify callback
  std::string presented;      // its fingerprints, set with pin_mismatch
  bool too_large = false;     // set by the write callback
  std::string* sink = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {};

  static size_t Write(char* data, size_t size, size_t n, void* user) {
    Impl* self = static_cast<Impl*>(user);
    size_t len = size * n;
    if (self->sink->size() + len > kMaxHttpResponseBytes) {
      self->too_large = true;
      return 0;
    }
    self->sink->append(data, len);
    return len;
  }

  // With a pin: accept the chain only if the leaf's SHA-1/SHA-256 matches.
  static int VerifyPin(int /*preverify_ok*/, X509_STORE_CTX* x) {
    if (X509_STORE_CTX_get_error_depth(x) > 0) return 1;  // leaf decides
    SSL* ssl = static_cast<SSL*>(
        X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx()));
    if (ssl == nullptr) return 0;
    Impl* self = static_cast<Impl*>(
        SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), SslCtxIndex()));
    X509* cert = X509_STORE_CTX_get_current_cert(x);
    if (self == nullptr || cert == nullptr) return 0;
    Result<bool> match = PinsMatch(cert, self->pins);
    if (!match.ok() || !*match) {
      self->pin_mismatch = true;
      self->presented = PresentedFingerprints(cert);
      return 0;
    }
    X509_STORE_CTX_set_error(x, X509_V_OK);
    return 1;
  }

  static CURLcode SslCtx(CURL* /*curl*/, void* ssl_ctx, void* user) {
    SSL_CTX* ctx = static_cast<SSL_CTX*>(ssl_ctx);
    if (SSL_CTX_set_ex_data(ctx, SslCtxIndex(), user) != 1) {
      return CURLE_SSL_CERTPROBLEM;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, VerifyPin);
    return CURLE_OK;
  }
};

void WipeString(std::string& s) {
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpClient::~HttpClient() = default;

Result<std::unique_ptr<HttpClient>> HttpClient::Create(
    const HttpOptions& opts) {
  LUKSFS_RETURN_IF_ERROR(GlobalInit());
  LUKSFS_RETURN_IF_ERROR(InitSodium());
  auto impl = std::make_unique<Impl>();
  impl->options = opts;
  if (impl->options.max_attempts < 1) impl->options.max_attempts = 1;
  if (impl->options.timeout_ms <= 0) impl->options.timeout_ms = 10000;
  if (!opts.fingerprint.empty()) {
    LUKSFS_ASSIGN_OR_RETURN(impl->pins, ParseFingerprints(opts.fingerprint));
    impl->pinned = true;
  }
  impl->curl.reset(curl_easy_init());
  if (!impl->curl) return Status::Internal("curl_easy_init failed");
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Result<HttpResponse> HttpClient::Send(std::string_view method,
                                      const std::string& url,
                                      const std::vector<std::string>& headers,
                                      const SecureBuffer* secret_header,
                                      std::string_view body) {
  const int attempts = impl_->options.max_attempts;
  for (int attempt = 1;; ++attempt) {
    bool retryable = false;
    Result<HttpResponse> r =
        SendOnce(method, url, headers, secret_header, body, &retryable);
    if (r.ok()) {
      long st = r->status;
      retryable = RetryableHttpStatus(st);
      if (!retryable || attempt >= attempts) return r;
      WipeString(r->body);
    } else if (!retryable || attempt >= attempts) {
      return r;
    }
    std::this_thread::sleep_for(RetryPolicy::Kms().Delay(unsigned(attempt - 1)));
  }
}

Result<HttpResponse> HttpClient::SendOnce(
    std::string_view method, const std::string& url,
    const std::vector<std::string>& headers, const SecureBuffer* secret_header,
    std::string_view body, bool* retryable) {
  *retryable = false;
  Impl& im = *impl_;
  CURL* c = im.curl.get();
  curl_easy_reset(c);  // keeps the connection cache
  HttpResponse resp;
  resp.body.reserve(16384);
  im.sink = &resp.body;
  im.too_large = false;
  im.pin_mismatch = false;
  im.errbuf[0] = '\0';

  HeaderList list;
  for (const std::string& h : headers) {
    if (!list.Append(h.c_str())) return Status::ResourceExhausted("headers");
  }
  if (secret_header != nullptr) {
    LUKSFS_ASSIGN_OR_RETURN(SecureBuffer line,
                            SecureBuffer::Create(secret_header->size() + 1));
    std::memcpy(line.data(), secret_header->data(), secret_header->size());
    if (!list.Append(reinterpret_cast<const char*>(line.data()))) {
      return Status::ResourceExhausted("headers");
    }
    list.MarkLastSecret();
  }

  std::string method_str(method);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, long(im.options.timeout_ms));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   long(std::min(im.options.timeout_ms, 5000)));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, im.errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Impl::Write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &im);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_USERAGENT, "luksfs");
  if (!im.options.ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, im.options.ca_file.c_str());
  }
  if (im.pinned) {
    // The pin replaces CA and host-name checks; see VerifyPin.
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    // Fail closed: with a libcurl whose TLS backend cannot run the pin
    // check, certificate checks would otherwise simply be off.
    if (curl_easy_setopt(c, CURLOPT_SSL_CTX_FUNCTION, &Impl::SslCtx) !=
            CURLE_OK ||
        curl_easy_setopt(c, CURLOPT_SSL_CTX_DATA, &im) != CURLE_OK) {
      return Status::NotSupported(
          "certificate pinning needs libcurl built with OpenSSL");
    }
  } else {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  }
  if (method == "GET") {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else if (method == "POST") {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, long(body.size()));
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method_str.c_str());
  }

  CURLcode rc = curl_easy_perform(c);
  // Do not leave pointers to this frame in the reusable handle.
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, nullptr);
  im.sink = nullptr;

  std::string where = std::string(method) + " " + url;
  std::string detail = im.errbuf[0] ? im.errbuf : curl_easy_strerror(rc);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp.status);
    return resp;
  }
  WipeString(resp.body);
  if (im.too_large) {
    return Status::Corruption(where + ": response larger than 1 MiB");
  }
  if (im.pin_mismatch) {
    return Status::PermissionDenied(
        where + ": TLS: certificate fingerprint mismatch: server presented " +
        im.presented + "; pinned " + FingerprintLines(im.pins));
  }
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
      return Status::PermissionDenied(
          where + ": TLS: server certificate not trusted: " + detail);
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return Status::InvalidArgument(where + ": TLS: CA file: " + detail);
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Status::InvalidArgument(where + ": " + detail);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
      *retryable = true;
      return Status::Unavailable(where + ": unreachable: " + detail);
    default:
      return Status::Unavailable(where + ": " + detail);
  }
}

}  // namespace luksfs::kms
