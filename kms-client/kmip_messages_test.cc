// Unit tests of the KMIP message layer, the wrapped-blob format and the
// kmip:// URI: no server needed.

#include "kms-client/kmip_messages.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kms-client/kmip_blob.h"
#include "kms-client/kmip_client.h"
#include "kms-client/kmip_tags.h"
#include "kms-client/tls_connection.h"

namespace luksfs::kms {
namespace {

std::vector<uint8_t> FromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  int half = -1;
  for (char c : hex) {
    int v = (c >= '0' && c <= '9')   ? c - '0'
            : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                     : -1;
    if (v < 0) continue;
    if (half < 0) {
      half = v;
    } else {
      out.push_back(static_cast<uint8_t>(half << 4 | v));
      half = -1;
    }
  }
  return out;
}

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

// doc/kmip.md: the Discover Versions request, byte for byte.
TEST(KmipMessagesTest, DiscoverVersionsRequestIsThePublished104Bytes) {
  const std::vector<uint8_t> want = FromHex(
      "42007801 00000060"
      "42007701 00000038"
      "42006901 00000020"
      "42006a02 00000004 00000001 00000000"
      "42006b02 00000004 00000002 00000000"
      "42000d02 00000004 00000001 00000000"
      "42000f01 00000018"
      "42005c05 00000004 0000001e 00000000"
      "42007901 00000000");
  ASSERT_EQ(want.size(), 104u);
  TtlvItem req = kmip::BuildRequest({1, 2}, kmip::op::kDiscoverVersions,
                                    TtlvItem::Structure(0), nullptr);
  Result<std::vector<uint8_t>> got = EncodeTtlv(req);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, want);
}

// doc/kmip.md: the batch item of a Get for UID "3".
TEST(KmipMessagesTest, GetRequestBatchItem) {
  TtlvItem req = kmip::BuildRequest({1, 2}, kmip::op::kGet,
                                    kmip::UidPayload("3"), nullptr);
  const TtlvItem* item = req.Find(kmip::tag::kBatchItem);
  ASSERT_NE(item, nullptr);
  Result<std::vector<uint8_t>> got = EncodeTtlv(*item);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, FromHex("42000f01 00000028 42005c05 00000004 0000000a "
                          "00000000 42007901 00000010 42009407 00000001 "
                          "33000000 00000000"));
}

TEST(KmipMessagesTest, CredentialGoesInTheHeader) {
  const std::vector<uint8_t> pw = Bytes("s3cret");
  kmip::Credential cred{"alice", pw};
  TtlvItem req =
      kmip::BuildRequest({1, 4}, kmip::op::kGet, kmip::UidPayload("7"), &cred);
  const TtlvItem* h = req.Find(kmip::tag::kRequestHeader);
  ASSERT_NE(h, nullptr);
  const TtlvItem* auth = h->Find(kmip::tag::kAuthentication);
  ASSERT_NE(auth, nullptr);
  const TtlvItem* c = auth->Find(kmip::tag::kCredential);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->Find(kmip::tag::kCredentialType)->integer, 1);
  const TtlvItem* v = c->Find(kmip::tag::kCredentialValue);
  EXPECT_EQ(v->Find(kmip::tag::kUsername)->text(), "alice");
  EXPECT_EQ(v->Find(kmip::tag::kPassword)->text(), "s3cret");
  // Header order: Protocol Version, Authentication, Batch Count.
  ASSERT_EQ(h->children.size(), 3u);
  EXPECT_EQ(h->children[1].tag, kmip::tag::kAuthentication);
  EXPECT_EQ(h->children[2].tag, kmip::tag::kBatchCount);
}

// doc/kmip.md: PyKMIP's answer to Get after Destroy.
TEST(KmipMessagesTest, ParsesThePublishedErrorResponse) {
  const std::vector<uint8_t> bytes = FromHex(
      "42007b01000000b0 42007a0100000048"
      "42006901 00000020 42006a02 00000004 00000001 00000000"
      "42006b02 00000004 00000002 00000000"
      "42009209 00000008 000000006b028a7c"
      "42000d02 00000004 00000001 00000000"
      "42000f0100000058 42005c05 00000004 0000000a 00000000"
      "42007f05 00000004 00000001 00000000"
      "42007e05 00000004 00000001 00000000"
      "42007d07 0000001a"
      "436f756c64206e6f74206c6f63617465206f626a6563743a2033 000000000000");
  Result<TtlvItem> tree = DecodeTtlv(bytes);
  ASSERT_TRUE(tree.ok()) << tree.status().ToString();
  Result<kmip::Response> r = kmip::ParseResponse(*tree, kmip::op::kGet);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->ok());
  EXPECT_EQ(r->version, (kmip::ProtocolVersion{1, 2}));
  EXPECT_EQ(r->operation, kmip::op::kGet);
  EXPECT_EQ(r->result_status, kmip::status::kOperationFailed);
  EXPECT_EQ(r->result_reason, kmip::reason::kItemNotFound);
  EXPECT_EQ(r->result_message, "Could not locate object: 3");
  // The same response claimed for another operation is refused.
  EXPECT_EQ(kmip::ParseResponse(*tree, kmip::op::kDecrypt).status().code(),
            Status::Code::kCorruption);
}

TtlvItem SuccessResponse(uint32_t operation, TtlvItem payload) {
  payload.tag = kmip::tag::kResponsePayload;
  using T = TtlvItem;
  return T::Structure(
      kmip::tag::kResponseMessage,
      {T::Structure(
           kmip::tag::kResponseHeader,
           {T::Structure(kmip::tag::kProtocolVersion,
                         {T::Integer(kmip::tag::kProtocolVersionMajor, 1),
                          T::Integer(kmip::tag::kProtocolVersionMinor, 4)}),
            T::DateTime(kmip::tag::kTimeStamp, 1),
            T::Integer(kmip::tag::kBatchCount, 1)}),
       T::Structure(
           kmip::tag::kBatchItem,
           {T::Enumeration(kmip::tag::kOperation, operation),
            T::Enumeration(kmip::tag::kResultStatus, 0), std::move(payload)})});
}

TEST(KmipMessagesTest, ParsesPayloads) {
  using T = TtlvItem;
  // Get Attributes(State) = Deactivated.
  TtlvItem attrs = T::Structure(
      0, {T::Text(kmip::tag::kUniqueIdentifier, "5"),
          T::Structure(kmip::tag::kAttribute,
                       {T::Text(kmip::tag::kAttributeName, "State"),
                        T::Enumeration(kmip::tag::kAttributeValue, 3)})});
  auto r = kmip::ParseResponse(SuccessResponse(kmip::op::kGetAttributes, attrs),
                               kmip::op::kGetAttributes);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*kmip::ParseStateAttribute(*r), kmip::state::kDeactivated);
  EXPECT_EQ(*kmip::ParseUid(*r), "5");

  // Get of a Raw AES key.
  const std::vector<uint8_t> key(32, 0x5A);
  TtlvItem get = T::Structure(
      0,
      {T::Enumeration(kmip::tag::kObjectType, 2),
       T::Text(kmip::tag::kUniqueIdentifier, "5"),
       T::Structure(kmip::tag::kSymmetricKey,
                    {T::Structure(
                        kmip::tag::kKeyBlock,
                        {T::Enumeration(kmip::tag::kKeyFormatType, 1),
                         T::Structure(kmip::tag::kKeyValue,
                                      {T::Bytes(kmip::tag::kKeyMaterial, key)}),
                         T::Enumeration(kmip::tag::kCryptographicAlgorithm, 3),
                         T::Integer(kmip::tag::kCryptographicLength, 256)})})});
  r = kmip::ParseResponse(SuccessResponse(kmip::op::kGet, get), kmip::op::kGet);
  ASSERT_TRUE(r.ok());
  Result<SecureBuffer> k = kmip::ParseSymmetricKey(*r);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_TRUE(k->Equals(key));

  // A response without its payload is malformed for these parsers.
  TtlvItem bare = SuccessResponse(kmip::op::kGet, T::Structure(0));
  bare.children[1].children.pop_back();
  r = kmip::ParseResponse(bare, kmip::op::kGet);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(kmip::ParseSymmetricKey(*r).status().code(),
            Status::Code::kCorruption);
}

TEST(KmipMessagesTest, MalformedResponses) {
  using T = TtlvItem;
  EXPECT_FALSE(kmip::ParseResponse(T::Integer(kmip::tag::kResponseMessage, 1),
                                   kmip::op::kGet)
                   .ok());
  EXPECT_FALSE(
      kmip::ParseResponse(T::Structure(kmip::tag::kResponseMessage), 1).ok());
  TtlvItem two = SuccessResponse(kmip::op::kGet, T::Structure(0));
  two.children.push_back(two.children[1]);
  EXPECT_EQ(kmip::ParseResponse(two, kmip::op::kGet).status().code(),
            Status::Code::kCorruption);
}

TEST(KmipMessagesTest, CreatePayloadShape) {
  kmip::CreateParams p;
  p.name = "root";
  p.custom_attributes = {{"x-Vendor", "luksfs"}, {"x-Identifier", ""}};
  TtlvItem payload = kmip::CreatePayload(p);
  EXPECT_EQ(payload.Find(kmip::tag::kObjectType)->integer, 2);
  const TtlvItem* ta = payload.Find(kmip::tag::kTemplateAttribute);
  ASSERT_NE(ta, nullptr);
  std::vector<std::string> names;
  for (const TtlvItem* a : ta->FindAll(kmip::tag::kAttribute)) {
    names.emplace_back(a->Find(kmip::tag::kAttributeName)->text());
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "Cryptographic Algorithm", "Cryptographic Length",
                       "Cryptographic Usage Mask", "Name", "x-Vendor"}));
  EXPECT_TRUE(EncodeTtlv(payload).ok());
}

TEST(KmipBlobTest, LocalRoundTripAndTamper) {
  Result<SecureBuffer> key = SecureBuffer::Create(32);
  ASSERT_TRUE(key.ok());
  for (size_t i = 0; i < 32; ++i) key->data()[i] = static_cast<uint8_t>(i);
  const std::vector<uint8_t> secret = Bytes("correct horse battery staple");
  Result<std::vector<uint8_t>> blob = kmip::WrapLocal(*key, secret);
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ(blob->size(), kmip::kBlobOverhead + secret.size());
  EXPECT_EQ(std::string(blob->begin(), blob->begin() + 4), "LKW1");
  EXPECT_EQ((*blob)[4], 2);  // local mode
  Result<SecureBuffer> back = kmip::UnwrapLocal(*key, *blob);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->Equals(secret));

  // Two wraps use different IVs.
  Result<std::vector<uint8_t>> blob2 = kmip::WrapLocal(*key, secret);
  ASSERT_TRUE(blob2.ok());
  EXPECT_NE(*blob, *blob2);

  // Any changed byte fails (the mode byte too: it is authenticated).
  for (size_t i : {size_t{4}, size_t{8}, size_t{20}, blob->size() - 1}) {
    std::vector<uint8_t> bad = *blob;
    bad[i] ^= (i == 4) ? 3 : 1;  // 2 -> 1: still a valid mode
    EXPECT_EQ(kmip::UnwrapLocal(*key, bad).status().code(),
              Status::Code::kCorruption)
        << "byte " << i;
  }
  // Another key fails.
  key->data()[0] ^= 1;
  EXPECT_EQ(kmip::UnwrapLocal(*key, *blob).status().code(),
            Status::Code::kCorruption);
}

TEST(KmipBlobTest, FramingChecks) {
  EXPECT_FALSE(kmip::ParseBlob(Bytes("")).ok());
  EXPECT_FALSE(kmip::ParseBlob(Bytes("vault:v1:abc")).ok());
  std::vector<uint8_t> b = kmip::BlobHeader(kmip::BlobMode::kServer);
  EXPECT_FALSE(kmip::ParseBlob(b).ok());  // no IV/tag/ciphertext
  b.resize(kmip::kBlobOverhead + 1);
  EXPECT_TRUE(kmip::ParseBlob(b).ok());
  b[4] = 9;
  EXPECT_FALSE(kmip::ParseBlob(b).ok());
  b[4] = 1;
  b[5] = 16;
  EXPECT_FALSE(kmip::ParseBlob(b).ok());
  b[5] = 12;
  b.resize(kmip::kBlobOverhead + 4097);
  EXPECT_FALSE(kmip::ParseBlob(b).ok());
  Result<SecureBuffer> key = SecureBuffer::Create(16);
  EXPECT_EQ(kmip::WrapLocal(*key, Bytes("x")).status().code(),
            Status::Code::kInvalidArgument);
}

TEST(KmipUriTest, Parses) {
  Result<KmipUri> u = ParseKmipUri(
      "kmip://kms1.example:5697,10.0.0.2,[::1]:9/abc%2F1?mode=local");
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  ASSERT_EQ(u->endpoints.size(), 3u);
  EXPECT_EQ(u->endpoints[0].host, "kms1.example");
  EXPECT_EQ(u->endpoints[0].port, 5697);
  EXPECT_EQ(u->endpoints[1].host, "10.0.0.2");
  EXPECT_EQ(u->endpoints[1].port, kKmipDefaultPort);
  EXPECT_EQ(u->endpoints[2].host, "::1");
  EXPECT_EQ(u->endpoints[2].port, 9);
  EXPECT_EQ(u->key_id, "abc/1");
  EXPECT_EQ(u->mode, KmipMode::kLocal);
  EXPECT_EQ(u->WithKey("42"),
            "kmip://kms1.example:5697,10.0.0.2:5696,[::1]:9/42?mode=local");

  u = ParseKmipUri("kmip://127.0.0.1/3");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->mode, KmipMode::kServer);
  EXPECT_FALSE(u->mode_given);
  EXPECT_EQ(u->WithKey("3"), "kmip://127.0.0.1:5696/3");
  u = ParseKmipUri("kmip://127.0.0.1:5696");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->key_id, "");
}

TEST(KmipUriTest, Rejects) {
  for (const char* bad :
       {"http://x/1", "kmip:///1", "kmip://h:0/1", "kmip://h:65536/1",
        "kmip://h:/1", "kmip://h:12a/1", "kmip://::1/1", "kmip://[::1/1",
        "kmip://h,/1", "kmip://h/1?mode=fast", "kmip://h/1#frag",
        "kmip://h/%zz", "kmip://h/%4", "kmip://h o/1"}) {
    Result<KmipUri> u = ParseKmipUri(bad);
    EXPECT_EQ(u.status().code(), Status::Code::kInvalidArgument) << bad;
  }
}

TEST(KmipUriTest, OpenNeedsAKeyAndReadableFiles) {
  KmsOptions o;
  EXPECT_EQ(OpenKmipClient("kmip://127.0.0.1/", o).status().code(),
            Status::Code::kInvalidArgument);
  o.client_cert_file = "/nonexistent/client.crt";
  Result<std::unique_ptr<KmsClient>> c =
      OpenKmipClient("kmip://127.0.0.1/1", o);
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("/nonexistent/client.crt"),
            std::string::npos);
  o = {};
  o.fingerprint = "ab:cd";
  EXPECT_EQ(OpenKmipClient("kmip://127.0.0.1/1", o).status().code(),
            Status::Code::kInvalidArgument);
  o = {};
  o.password_file = "/nonexistent";
  EXPECT_EQ(OpenKmipClient("kmip://127.0.0.1/1", o).status().code(),
            Status::Code::kInvalidArgument);
}

TEST(KmipUriTest, UnreachableServerIsUnavailable) {
  KmsOptions o;
  o.timeout_ms = 2000;
  // Port 1 on loopback: connection refused.
  Result<std::unique_ptr<KmsClient>> c =
      OpenKmipClient("kmip://127.0.0.1:1,127.0.0.1:2/1", o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  Result<KeyState> s = (*c)->State();
  EXPECT_EQ(s.status().code(), Status::Code::kUnavailable);
  EXPECT_NE(s.status().message().find("127.0.0.1:1"), std::string::npos);
  EXPECT_NE(s.status().message().find("127.0.0.1:2"), std::string::npos);
}

TEST(TlsTest, Fingerprints) {
  const std::string hex(64, 'a');
  Result<std::vector<uint8_t>> f = ParseFingerprint(hex);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->size(), 32u);
  std::string colons = FormatFingerprint(*f);
  EXPECT_EQ(colons.size(), 95u);
  Result<std::vector<uint8_t>> g = ParseFingerprint(colons);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(*f, *g);
  EXPECT_FALSE(ParseFingerprint(hex.substr(1)).ok());
  EXPECT_FALSE(ParseFingerprint(hex + "00").ok());
  EXPECT_FALSE(ParseFingerprint("zz" + hex.substr(2)).ok());
}

}  // namespace
}  // namespace luksfs::kms
