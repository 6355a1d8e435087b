#include "fs/storage/s3_client.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
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
  // GET: instead of sink, each chunk of a 2xx body (false aborts).
  std::function<bool(std::span<const uint8_t>)> stream;
  bool no_retry = false;             // one attempt (the caller resumes)
  bool* transient = nullptr;         // with no_retry: set when worth resuming
  std::string what;                  // "GET bytes=0-9" for messages
};

struct S3Client::Response {
  long status = 0;
  std::string body;  // error or XML body, at most kMaxXmlBytes
  std::string etag;
  uint64_t content_length = 0;
  bool have_length = false;
  size_t sink_bytes = 0;
};

namespace {

constexpr size_t kMaxBody = kMaxXmlBytes;

bool RetryableHttp(long status, const std::string& body) {
  if (RetryableHttpStatus(status)) return true;
  // S3 answers 400 RequestTimeout when an upload stalled.
  return status == 400 && body.find("<Code>RequestTimeout</Code>") != std::string::npos;
}

// 200 ms doubling to 5 s, jittered (common/retry_policy.h).
std::chrono::milliseconds Backoff(unsigned attempt) {
  return RetryPolicy::S3(0).Delay(attempt);
}

}  // namespace

S3Client::S3Client(S3ClientConfig config, S3Credentials creds)
    : cfg_(std::move(config)), creds_(std::move(creds)) {}

Status S3Client::Sign(const Call& call, http::Request& out,
                      SecureBuffer* token_line) const {
  // Path and URL. S3 paths are encoded once (no double encoding).
  std::string path = "/";
  if (!cfg_.endpoint.virtual_host) path += sigv4::UriEncode(cfg_.bucket, true) + "/";
  path += sigv4::UriEncode(call.key, false);
  const std::string query = sigv4::CanonicalQuery(call.query);
  out.url = cfg_.endpoint.scheme + "://" + cfg_.endpoint.host + path;
  if (!query.empty()) out.url += "?" + query;

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
  const bool token = !creds_.session_token.empty();
  if (token) {
    req.headers.emplace_back(
        "x-amz-security-token",
        std::string(reinterpret_cast<const char*>(creds_.session_token.data()),
                    creds_.session_token.size()));
  }
  Result<std::string> auth =
      sigv4::Authorization(creds_.access_key_id, creds_.secret_key.span(),
                           amz_date, cfg_.region, "s3", req);
  if (token) {
    std::string& tok = req.headers.back().second;
    SecureWipe(tok.data(), tok.size());
    req.headers.pop_back();
  }
  if (!auth.ok()) return auth.status();

  out.headers.clear();
  for (const auto& [k, v] : req.headers) out.headers.push_back(k + ": " + v);
  out.headers.push_back("Authorization: " + *auth);
  out.secret_header = nullptr;
  if (token) {
    // The session token is a credential: it travels as the secret header.
    static constexpr std::string_view kName = "x-amz-security-token: ";
    LUKSFS_ASSIGN_OR_RETURN(
        *token_line,
        SecureBuffer::Create(kName.size() + creds_.session_token.size()));
    std::memcpy(token_line->data(), kName.data(), kName.size());
    std::memcpy(token_line->data() + kName.size(), creds_.session_token.data(),
                creds_.session_token.size());
    out.secret_header = token_line;
  }
  return Status();
}

Result<S3Client::Response> S3Client::Perform(const Call& call) {
  http::Request req;
  req.method = call.method;
  req.what = call.what;
  if (call.send_body) req.body = call.body;
  req.max_body = kMaxBody;
  req.truncate_body = true;  // error and XML bodies: the start is enough
  req.tls.ca_file = cfg_.ca_file;
  req.timeouts.connect_ms = cfg_.connect_timeout_s * 1000;
  req.timeouts.stall_s = cfg_.stall_timeout_s;
  req.timeouts.stall_bytes_per_s = 1024;
  // Larger receive chunks: fewer recv calls and callbacks per ranged GET.
  req.receive_buffer_bytes = 512L * 1024;

  // A 2xx GET body goes straight to the caller's buffer, exactly.
  size_t sink_bytes = 0;
  bool sink_overflow = false;
  bool stream_abort = false;
  if (!call.sink.empty()) {
    req.body_writer = [&](long status, std::span<const uint8_t> chunk) {
      if (status < 200 || status >= 300) return http::SinkVerdict::kKeep;
      if (sink_bytes + chunk.size() > call.sink.size()) {
        sink_overflow = true;
        return http::SinkVerdict::kAbort;
      }
      std::memcpy(call.sink.data() + sink_bytes, chunk.data(), chunk.size());
      sink_bytes += chunk.size();
      return http::SinkVerdict::kTaken;
    };
  } else if (call.stream) {
    req.body_writer = [&](long status, std::span<const uint8_t> chunk) {
      if (status < 200 || status >= 300) return http::SinkVerdict::kKeep;
      sink_bytes += chunk.size();
      if (!call.stream(chunk)) {
        stream_abort = true;
        return http::SinkVerdict::kAbort;
      }
      return http::SinkVerdict::kTaken;
    };
  }

  auto convert = [&](http::Response&& hr) {
    Response r;
    r.status = hr.status;
    if (auto etag = hr.Header("etag"); etag && etag->size() <= 256) {
      r.etag = std::string(*etag);
    }
    if (auto len = hr.Header("content-length")) {
      const std::string value(*len);
      char* end = nullptr;
      errno = 0;
      const unsigned long long v = std::strtoull(value.c_str(), &end, 10);
      if (errno == 0 && end != value.c_str() && *end == '\0') {
        r.content_length = v;
        r.have_length = true;
      }
    }
    r.body = std::move(hr.body);
    r.sink_bytes = sink_bytes;
    return r;
  };

  SecureBuffer token_line;
  Status sign_error;
  http::RetryRules rules;
  rules.policy = RetryPolicy::S3(call.no_retry ? 0 : cfg_.max_retries);
  rules.retry_response = [](const http::Response& r) {
    return RetryableHttp(r.status, r.body);
  };
  rules.before_attempt = [&](http::Request& r) {
    sink_bytes = 0;
    sink_overflow = false;
    sign_error = Sign(call, r, &token_line);
    return sign_error;
  };
  rules.on_retry = [&](const Result<http::Response>& failed, unsigned) {
    retries_.fetch_add(1);
    const std::string why =
        failed.ok() ? HttpError(call, convert(http::Response(*failed))).message()
                    : failed.status().message();
    LogDebug(why + "; retrying");
  };
  http::SendInfo info;
  Result<http::Response> r = transport_.Send(req, rules, &info);
  if (!sign_error.ok()) return sign_error;
  if (sink_overflow) {
    return Status::IOError(call.what + ": server sent more bytes than requested", EIO);
  }
  if (stream_abort) return Status::Unavailable(call.what + ": abandoned");
  if (call.transient != nullptr) *call.transient = info.exhausted;
  const std::string gave_up = call.no_retry ? std::string() :
      " (gave up after " + std::to_string(info.attempts) + " attempts)";
  if (!r.ok()) {
    return Status::IOError(r.status().message() + (info.exhausted ? gave_up : ""), EIO);
  }
  Response out = convert(std::move(*r));
  if (info.exhausted) return Status::IOError(HttpError(call, out).message() + gave_up, EIO);
  return out;
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

Status S3Client::GetStream(const std::string& key, uint64_t offset, uint64_t length,
                           const std::string& if_match,
                           const std::function<bool(std::span<const uint8_t>)>& sink) {
  const uint64_t end = offset + length;
  uint64_t pos = offset;  // first byte not yet given to sink
  bool overflow = false;
  for (unsigned attempt = 0; pos < end; ++attempt) {
    Call c;
    c.method = "GET";
    c.key = key;
    const std::string range =
        "bytes=" + std::to_string(pos) + "-" + std::to_string(end - 1);
    c.headers.emplace_back("range", range);
    if (!if_match.empty()) c.headers.emplace_back("if-match", if_match);
    c.what = "GET " + range;
    c.no_retry = true;  // resumed here, from pos, not from the range start
    bool transient = false;
    c.transient = &transient;
    c.stream = [&](std::span<const uint8_t> chunk) {
      if (chunk.size() > end - pos) {
        overflow = true;
        return false;
      }
      if (!sink(chunk)) return false;
      pos += chunk.size();
      return true;
    };
    Result<Response> r = Perform(c);
    if (overflow) {
      return Status::IOError(c.what + ": server sent more bytes than requested", EIO);
    }
    Status failed;
    if (!r.ok()) {
      if (r.status().code() == Status::Code::kUnavailable &&
          r.status().message().ends_with(": abandoned")) {
        return r.status();  // the sink's choice: no retry
      }
      if (!transient) return r.status();
      failed = r.status();
    } else if (r->status != 206 && !(r->status == 200 && pos == 0)) {
      if (r->status == 200) {
        return Status::IOError(c.what + ": server ignored the Range header", EIO);
      }
      Status e = HttpError(c, *r);
      if (!transient) return e;
      failed = e;
    } else if (pos == end) {
      return Status();
    } else {
      failed = Status::IOError(c.what + ": short body (" +
                                   std::to_string(r->sink_bytes) + " bytes)", EIO);
    }
    if (attempt >= cfg_.max_retries) {
      return Status::IOError(failed.message() + " (gave up after " +
                                 std::to_string(attempt + 1) + " attempts)", EIO);
    }
    retries_.fetch_add(1);
    LogDebug(failed.message() + "; resuming at byte " + std::to_string(pos));
    std::this_thread::sleep_for(Backoff(attempt));
  }
  return Status();
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
