#include "fs/storage/s3_client.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>

#include "common/log.h"
#include "common/retry_policy.h"
#include "fs/storage/s3_xml.h"

namespace luksfs::fs {

struct S3Client::Call {
  std::string method;  // GET HEAD PUT POST DELETE
  std::string key;
  std::vector<std::pair<std::string, std::string>> query;
  sigv4::Headers headers;            // extra signed headers
  std::span<const uint8_t> body;     // PUT/POST body
  bool send_body = false;            // PUT/POST: send body (maybe empty)
  std::span<uint8_t> sink;           // GET: exact destination of a 2xx body
  std::string what;                  // "GET bytes=0-9" for messages
};

struct S3Client::Response {
  long status = 0;
  std::string body;  // error or XML body, at most kMaxXmlBytes
  std::string etag;
  uint64_t content_length = 0;
  bool have_length = false;
  size_t sink_bytes = 0;
  bool sink_overflow = false;
};

namespace {

constexpr size_t kMaxBody = kMaxXmlBytes;

struct Transfer {
  S3Client* client;
  const std::span<uint8_t>* sink;
  std::span<const uint8_t> upload;
  size_t upload_pos = 0;
  long status = 0;
  std::string body;
  std::string etag;
  uint64_t content_length = 0;
  bool have_length = false;
  size_t sink_bytes = 0;
  bool sink_overflow = false;
};

std::string TrimCrLf(std::string_view v) {
  while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) {
    v.remove_suffix(1);
  }
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return std::string(v);
}

size_t OnHeader(char* data, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const size_t len = size * n;
  std::string_view line(data, len);
  if (line.rfind("HTTP/", 0) == 0) {  // a new status line (e.g. after 100)
    const size_t sp = line.find(' ');
    t->status = sp == std::string_view::npos
                    ? 0
                    : std::strtol(std::string(line.substr(sp + 1, 3)).c_str(),
                                  nullptr, 10);
    t->etag.clear();
    t->have_length = false;
    return len;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const std::string value = TrimCrLf(line.substr(colon + 1));
  if (name == "etag" && value.size() <= 256) {
    t->etag = value;
  } else if (name == "content-length") {
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
    if (errno == 0 && end != value.c_str() && *end == '\0') {
      t->content_length = v;
      t->have_length = true;
    }
  }
  return len;
}

size_t OnBody(char* data, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const size_t len = size * n;
  if (t->sink != nullptr && t->status >= 200 && t->status < 300) {
    if (t->sink_bytes + len > t->sink->size()) {
      t->sink_overflow = true;
      return 0;  // aborts with CURLE_WRITE_ERROR
    }
    std::memcpy(t->sink->data() + t->sink_bytes, data, len);
    t->sink_bytes += len;
    return len;
  }
  if (t->body.size() < kMaxBody) {
    t->body.append(data, std::min(len, kMaxBody - t->body.size()));
  }
  return len;
}

size_t OnRead(char* buf, size_t size, size_t n, void* ud) {
  auto* t = static_cast<Transfer*>(ud);
  const size_t want = std::min(size * n, t->upload.size() - t->upload_pos);
  std::memcpy(buf, t->upload.data() + t->upload_pos, want);
  t->upload_pos += want;
  return want;
}

bool RetryableCurl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

bool RetryableHttp(long status, const std::string& body) {
  if (RetryableHttpStatus(status)) return true;
  // S3 answers 400 RequestTimeout when an upload stalled.
  return status == 400 && body.find("<Code>RequestTimeout</Code>") != std::string::npos;
}

// 200 ms doubling to 5 s, jittered (common/retry_policy.h).
std::chrono::milliseconds Backoff(unsigned attempt) {
  return RetryPolicy::S3(0).Delay(attempt);
}

Status CurlSetup(CURL* h, CURLcode c) {
  if (c == CURLE_OK) return Status();
  (void)h;
  return Status::Internal(std::string("curl_easy_setopt: ") + curl_easy_strerror(c));
}

}  // namespace

S3Client::S3Client(S3ClientConfig config, S3Credentials creds)
    : cfg_(std::move(config)), creds_(std::move(creds)) {}

Result<S3Client::Response> S3Client::Perform(const Call& call) {
  Status last;
  for (unsigned attempt = 0;; ++attempt) {
    bool retryable = false;
    auto r = PerformOnce(call, &retryable);
    if (r.ok() && !RetryableHttp(r->status, r->body)) return r;
    if (r.ok()) {
      last = HttpError(call, *r);
    } else {
      last = r.status();
      if (!retryable) return last;
    }
    if (attempt >= cfg_.max_retries) {
      return Status::IOError(last.message() + " (gave up after " +
                                 std::to_string(attempt + 1) + " attempts)",
                             EIO);
    }
    retries_.fetch_add(1);
    LogDebug(last.message() + "; retrying");
    std::this_thread::sleep_for(Backoff(attempt));
  }
}

Result<S3Client::Response> S3Client::PerformOnce(const Call& call,
                                                 bool* retryable) {
  *retryable = false;
  LUKSFS_ASSIGN_OR_RETURN(CurlPool::Lease lease, pool_.Acquire());
  CURL* h = lease.get();

  // Path and URL. S3 paths are encoded once (no double encoding).
  std::string path = "/";
  if (!cfg_.endpoint.virtual_host) path += sigv4::UriEncode(cfg_.bucket, true) + "/";
  path += sigv4::UriEncode(call.key, false);
  const std::string query = sigv4::CanonicalQuery(call.query);
  std::string url = cfg_.endpoint.scheme + "://" + cfg_.endpoint.host + path;
  if (!query.empty()) url += "?" + query;

  const std::string payload_hash =
      call.send_body ? sigv4::Sha256Hex(call.body) : sigv4::kEmptySha256;
  sigv4::Request req;
  req.method = call.method;
  req.canonical_uri = path;
  req.canonical_query = query;
  req.payload_hash = payload_hash;
  req.headers = call.headers;
  req.headers.emplace_back("host", cfg_.endpoint.host);
  const std::string amz_date = sigv4::AmzDate(std::time(nullptr));
  req.headers.emplace_back("x-amz-date", amz_date);
  req.headers.emplace_back("x-amz-content-sha256", payload_hash);
  if (!creds_.session_token.empty()) {
    req.headers.emplace_back(
        "x-amz-security-token",
        std::string(reinterpret_cast<const char*>(creds_.session_token.data()),
                    creds_.session_token.size()));
  }
  LUKSFS_ASSIGN_OR_RETURN(
      std::string auth,
      sigv4::Authorization(creds_.access_key_id, creds_.secret_key.span(),
                           amz_date,
                           cfg_.region, "s3", req));

  struct SlistFree {
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
  };
  std::unique_ptr<curl_slist, SlistFree> hl;
  auto add = [&](const std::string& line) {
    curl_slist* n = curl_slist_append(hl.get(), line.c_str());
    if (n != nullptr) {
      (void)hl.release();
      hl.reset(n);
    }
  };
  for (const auto& [k, v] : req.headers) add(k + ": " + v);
  add("Authorization: " + auth);
  add("Expect:");  // no 100-continue round trip
  if (!creds_.session_token.empty()) {
    std::string& tok = req.headers.back().second;
    SecureWipe(tok.data(), tok.size());
  }

  Transfer t;
  t.client = this;
  t.sink = call.sink.empty() ? nullptr : &call.sink;
  t.upload = call.body;

  Status s;
  auto set = [&](CURLcode c) {
    if (s.ok()) s = CurlSetup(h, c);
  };
  set(curl_easy_setopt(h, CURLOPT_URL, url.c_str()));
  set(curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl.get()));
  set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L));
  set(curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L));
  // Larger receive chunks: fewer recv calls and callbacks per ranged GET.
  set(curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024));
  set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, cfg_.connect_timeout_s));
  set(curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L));
  set(curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, cfg_.stall_timeout_s));
  set(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, OnHeader));
  set(curl_easy_setopt(h, CURLOPT_HEADERDATA, &t));
  set(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, OnBody));
  set(curl_easy_setopt(h, CURLOPT_WRITEDATA, &t));
  if (!cfg_.ca_file.empty()) set(curl_easy_setopt(h, CURLOPT_CAINFO, cfg_.ca_file.c_str()));
  if (call.method == "HEAD") {
    set(curl_easy_setopt(h, CURLOPT_NOBODY, 1L));
  } else if (call.method == "PUT") {
    set(curl_easy_setopt(h, CURLOPT_UPLOAD, 1L));
    set(curl_easy_setopt(h, CURLOPT_READFUNCTION, OnRead));
    set(curl_easy_setopt(h, CURLOPT_READDATA, &t));
    set(curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                         static_cast<curl_off_t>(call.body.size())));
  } else if (call.method == "POST") {
    set(curl_easy_setopt(h, CURLOPT_POST, 1L));
    static const char kEmpty[] = "";
    set(curl_easy_setopt(h, CURLOPT_POSTFIELDS,
                         call.body.empty() ? kEmpty
                                           : reinterpret_cast<const char*>(call.body.data())));
    set(curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(call.body.size())));
  } else if (call.method == "DELETE") {
    set(curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE"));
  }
  if (!s.ok()) return s;

  requests_.fetch_add(1);
  const CURLcode rc = curl_easy_perform(h);
  const std::string& where = call.what;
  if (t.sink_overflow) {
    lease.Discard();
    return Status::IOError(where + ": server sent more bytes than requested", EIO);
  }
  if (rc != CURLE_OK) {
    lease.Discard();
    *retryable = RetryableCurl(rc);
    return Status::IOError(where + ": " + curl_easy_strerror(rc), EIO);
  }
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  Response r;
  r.status = status;
  r.body = std::move(t.body);
  r.etag = std::move(t.etag);
  r.content_length = t.content_length;
  r.have_length = t.have_length;
  r.sink_bytes = t.sink_bytes;
  return r;
}

Status S3Client::HttpError(const Call& call, const Response& r) const {
  const std::string where = call.what + ": ";
  std::string detail = XmlErrorSummary(r.body);
  const std::string code = "HTTP " + std::to_string(r.status) +
                           (detail.empty() ? "" : " " + detail);
  switch (r.status) {
    case 404:
      if (detail.rfind("NoSuchBucket", 0) == 0) {
        return Status::NotFound(where + "no such bucket '" + cfg_.bucket + "' (" + code + ")");
      }
      return Status::NotFound(where + "no such object (bucket '" + cfg_.bucket +
                              "', key '" + call.key + "'; " + code + ")");
    case 403:
      return Status::IOError(where + "access denied to bucket '" + cfg_.bucket +
                                 "', key '" + call.key + "' (" + code +
                                 "; check the credentials and the bucket policy)",
                             EACCES);
    case 412:
      return Status::IOError(where + "object changed since mount (If-Match "
                                     "failed; " + code + ")", ESTALE);
    default:
      return Status::IOError(where + code, EIO);
  }
}

Result<S3ObjectInfo> S3Client::Head(const std::string& key) {
  Call c;
  c.method = "HEAD";
  c.key = key;
  c.what = "HEAD";
  LUKSFS_ASSIGN_OR_RETURN(Response r, Perform(c));
  if (r.status != 200) return HttpError(c, r);
  if (!r.have_length) {
    return Status::IOError("HEAD: no Content-Length", EIO);
  }
  return S3ObjectInfo{r.content_length, r.etag};
}

Status S3Client::GetRange(const std::string& key, uint64_t offset,
                          std::span<uint8_t> dst, const std::string& if_match) {
  if (dst.empty()) return Status();
  Call c;
  c.method = "GET";
  c.key = key;
  const std::string range = "bytes=" + std::to_string(offset) + "-" +
                            std::to_string(offset + dst.size() - 1);
  c.headers.emplace_back("range", range);
  if (!if_match.empty()) c.headers.emplace_back("if-match", if_match);
  c.sink = dst;
  c.what = "GET " + range;
  for (unsigned attempt = 0;; ++attempt) {
    LUKSFS_ASSIGN_OR_RETURN(Response r, Perform(c));
    if (r.status != 206 && !(r.status == 200 && offset == 0)) {
      if (r.status == 200) {
        return Status::IOError(c.what +
                                   ": server ignored the Range header", EIO);
      }
      return HttpError(c, r);
    }
    if (r.sink_bytes == dst.size()) return Status();
    // A short body (connection closed early without a curl error): retry.
    if (attempt >= cfg_.max_retries) {
      return Status::IOError(c.what + ": short body (" +
                                 std::to_string(r.sink_bytes) + " bytes)", EIO);
    }
    retries_.fetch_add(1);
    std::this_thread::sleep_for(Backoff(attempt));
  }
}

Result<std::string> S3Client::Put(const std::string& key,
                                  std::span<const uint8_t> data) {
  Call c;
  c.method = "PUT";
  c.key = key;
  c.body = data;
  c.send_body = true;
  c.what = "PUT";
  LUKSFS_ASSIGN_OR_RETURN(Response r, Perform(c));
  if (r.status != 200) return HttpError(c, r);
  return r.etag;
}

Result<std::string> S3Client::PutIf(const std::string& key,
                                    std::span<const uint8_t> data,
                                    const std::string& if_match,
                                    bool if_none_match_any) {
  Call c;
  c.method = "PUT";
  c.key = key;
  c.body = data;
  c.send_body = true;
  c.what = "PUT";
  if (!if_match.empty()) c.headers.emplace_back("if-match", if_match);
  if (if_none_match_any) c.headers.emplace_back("if-none-match", "*");
  LUKSFS_ASSIGN_OR_RETURN(Response r, Perform(c));
  if (r.status != 200) return HttpError(c, r);
  return r.etag;
}

Result<std::pair<std::string, std::string>> S3Client::GetSmall(
    const std::string& key, size_t max_bytes) {
  LUKSFS_ASSIGN_OR_RETURN(S3ObjectInfo info, Head(key));
  if (info.size > max_bytes) {
    return Status::ResourceExhausted(Describe(key) + ": " +
                                     std::to_string(info.size) +
                                     " bytes, more than expected");
  }
  std::string body(info.size, '\0');
  LUKSFS_RETURN_IF_ERROR(GetRange(
      key, 0,
      std::span<uint8_t>(reinterpret_cast<uint8_t*>(body.data()), body.size()),
      info.etag));
  return std::pair{std::move(body), info.etag};
}

Status S3Client::Delete(const std::string& key) {
  Call c;
  c.method = "DELETE";
  c.key = key;
  c.what = "DELETE";
  LUKSFS_ASSIGN_OR_RETURN(Response r, Perform(c));
  if (r.status != 204 && r.status != 200 && r.status != 404) return HttpError(c, r);
  return Status();
}

Result<std::string> S3Client::CreateMultipartUpload(const std::string& key) {
  Call c;
  c.method = "POST";
  c.key = key;
  c.query = {{"uploads", ""}};
  c.send_body = true;
  c.what = "CreateMultipartUpload";
  LUKSFS_ASSIGN_OR_RETURN(Response r, Perform(c));
  if (r.status != 200) return HttpError(c, r);
  auto id = XmlText(r.body, "UploadId");
  if (!id || id->empty()) {
    return Status::IOError(c.what + ": no UploadId in the answer", EIO);
  }
  return *id;
}

Result<std::string> S3Client::UploadPart(const std::string& key,
                                         const std::string& upload_id, int part,
                                         std::span<const uint8_t> data) {
  Call c;
  c.method = "PUT";
  c.key = key;
  c.query = {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}};
  c.body = data;
  c.send_body = true;
  c.what = "UploadPart " + std::to_string(part);
  LUKSFS_ASSIGN_OR_RETURN(Response r, Perform(c));
  if (r.status != 200) return HttpError(c, r);
  if (r.etag.empty()) {
    return Status::IOError(c.what + ": no ETag", EIO);
  }
  return r.etag;
}

Result<std::string> S3Client::UploadPartCopy(const std::string& key,
                                             const std::string& upload_id,
                                             int part, const std::string& src_key,
                                             uint64_t first, uint64_t last,
                                             const std::string& if_match) {
  Call c;
  c.method = "PUT";
  c.key = key;
  c.query = {{"partNumber", std::to_string(part)}, {"uploadId", upload_id}};
  c.headers.emplace_back("x-amz-copy-source",
                         "/" + sigv4::UriEncode(cfg_.bucket, true) + "/" +
                             sigv4::UriEncode(src_key, false));
  c.headers.emplace_back("x-amz-copy-source-range",
                         "bytes=" + std::to_string(first) + "-" + std::to_string(last));
  if (!if_match.empty()) c.headers.emplace_back("x-amz-copy-source-if-match", if_match);
  c.send_body = true;  // empty body: Content-Length: 0 (RGW needs it)
  c.what = "UploadPartCopy " + std::to_string(part);
  LUKSFS_ASSIGN_OR_RETURN(Response r, Perform(c));
  if (r.status != 200) return HttpError(c, r);
  // A copy may fail after a 200 status line: the body then holds <Error>.
  if (r.body.find("<Error>") != std::string::npos) {
    return Status::IOError(c.what + ": " +
                               XmlErrorSummary(r.body), EIO);
  }
  auto etag = XmlText(r.body, "ETag");
  if (!etag || etag->empty()) {
    return Status::IOError(c.what + ": no ETag in the answer", EIO);
  }
  return *etag;
}

Status S3Client::CompleteMultipartUpload(const std::string& key,
                                         const std::string& upload_id,
                                         const std::vector<std::string>& etags) {
  std::string xml = "<CompleteMultipartUpload>";
  for (size_t i = 0; i < etags.size(); ++i) {
    xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
           XmlEscape(etags[i]) + "</ETag></Part>";
  }
  xml += "</CompleteMultipartUpload>";
  Call c;
  c.method = "POST";
  c.key = key;
  c.query = {{"uploadId", upload_id}};
  c.body = {reinterpret_cast<const uint8_t*>(xml.data()), xml.size()};
  c.send_body = true;
  c.what = "CompleteMultipartUpload";
  LUKSFS_ASSIGN_OR_RETURN(Response r, Perform(c));
  if (r.status != 200) return HttpError(c, r);
  if (r.body.find("<Error>") != std::string::npos) {
    return Status::IOError(c.what + ": " +
                               XmlErrorSummary(r.body), EIO);
  }
  return Status();
}

Status S3Client::AbortMultipartUpload(const std::string& key,
                                      const std::string& upload_id) {
  Call c;
  c.method = "DELETE";
  c.key = key;
  c.query = {{"uploadId", upload_id}};
  c.what = "AbortMultipartUpload";
  LUKSFS_ASSIGN_OR_RETURN(Response r, Perform(c));
  if (r.status != 204 && r.status != 200 && r.status != 404) return HttpError(c, r);
  return Status();
}

Result<std::unique_ptr<S3Client>> OpenS3Client(const S3Location& loc,
                                               const S3Options& opts,
                                               const EnvFn& env) {
  const std::string region = ResolveRegion(opts, env);
  LUKSFS_ASSIGN_OR_RETURN(S3Endpoint ep, ResolveEndpoint(opts, region, loc.bucket));
  LUKSFS_ASSIGN_OR_RETURN(S3Credentials creds, LoadS3Credentials(env));
  S3ClientConfig cc;
  cc.endpoint = ep;
  cc.region = region;
  cc.bucket = loc.bucket;
  cc.ca_file = opts.ca_file;
  cc.max_retries = opts.max_retries;
  return std::make_unique<S3Client>(std::move(cc), std::move(creds));
}

}  // namespace luksfs::fs
