#include "fs/storage/s3_uri.h"

#include <gtest/gtest.h>

#include <map>

namespace luksfs::fs {
namespace {

TEST(S3Uri, Parses) {
  auto l = ParseS3Uri("s3://bucket/images/vm1.luks");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->bucket, "bucket");
  EXPECT_EQ(l->key, "images/vm1.luks");
  EXPECT_TRUE(IsS3Uri("s3://a"));
  EXPECT_FALSE(IsS3Uri("/tmp/s3://x"));
}

TEST(S3Uri, Rejects) {
  for (const char* bad : {"s3://", "s3://bucket", "s3://bucket/", "s3://ab/k",
                          "s3://bu ck/k", "http://b/k", "s3://bucket/a\nb"}) {
    EXPECT_EQ(ParseS3Uri(bad).status().code(), Status::Code::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ParseS3Uri("s3://bucket/" + std::string(1025, 'k')).ok());
}

EnvFn FakeEnv(std::map<std::string, std::string> m) {
  return [m](const char* n) -> std::optional<std::string> {
    auto it = m.find(n);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

std::string Str(const SecureBuffer& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

TEST(S3Credentials, FromEnvironment) {
  auto c = LoadS3Credentials(FakeEnv({{"AWS_ACCESS_KEY_ID", "AK"},
                                      {"AWS_SECRET_ACCESS_KEY", "SK"},
                                      {"AWS_SESSION_TOKEN", "TOK"}}));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->access_key_id, "AK");
  EXPECT_EQ(Str(c->secret_key), "SK");
  EXPECT_EQ(Str(c->session_token), "TOK");
}

TEST(S3Credentials, ProfileFile) {
  const char text[] =
      "# comment\n[default]\naws_access_key_id = D\naws_secret_access_key=DS\n"
      "\n[profile work]\r\naws_access_key_id=W\r\naws_secret_access_key = W S \r\n"
      "aws_session_token=T\n";
  auto d = ParseCredentialsFile(text, "default");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->access_key_id, "D");
  EXPECT_EQ(Str(d->secret_key), "DS");
  EXPECT_TRUE(d->session_token.empty());
  auto w = ParseCredentialsFile(text, "work");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(Str(w->secret_key), "W S");
  EXPECT_EQ(Str(w->session_token), "T");
  EXPECT_EQ(ParseCredentialsFile(text, "nope").status().code(), Status::Code::kNotFound);
  EXPECT_EQ(ParseCredentialsFile("[x]\naws_access_key_id=a\n", "x").status().code(),
            Status::Code::kNotFound);
}

TEST(S3Credentials, MissingFileIsNotFound) {
  auto c = LoadS3Credentials(FakeEnv({{"AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c"}}));
  EXPECT_EQ(c.status().code(), Status::Code::kNotFound);
}

TEST(S3Endpoint, Addressing) {
  S3Options o;
  auto aws = ResolveEndpoint(o, "eu-west-1", "bkt");
  ASSERT_TRUE(aws.ok());
  EXPECT_EQ(aws->scheme, "https");
  EXPECT_EQ(aws->host, "bkt.s3.eu-west-1.amazonaws.com");
  EXPECT_TRUE(aws->virtual_host);
  EXPECT_FALSE(ResolveEndpoint(o, "us-east-1", "a.b.c")->virtual_host);
  o.endpoint = "http://127.0.0.1:7480/";
  auto rgw = ResolveEndpoint(o, "us-east-1", "bkt");
  ASSERT_TRUE(rgw.ok());
  EXPECT_EQ(rgw->host, "127.0.0.1:7480");
  EXPECT_FALSE(rgw->virtual_host);
  o.addressing = S3Addressing::kVirtualHost;
  EXPECT_EQ(ResolveEndpoint(o, "r", "bkt")->host, "bkt.127.0.0.1:7480");
  o.endpoint = "ftp://x";
  EXPECT_FALSE(ResolveEndpoint(o, "r", "bkt").ok());
  o.endpoint = "https://user@host/path";
  EXPECT_FALSE(ResolveEndpoint(o, "r", "bkt").ok());
}

TEST(S3Region, Order) {
  S3Options o;
  EXPECT_EQ(ResolveRegion(o, FakeEnv({})), "us-east-1");
  EXPECT_EQ(ResolveRegion(o, FakeEnv({{"AWS_DEFAULT_REGION", "b"}})), "b");
  EXPECT_EQ(ResolveRegion(o, FakeEnv({{"AWS_DEFAULT_REGION", "b"}, {"AWS_REGION", "a"}})), "a");
  o.region = "c";
  EXPECT_EQ(ResolveRegion(o, FakeEnv({{"AWS_REGION", "a"}})), "c");
}

}  // namespace
}  // namespace luksfs::fs
