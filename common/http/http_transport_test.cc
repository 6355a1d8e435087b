// HttpTransport against a real local HTTP server: a socket thread in this
// test that answers scripted responses (one request per connection).
#include "common/http/http_transport.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"

namespace luksfs::http {
namespace {

// What the server saw of one request.
struct Seen {
  std::string head;  // request line and headers
  std::string body;
};

// A scripted reply: raw bytes to send, then close. "" = close at once.
class TestServer {
 public:
  TestServer() {
    fd_ = UniqueFd(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(fd_.get(), 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TestServer() {
    stop_ = true;
    thread_.join();
  }
  std::string Url(const std::string& path = "/x") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void Reply(std::string raw) {
    std::lock_guard<std::mutex> l(mu_);
    replies_.push_back(std::move(raw));
  }
  std::vector<Seen> seen() {
    std::lock_guard<std::mutex> l(mu_);
    return seen_;
  }
  static std::string Ok(long status, const std::string& body,
                        const std::string& extra = "") {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n" + extra +
           "\r\n" + body;
  }

 private:
  void Serve() {
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      UniqueFd conn(::accept(fd_.get(), nullptr, nullptr));
      if (conn.get() < 0) continue;
      const int c = conn.get();
      Seen s = ReadRequest(c);
      std::string reply;
      {
        std::lock_guard<std::mutex> l(mu_);
        seen_.push_back(s);
        if (!replies_.empty()) {
          reply = std::move(replies_.front());
          replies_.pop_front();
        }
      }
      size_t off = 0;
      while (off < reply.size()) {
        ssize_t n = ::send(c, reply.data() + off, reply.size() - off, MSG_NOSIGNAL);
        if (n <= 0) break;
        off += size_t(n);
      }
    }
  }
  static Seen ReadRequest(int c) {
    Seen s;
    std::string buf;
    char tmp[65536];
    size_t body_len = 0;
    bool have_head = false;
    while (true) {
      if (have_head && buf.size() >= body_len) break;
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) break;
      buf.append(tmp, size_t(n));
      if (!have_head) {
        size_t end = buf.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        s.head = buf.substr(0, end + 2);
        buf.erase(0, end + 4);
        have_head = true;
        std::string lower = s.head;
        for (char& ch : lower) ch = char(std::tolower((unsigned char)ch));
        size_t cl = lower.find("content-length:");
        if (cl != std::string::npos) body_len = std::stoul(lower.substr(cl + 15));
      }
    }
    s.body = buf;
    return s;
  }

  UniqueFd fd_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;  // guards replies_ and seen_; leaf lock
  std::deque<std::string> replies_;
  std::vector<Seen> seen_;
  std::thread thread_;  // last: starts after the members above exist
};

RetryRules Quick(unsigned retries) {
  RetryRules r;
  r.policy = {retries, std::chrono::milliseconds(1),
              std::chrono::milliseconds(2), false};
  return r;
}

TEST(HttpTransport, GetReturnsStatusBodyAndLowerCaseHeaders) {
  TestServer srv;
  srv.Reply(TestServer::Ok(200, "hello", "ETag:  \"abc\"  \r\nX-Thing: 1\r\n"));
  HttpTransport t;
  Request req;
  req.url = srv.Url("/a/../b");
  req.headers = {"X-Mine: yes"};
  bool retryable = true;
  Result<Response> r = t.SendOnce(req, &retryable);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(retryable);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  ASSERT_TRUE(r->Header("etag").has_value());
  EXPECT_EQ(*r->Header("etag"), "\"abc\"");
  EXPECT_EQ(*r->Header("x-thing"), "1");
  EXPECT_FALSE(r->Header("nope").has_value());
  auto seen = srv.seen();
  ASSERT_EQ(seen.size(), 1u);
  // Sent as given (no dot-segment squashing), with the fixed headers.
  EXPECT_EQ(seen[0].head.rfind("GET /a/../b HTTP/1.1\r\n", 0), 0u) << seen[0].head;
  EXPECT_NE(seen[0].head.find("X-Mine: yes\r\n"), std::string::npos);
  EXPECT_NE(seen[0].head.find("User-Agent: luksfs\r\n"), std::string::npos);
  EXPECT_EQ(t.requests_sent(), 1u);
}

TEST(HttpTransport, PostAndPutSendBorrowedBytesAndReaderBodies) {
  TestServer srv;
  for (int i = 0; i < 3; ++i) srv.Reply(TestServer::Ok(200, ""));
  HttpTransport t;
  const std::string payload(100000, 'p');
  Request post;
  post.method = "POST";
  post.url = srv.Url();
  post.body = {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()};
  bool retryable = false;
  ASSERT_TRUE(t.SendOnce(post, &retryable).ok());
  Request put = post;
  put.method = "PUT";
  ASSERT_TRUE(t.SendOnce(put, &retryable).ok());
  Request rd;
  rd.method = "PUT";
  rd.url = srv.Url();
  rd.body_size = 70000;
  rd.body_reader = [](uint64_t off, std::span<uint8_t> dst) {
    for (size_t i = 0; i < dst.size(); ++i) dst[i] = uint8_t('a' + (off + i) % 26);
    return dst.size();
  };
  ASSERT_TRUE(t.SendOnce(rd, &retryable).ok());
  auto seen = srv.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].head.rfind("POST ", 0), 0u);
  EXPECT_EQ(seen[0].body, payload);
  EXPECT_EQ(seen[1].head.rfind("PUT ", 0), 0u);
  EXPECT_EQ(seen[1].body, payload);
  EXPECT_EQ(seen[0].head.find("Expect:"), std::string::npos);
  ASSERT_EQ(seen[2].body.size(), 70000u);
  for (size_t i = 0; i < 70000; ++i) ASSERT_EQ(seen[2].body[i], char('a' + i % 26)) << i;
}

TEST(HttpTransport, SecretHeaderIsSent) {
  TestServer srv;
  srv.Reply(TestServer::Ok(204, ""));
  HttpTransport t;
  const std::string line = "Authorization: Bearer s3cr3t";
  auto secret = SecureBuffer::CopyOf(
      {reinterpret_cast<const uint8_t*>(line.data()), line.size()});
  ASSERT_TRUE(secret.ok());
  Request req;
  req.method = "DELETE";
  req.url = srv.Url();
  req.secret_header = &*secret;
  bool retryable = false;
  Result<Response> r = t.SendOnce(req, &retryable);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 204);
  auto seen = srv.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].head.rfind("DELETE ", 0), 0u);
  EXPECT_NE(seen[0].head.find(line + "\r\n"), std::string::npos);
  // The caller's buffer is borrowed, not consumed.
  EXPECT_TRUE(secret->Equals({reinterpret_cast<const uint8_t*>(line.data()), line.size()}));
}

TEST(HttpTransport, BodyBoundFailsOrTruncates) {
  TestServer srv;
  const std::string big(5000, 'b');
  srv.Reply(TestServer::Ok(200, big));
  srv.Reply(TestServer::Ok(200, big));
  HttpTransport t;
  Request req;
  req.url = srv.Url();
  req.max_body = 1000;
  bool retryable = true;
  Result<Response> r = t.SendOnce(req, &retryable);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_FALSE(retryable);
  EXPECT_NE(r.status().message().find("larger than 1000 bytes"), std::string::npos)
      << r.status().message();
  req.truncate_body = true;
  r = t.SendOnce(req, &retryable);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->body, big.substr(0, 1000));
}

TEST(HttpTransport, BodyWriterTakesKeepsOrAborts) {
  TestServer srv;
  srv.Reply(TestServer::Ok(206, "0123456789"));
  srv.Reply(TestServer::Ok(404, "<Error>no</Error>"));
  srv.Reply(TestServer::Ok(206, "0123456789"));
  HttpTransport t;
  std::string got;
  Request req;
  req.url = srv.Url();
  req.body_writer = [&](long status, std::span<const uint8_t> chunk) {
    if (status != 206) return SinkVerdict::kKeep;
    if (got.size() + chunk.size() > 4) return SinkVerdict::kAbort;
    got.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return SinkVerdict::kTaken;
  };
  bool retryable = true;
  Result<Response> r = t.SendOnce(req, &retryable);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIOError);
  EXPECT_FALSE(retryable);
  r = t.SendOnce(req, &retryable);  // an error status goes to the body
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "<Error>no</Error>");
  got.clear();
  req.body_writer = [&](long, std::span<const uint8_t> chunk) {
    got.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return SinkVerdict::kTaken;
  };
  r = t.SendOnce(req, &retryable);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(got, "0123456789");
  EXPECT_EQ(r->body, "");
}

TEST(HttpTransport, RetriesRetryableStatusesThenSucceeds) {
  TestServer srv;
  srv.Reply(TestServer::Ok(503, "busy"));
  srv.Reply("");  // connection closed without an answer
  srv.Reply(TestServer::Ok(200, "done"));
  HttpTransport t;
  Request req;
  req.url = srv.Url();
  RetryRules rules = Quick(5);
  int before = 0;
  std::vector<unsigned> retries;
  rules.before_attempt = [&](Request& r) {
    r.headers = {"X-Attempt: " + std::to_string(++before)};
    return Status::Ok();
  };
  rules.on_retry = [&](const Result<Response>&, unsigned n) { retries.push_back(n); };
  SendInfo info;
  Result<Response> r = t.Send(req, rules, &info);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "done");
  EXPECT_EQ(info.attempts, 3u);
  EXPECT_FALSE(info.exhausted);
  EXPECT_EQ(retries, (std::vector<unsigned>{0, 1}));
  auto seen = srv.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_NE(seen[2].head.find("X-Attempt: 3\r\n"), std::string::npos);
}

TEST(HttpTransport, GivesUpAfterThePolicysRetries) {
  TestServer srv;
  for (int i = 0; i < 5; ++i) srv.Reply(TestServer::Ok(500, "no"));
  HttpTransport t;
  Request req;
  req.url = srv.Url();
  SendInfo info;
  Result<Response> r = t.Send(req, Quick(2), &info);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(info.attempts, 3u);
  EXPECT_TRUE(info.exhausted);
  EXPECT_EQ(srv.seen().size(), 3u);
}

TEST(HttpTransport, CallerDecidesWhatIsRetryable) {
  TestServer srv;
  srv.Reply(TestServer::Ok(400, "<Code>RequestTimeout</Code>"));
  srv.Reply(TestServer::Ok(503, ""));
  HttpTransport t;
  Request req;
  req.url = srv.Url();
  RetryRules rules = Quick(3);
  rules.retry_response = [](const Response& r) {
    return r.body.find("RequestTimeout") != std::string::npos;
  };
  SendInfo info;
  Result<Response> r = t.Send(req, rules, &info);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 503);  // not retryable under these rules
  EXPECT_EQ(info.attempts, 2u);
  EXPECT_FALSE(info.exhausted);
}

TEST(HttpTransport, NonRetryableStatusIsReturnedAtOnce) {
  TestServer srv;
  srv.Reply(TestServer::Ok(501, ""));
  HttpTransport t;
  Request req;
  req.url = srv.Url();
  SendInfo info;
  Result<Response> r = t.Send(req, Quick(4), &info);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 501);
  EXPECT_EQ(info.attempts, 1u);
}

TEST(HttpTransport, UnreachableIsRetryableUnavailable) {
  int port = 0;
  {
    TestServer gone;  // a port that was just free; nobody listens after this
    port = std::stoi(gone.Url("").substr(std::string("http://127.0.0.1:").size()));
  }
  HttpTransport t;
  Request req;
  req.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  req.what = "GET thing";
  SendInfo info;
  Result<Response> r = t.Send(req, Quick(1), &info);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(r.status().message().rfind("GET thing: unreachable: ", 0), 0u)
      << r.status().message();
  EXPECT_EQ(info.attempts, 2u);
  EXPECT_TRUE(info.exhausted);
}

TEST(HttpTransport, BadUrlAndSchemeAreInvalidArgument) {
  HttpTransport t;
  Request req;
  req.url = "ftp://127.0.0.1/x";
  SendInfo info;
  Result<Response> r = t.Send(req, Quick(3), &info);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << r.status().message();
  EXPECT_EQ(info.attempts, 1u);
  req.url = "http://[::1/x";
  r = t.Send(req, Quick(3), &info);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument) << r.status().message();
}

TEST(HttpTransport, ShortBodyIsRetryableUnavailable) {
  // Fewer body bytes than Content-Length, then the connection closes.
  TestServer srv;
  HttpTransport t;
  Request req;
  req.url = srv.Url();
  req.timeouts.total_ms = 1500;
  srv.Reply("HTTP/1.1 200 X\r\nContent-Length: 100\r\n\r\nshort");
  bool retryable = false;
  Result<Response> r = t.SendOnce(req, &retryable);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kUnavailable);
  EXPECT_TRUE(retryable);  // a partial body is transient
}

TEST(HttpTransport, BeforeAttemptErrorEndsSend) {
  HttpTransport t;
  Request req;
  req.url = "http://127.0.0.1:1/";
  RetryRules rules = Quick(3);
  rules.before_attempt = [](Request&) { return Status::Internal("no signature"); };
  Result<Response> r = t.Send(req, rules);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "no signature");
  EXPECT_EQ(t.requests_sent(), 0u);
}

}  // namespace
}  // namespace luksfs::http
