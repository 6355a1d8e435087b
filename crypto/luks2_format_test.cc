// Unit tests for the LUKS2 header reader: base64, the binary header, the two
// copies, and JSON validation. Headers are assembled in-process (binary
// header + JSON + SHA-256 checksum, both copies); one test also reads a real
// cryptsetup-made header when cryptsetup is installed.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "crypto/base64.h"
#include "crypto/luks2_disk_header.h"
#include "crypto/luks2_json.h"
#include "crypto/luks_header.h"

namespace luksfs::crypto {
namespace {

using Json = nlohmann::json;

constexpr uint64_t kHdr = 0x4000;
constexpr uint64_t kKeyslotsSize = 0x100000 - 2 * kHdr;  // data at 1 MiB
constexpr uint64_t kImageSize = 0x200000;

std::string B64(size_t n, uint8_t fill) {
  std::vector<uint8_t> v(n, fill);
  return Base64Encode(v);
}

Json DefaultJson(uint64_t hdr_size = kHdr) {
  const uint64_t ks0 = 2 * hdr_size;
  return Json::parse(R"({
    "keyslots": {
      "0": {"type": "luks2", "key_size": 64,
            "af": {"type": "luks1", "stripes": 4000, "hash": "sha256"},
            "area": {"type": "raw", "offset": ")" +
                     std::to_string(ks0) +
                     R"(", "size": "258048", "encryption": "aes-xts-plain64",
                     "key_size": 64},
            "kdf": {"type": "pbkdf2", "hash": "sha256", "iterations": 1000,
                    "salt": ")" +
                     B64(32, 1) + R"("}},
      "1": {"type": "luks2", "key_size": 64, "priority": 2,
            "af": {"type": "luks1", "stripes": 4000, "hash": "sha256"},
            "area": {"type": "raw", "offset": ")" +
                     std::to_string(ks0 + 258048) +
                     R"(", "size": "258048", "encryption": "aes-xts-plain64",
                     "key_size": 64},
            "kdf": {"type": "argon2id", "time": 4, "memory": 32768,
                    "cpus": 2, "salt": ")" +
                     B64(32, 2) + R"("}}
    },
    "tokens": {},
    "segments": {
      "0": {"type": "crypt", "offset": "1048576", "size": "dynamic",
            "iv_tweak": "0", "encryption": "aes-xts-plain64",
            "sector_size": 4096}
    },
    "digests": {
      "0": {"type": "pbkdf2", "keyslots": ["0", "1"], "segments": ["0"],
            "hash": "sha256", "iterations": 1000,
            "salt": ")" +
                     B64(32, 3) + R"(", "digest": ")" + B64(32, 4) +
                     R"("}
    },
    "config": {"json_size": ")" +
                     std::to_string(hdr_size - 4096) +
                     R"(", "keyslots_size": ")" +
                     std::to_string(0x100000 - 2 * hdr_size) + R"("}
  })");
}

// One header copy's binary fields.
struct CopySpec {
  const char* magic = nullptr;  // default: by position
  uint64_t hdr_size = kHdr;
  uint64_t seqid = 3;
  std::string label = "lbl";
  std::string uuid = "12345678-1234-1234-1234-123456789abc";
  std::optional<uint64_t> hdr_offset;  // default: where it is written
  std::string checksum_alg = "sha256";
};

// Writes one copy (binary header + json_text + sha256 checksum) at `offset`.
void WriteCopy(std::vector<uint8_t>& img, uint64_t offset, bool secondary,
               const std::string& json_text, const CopySpec& spec) {
  ASSERT_LE(offset + spec.hdr_size, img.size());
  ASSERT_LE(json_text.size(), spec.hdr_size - 4096);
  uint8_t* p = img.data() + offset;
  std::memset(p, 0, spec.hdr_size);
  Luks2DiskHeader d{};
  std::memcpy(d.magic,
              spec.magic  ? reinterpret_cast<const uint8_t*>(spec.magic)
              : secondary ? kLuks2SecondaryMagic
                          : kLuks2PrimaryMagic,
              6);
  d.version[1] = 2;
  StoreBe64(d.hdr_size, spec.hdr_size);
  StoreBe64(d.seqid, spec.seqid);
  StoreBe64(d.hdr_offset, spec.hdr_offset.value_or(offset));
  // Fields are zero-initialised; copy at most the field size (no NUL needed).
  auto put = [](char* field, size_t field_size, const std::string& value) {
    std::memcpy(field, value.data(), std::min(field_size, value.size()));
  };
  put(d.label, sizeof d.label, spec.label);
  put(d.uuid, sizeof d.uuid, spec.uuid);
  put(d.checksum_alg, sizeof d.checksum_alg, spec.checksum_alg);
  std::memcpy(p, &d, sizeof d);
  std::memcpy(p + 4096, json_text.data(), json_text.size());
  // Independent checksum: SHA-256 over the header (csum zero) + JSON area.
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr), 1);
  ASSERT_EQ(EVP_DigestUpdate(ctx, p, spec.hdr_size), 1);
  ASSERT_EQ(EVP_DigestFinal_ex(ctx, p + 448, &len), 1);
  EVP_MD_CTX_free(ctx);
}

std::vector<uint8_t> BuildImageText(const std::string& text,
                                    CopySpec primary = {},
                                    CopySpec secondary = {},
                                    uint64_t image_size = kImageSize) {
  std::vector<uint8_t> img(image_size);
  WriteCopy(img, 0, false, text, primary);
  WriteCopy(img, primary.hdr_size, true, text, secondary);
  return img;
}

std::vector<uint8_t> BuildImage(const Json& j, CopySpec primary = {},
                                CopySpec secondary = {}) {
  return BuildImageText(j.dump(), primary, secondary);
}

ReadFn ReaderOver(const std::vector<uint8_t>& img) {
  return [&img](uint64_t offset, std::span<uint8_t> dst) -> Status {
    if (offset > img.size() || dst.size() > img.size() - offset) {
      return Status::Corruption("image is truncated: read past the end");
    }
    std::memcpy(dst.data(), img.data() + offset, dst.size());
    return Status();
  };
}

Result<LuksHeader> Read(const std::vector<uint8_t>& img) {
  return ReadLuks2Header(ReaderOver(img), img.size());
}

// Expects kCorruption whose message contains `needle`.
void ExpectCorrupt(const Result<LuksHeader>& r, const std::string& needle) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find(needle), std::string::npos)
      << r.status().message();
}

// --- Base64 ----------------------------------------------------------------

TEST(Base64, RoundTrip) {
  for (size_t n = 0; n < 70; ++n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 37 + n);
    Result<std::vector<uint8_t>> d = Base64Decode(Base64Encode(v));
    ASSERT_TRUE(d.ok()) << n;
    EXPECT_EQ(*d, v);
  }
  EXPECT_EQ(Base64Encode(std::vector<uint8_t>{'f', 'o', 'o', 'b'}), "Zm9vYg==");
}

TEST(Base64, RejectsMalformed) {
  for (const char* bad :
       {"Zm9vYg=", "Zm9vYg", "Zm9v Yg==", "Zm9vYg=A", "Zm=vYg==", "====",
        "Zm9vYh==", "Zm9vYmE=x===", "Zm9v\nYmFy", "Zm9vYm-="}) {
    Result<std::vector<uint8_t>> d = Base64Decode(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.status().code(), Status::Code::kCorruption);
  }
  EXPECT_TRUE(Base64Decode("").ok());
}

TEST(Luks2Uint64, StrictDecimal) {
  EXPECT_EQ(*ParseLuks2Uint64("0", "x"), 0u);
  EXPECT_EQ(*ParseLuks2Uint64("18446744073709551615", "x"),
            18446744073709551615ull);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "0x10", "1e3",
                          "18446744073709551616", "99999999999999999999999"}) {
    EXPECT_FALSE(ParseLuks2Uint64(bad, "x").ok()) << bad;
  }
}

// --- Binary header and copies ----------------------------------------------

TEST(Luks2Header, ValidHeaderParses) {
  std::vector<uint8_t> img = BuildImage(DefaultJson());
  Result<LuksHeader> r = Read(img);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const LuksHeader& h = *r;
  EXPECT_EQ(h.version, 2);
  EXPECT_EQ(h.uuid, "12345678-1234-1234-1234-123456789abc");
  EXPECT_EQ(h.label, "lbl");
  EXPECT_EQ(h.hdr_size, kHdr);
  EXPECT_EQ(h.seqid, 3u);
  EXPECT_EQ(h.checksum_alg, "sha256");
  EXPECT_EQ(h.keyslots_size, kKeyslotsSize);
  EXPECT_TRUE(h.primary_valid);
  EXPECT_TRUE(h.secondary_valid);
  EXPECT_EQ(h.key_bytes, 64u);
  EXPECT_EQ(h.json, DefaultJson().dump());

  ASSERT_EQ(h.keyslots.size(), 2u);
  const Keyslot& k0 = h.keyslots[0];
  EXPECT_EQ(k0.index, 0);
  EXPECT_EQ(k0.type, "luks2");
  EXPECT_EQ(k0.priority, 1);
  EXPECT_EQ(k0.key_bytes, 64u);
  EXPECT_EQ(k0.kdf.type, KdfType::kPbkdf2);
  EXPECT_EQ(k0.kdf.hash, "sha256");
  EXPECT_EQ(k0.kdf.iterations, 1000u);
  EXPECT_EQ(k0.kdf.salt, std::vector<uint8_t>(32, 1));
  EXPECT_EQ(k0.af_hash, "sha256");
  EXPECT_EQ(k0.stripes, 4000u);
  EXPECT_EQ(k0.area_offset, 2 * kHdr);
  EXPECT_EQ(k0.area_size, 258048u);
  EXPECT_EQ(k0.area_cipher, "aes-xts-plain64");
  EXPECT_EQ(k0.area_key_bytes, 64u);
  const Keyslot& k1 = h.keyslots[1];
  EXPECT_EQ(k1.priority, 2);
  EXPECT_EQ(k1.kdf.type, KdfType::kArgon2id);
  EXPECT_EQ(k1.kdf.iterations, 4u);
  EXPECT_EQ(k1.kdf.memory_kib, 32768u);
  EXPECT_EQ(k1.kdf.cpus, 2u);

  ASSERT_EQ(h.segments.size(), 1u);
  EXPECT_EQ(h.segments[0].type, "crypt");
  EXPECT_EQ(h.segments[0].offset, 1048576u);
  EXPECT_FALSE(h.segments[0].size.has_value());
  EXPECT_EQ(h.segments[0].sector_size, 4096u);
  EXPECT_EQ(h.segments[0].encryption, "aes-xts-plain64");
  EXPECT_FALSE(h.segments[0].has_integrity);

  ASSERT_EQ(h.digests.size(), 1u);
  EXPECT_EQ(h.digests[0].keyslots, (std::vector<int>{0, 1}));
  EXPECT_EQ(h.digests[0].segments, (std::vector<int>{0}));
  EXPECT_EQ(h.digests[0].value, std::vector<uint8_t>(32, 4));
  EXPECT_TRUE(h.tokens.empty());
  EXPECT_TRUE(h.requirements.empty());
}

TEST(Luks2Header, PrimaryChecksumDamagedFallsBackToSecondary) {
  std::vector<uint8_t> img = BuildImage(DefaultJson());
  img[4096 + 10] ^= 1;  // inside the primary JSON text
  Result<LuksHeader> r = Read(img);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->primary_valid);
  EXPECT_TRUE(r->secondary_valid);
  EXPECT_EQ(r->primary_error, "checksum mismatch");
  EXPECT_EQ(r->keyslots.size(), 2u);
}

TEST(Luks2Header, SecondaryDamagedUsesPrimary) {
  std::vector<uint8_t> img = BuildImage(DefaultJson());
  img[kHdr + 448] ^= 0xff;  // secondary csum
  Result<LuksHeader> r = Read(img);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->primary_valid);
  EXPECT_FALSE(r->secondary_valid);
  EXPECT_EQ(r->secondary_error, "checksum mismatch");
  EXPECT_TRUE(r->primary_error.empty());
}

TEST(Luks2Header, BothDamagedIsCorruption) {
  std::vector<uint8_t> img = BuildImage(DefaultJson());
  img[4096 + 10] ^= 1;
  img[kHdr + 4096 + 10] ^= 1;
  ExpectCorrupt(Read(img), "checksum mismatch");
}

TEST(Luks2Header, HigherSeqidWins) {
  CopySpec p, s;
  p.label = "primary";
  s.label = "secondary";
  s.seqid = 4;
  Result<LuksHeader> r = Read(BuildImage(DefaultJson(), p, s));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->label, "secondary");
  EXPECT_EQ(r->seqid, 4u);

  p.seqid = 9;
  r = Read(BuildImage(DefaultJson(), p, s));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->label, "primary");

  p.seqid = s.seqid;  // tie: primary
  r = Read(BuildImage(DefaultJson(), p, s));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->label, "primary");
}

TEST(Luks2Header, BadMagic) {
  CopySpec bad;
  bad.magic = "LUKX\xba\xbe";
  Result<LuksHeader> r = Read(BuildImage(DefaultJson(), bad, {}));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->primary_error, "bad magic");
  // A primary magic in the secondary's place is not a secondary.
  CopySpec swapped;
  swapped.magic = "LUKS\xba\xbe";
  r = Read(BuildImage(DefaultJson(), bad, swapped));
  ExpectCorrupt(r, "bad magic");
}

TEST(Luks2Header, TruncatedImage) {
  std::vector<uint8_t> img = BuildImage(DefaultJson());
  for (size_t size : {0ul, 100ul, 4095ul, 4096ul, 0x3000ul}) {
    std::vector<uint8_t> small(img.begin(), img.begin() + size);
    ExpectCorrupt(Read(small), "image is truncated");
  }
  // Primary complete, secondary cut short: primary used.
  std::vector<uint8_t> part(img.begin(), img.begin() + kHdr + 0x1000);
  Result<LuksHeader> r = Read(part);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->secondary_valid);
  EXPECT_EQ(r->secondary_error.rfind("image is truncated", 0), 0u)
      << r->secondary_error;
}

TEST(Luks2Header, WrongHdrOffset) {
  CopySpec p;
  p.hdr_offset = 4096;
  Result<LuksHeader> r = Read(BuildImage(DefaultJson(), p, {}));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->primary_valid);
  EXPECT_NE(r->primary_error.find("hdr_offset"), std::string::npos);
  CopySpec s;
  s.hdr_offset = 0;
  ExpectCorrupt(Read(BuildImage(DefaultJson(), p, s)), "hdr_offset");
}

TEST(Luks2Header, HdrSizeNotAllowed) {
  CopySpec p;
  p.hdr_size = 0x5000;
  std::vector<uint8_t> img(kImageSize);
  WriteCopy(img, 0, false, DefaultJson().dump(), p);
  Result<LuksHeader> r = Read(img);
  ExpectCorrupt(r, "hdr_size 20480 is not allowed");
}

TEST(Luks2Header, ProbesSecondaryWhenPrimaryWiped) {
  constexpr uint64_t kHdr64k = 0x10000;
  CopySpec spec;
  spec.hdr_size = kHdr64k;
  std::vector<uint8_t> img = BuildImage(DefaultJson(kHdr64k), spec, spec);
  std::memset(img.data(), 0, 4096);
  Result<LuksHeader> r = Read(img);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->primary_valid);
  EXPECT_TRUE(r->secondary_valid);
  EXPECT_EQ(r->hdr_size, kHdr64k);
}

TEST(Luks2Header, UnknownChecksumAlgorithm) {
  CopySpec spec;
  spec.checksum_alg = "md4";
  Result<LuksHeader> r = Read(BuildImage(DefaultJson(), spec, spec));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kNotSupported);
}

// --- JSON area -------------------------------------------------------------

TEST(Luks2Json, MustStartWithBrace) {
  ExpectCorrupt(Read(BuildImageText(" " + DefaultJson().dump())),
                "does not start with '{'");
  ExpectCorrupt(Read(BuildImageText("")), "does not start with '{'");
}

TEST(Luks2Json, GarbageAfterJson) {
  ExpectCorrupt(Read(BuildImageText(DefaultJson().dump() + "x")), "garbage");
  ExpectCorrupt(Read(BuildImageText(DefaultJson().dump() + "\n")), "garbage");
  ExpectCorrupt(Read(BuildImageText(DefaultJson().dump() + "{}")), "garbage");
}

TEST(Luks2Json, MalformedAndUnterminated) {
  ExpectCorrupt(Read(BuildImageText("{\"a\":}")), "malformed");
  ExpectCorrupt(Read(BuildImageText("{\"a\":\"b")), "");
  ExpectCorrupt(Read(BuildImageText("{\"a\":[}")), "");
}

TEST(Luks2Json, DeepNestingRefused) {
  // Directly, in a 1 MiB area.
  std::vector<uint8_t> area(1 << 20, 0);
  area[0] = '{';
  std::memcpy(&area[1], "\"a\":", 4);
  for (size_t i = 5; i < 100005; ++i) area[i] = '[';
  LuksHeader h;
  Status s = ParseLuks2Json(area, area.size() + 4096, &h);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("nesting"), std::string::npos) << s.message();

  // Through the reader, with a 128 KiB header.
  CopySpec spec;
  spec.hdr_size = 0x20000;
  std::string text = "{\"a\":" + std::string(100000, '[');
  ExpectCorrupt(Read(BuildImageText(text, spec, spec)), "nesting");
  // Brackets inside strings do not count.
  Json j = DefaultJson();
  j["x"] = std::string(1000, '[');
  EXPECT_TRUE(Read(BuildImage(j)).ok());
  // 16 levels are fine, 17 are not.
  j = DefaultJson();
  j["x"] = Json::parse(std::string(15, '[') + std::string(15, ']'));
  EXPECT_TRUE(Read(BuildImage(j)).ok());
  j["x"] = Json::parse(std::string(16, '[') + std::string(16, ']'));
  ExpectCorrupt(Read(BuildImage(j)), "nesting");
}

// Applies `edit` to the default JSON and reads the result.
template <typename Fn>
Result<LuksHeader> ReadEdited(Fn edit) {
  Json j = DefaultJson();
  edit(j);
  return Read(BuildImage(j));
}

TEST(Luks2Json, NonDecimalUint64Refused) {
  for (const char* bad : {"0x8000", "-32768", "+32768", "32768 ", "", "3.2e4",
                          "99999999999999999999"}) {
    ExpectCorrupt(ReadEdited([&](Json& j) {
                    j["keyslots"]["0"]["area"]["offset"] = bad;
                  }),
                  "keyslot 0");
  }
  // A number instead of a string.
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["segments"]["0"]["offset"] = 1048576; }),
      "segment 0: 'offset' is not a string");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["config"]["keyslots_size"] = "1e6"; }),
      "config");
}

TEST(Luks2Json, ObjectNamesMustBeDecimal) {
  ExpectCorrupt(
      ReadEdited([](Json& j) {
        j["tokens"]["x"] = {{"type", "t"}, {"keyslots", Json::array()}};
      }),
      "tokens: invalid name");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["32"] = j["keyslots"]["0"]; }),
      "keyslots: invalid name '32'");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["01"] = j["keyslots"]["0"]; }),
      "keyslots: invalid name '01'");
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["digests"]["0"]["keyslots"] = {"0", "a"};
                }),
                "digest 0");
}

TEST(Luks2Json, JsonSizeMustMatch) {
  ExpectCorrupt(ReadEdited([](Json& j) { j["config"]["json_size"] = "8192"; }),
                "json_size 8192");
}

TEST(Luks2Json, KeyslotsSizeBounds) {
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["config"]["keyslots_size"] = "4097"; }),
      "keyslots_size");
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["config"]["keyslots_size"] = std::to_string(129ull << 20);
                }),
                "keyslots_size");
  // Keyslots area running into the data segment.
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["config"]["keyslots_size"] =
                      std::to_string(kKeyslotsSize + 4096);
                }),
                "segment 0");
}

TEST(Luks2Json, KeyslotAreas) {
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["keyslots"]["1"]["area"]["offset"] =
                      std::to_string(2 * kHdr + 4096);
                }),
                "keyslot 1: area overlaps keyslot 0");
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["keyslots"]["0"]["area"]["offset"] = std::to_string(kHdr);
                }),
                "keyslot 0: area");
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["keyslots"]["1"]["area"]["offset"] =
                      std::to_string(0x100000 - 4096);
                }),
                "outside the keyslots area");
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["keyslots"]["0"]["area"]["size"] = "18446744073709551615";
                }),
                "keyslot 0: area");
  // Too small for 64 * 4000 bytes of material (rounded up to 256000).
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["keyslots"]["0"]["area"]["size"] = "255488";
                }),
                "smaller than the key material");
}

TEST(Luks2Json, SaltWrongLength) {
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["keyslots"]["0"]["kdf"]["salt"] = B64(31, 1);
                }),
                "keyslot 0: kdf: salt is 31 bytes");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["digests"]["0"]["salt"] = B64(33, 1); }),
      "digest 0: salt is 33 bytes");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["digests"]["0"]["digest"] = B64(19, 1); }),
      "digest 0: digest is 19 bytes");
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["keyslots"]["0"]["kdf"]["salt"] = "not base64!";
                }),
                "keyslot 0: kdf: 'salt'");
}

TEST(Luks2Json, StripesMustBe4000) {
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["0"]["af"]["stripes"] = 3999; }),
      "stripes 3999");
}

TEST(Luks2Json, KeySizeBounds) {
  ExpectCorrupt(ReadEdited([](Json& j) { j["keyslots"]["0"]["key_size"] = 0; }),
                "key_size");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["0"]["key_size"] = 513; }),
      "key_size");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["0"]["key_size"] = -1; }),
      "key_size");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["0"]["key_size"] = 64.0; }),
      "key_size");
}

TEST(Luks2Json, KdfMemberSets) {
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["0"]["kdf"]["time"] = 4; }),
      "pbkdf2 needs exactly");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["1"]["kdf"].erase("cpus"); }),
      "argon2id needs exactly");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["0"]["kdf"]["type"] = "scrypt"; }),
      "unknown type 'scrypt'");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["0"]["kdf"]["iterations"] = 0; }),
      "iterations");
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["keyslots"]["0"]["kdf"]["iterations"] = 1ull << 32;
                }),
                "iterations");
}

TEST(Luks2Json, HostileArgon2Refused) {
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["keyslots"]["1"]["kdf"]["memory"] = 4194305;
                }),
                "'memory' 4194305 is out of range");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["1"]["kdf"]["memory"] = 7; }),
      "memory");
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["keyslots"]["1"]["kdf"]["cpus"] = (1 << 24) + 1;
                }),
                "cpus");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["keyslots"]["1"]["kdf"]["time"] = 0; }),
      "time");
  Result<LuksHeader> r = ReadEdited([](Json& j) {
    j["keyslots"]["1"]["kdf"]["memory"] = 4194304;
    j["keyslots"]["1"]["kdf"]["time"] = 4294967295ull;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->keyslots[1].kdf.memory_kib, 4194304u);
  EXPECT_EQ(r->keyslots[1].kdf.iterations, 4294967295u);
}

TEST(Luks2Json, SegmentChecks) {
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["segments"]["0"]["sector_size"] = 3000; }),
      "sector_size 3000");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["segments"]["0"]["offset"] = "1048577"; }),
      "not a multiple of 512");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["segments"]["0"]["size"] = "1536"; }),
      "not a multiple of sector_size 4096");
  // cryptsetup: "Illegal segment size value."; a 0-byte view is no volume.
  ExpectCorrupt(ReadEdited([](Json& j) { j["segments"]["0"]["size"] = "0"; }),
                "segment 0: size 0");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["segments"]["0"].erase("iv_tweak"); }),
      "segment 0: missing 'iv_tweak'");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["segments"]["2"] = j["segments"]["0"]; }),
      "gap");
  ExpectCorrupt(
      ReadEdited([](Json& j) { j["segments"]["1"] = j["segments"]["0"]; }),
      "segment 0: only the last segment may be dynamic");
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["digests"]["0"]["segments"] = Json::array();
                }),
                "segment 0: has no digest");
  Result<LuksHeader> r = ReadEdited([](Json& j) {
    j["segments"]["0"]["size"] = "8192";
    j["segments"]["0"]["iv_tweak"] = "16";
    j["segments"]["0"]["flags"] = {"f1"};
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->segments[0].size, std::optional<uint64_t>(8192));
  EXPECT_EQ(r->segments[0].iv_tweak, 16u);
  EXPECT_EQ(r->segments[0].flags, std::vector<std::string>{"f1"});
}

TEST(Luks2Json, IntegritySegment) {
  Result<LuksHeader> r = ReadEdited([](Json& j) {
    j["segments"]["0"]["integrity"] = {{"type", "hmac(sha256)"},
                                       {"journal_encryption", "none"},
                                       {"journal_integrity", "none"}};
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->segments[0].has_integrity);
}

TEST(Luks2Json, RequirementsAndFlagsCaptured) {
  Result<LuksHeader> r = ReadEdited([](Json& j) {
    j["config"]["requirements"] = {{"mandatory", {"online-reencrypt-v2"}}};
    j["config"]["flags"] = {"allow-discards", "no-read-workqueue"};
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->requirements, std::vector<std::string>{"online-reencrypt-v2"});
  EXPECT_EQ(r->config_flags,
            (std::vector<std::string>{"allow-discards", "no-read-workqueue"}));
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["config"]["requirements"] = {{"mandatory", {1}}};
                }),
                "config: requirements");
}

TEST(Luks2Json, TokensKeptWithJson) {
  Result<LuksHeader> r = ReadEdited([](Json& j) {
    j["tokens"]["3"] = {
        {"type", "luksfs-kms"}, {"keyslots", {"1"}}, {"wdek", "abc"}};
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->tokens.size(), 1u);
  EXPECT_EQ(r->tokens[0].index, 3);
  EXPECT_EQ(r->tokens[0].type, "luksfs-kms");
  EXPECT_EQ(r->tokens[0].keyslots, std::vector<int>{1});
  EXPECT_EQ(
      Json::parse(r->tokens[0].json),
      Json::parse(R"({"type":"luksfs-kms","keyslots":["1"],"wdek":"abc"})"));
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["tokens"]["0"] = {{"type", "x"}, {"keyslots", {"7"}}};
                }),
                "token 0: references missing keyslot 7");
}

TEST(Luks2Json, ReencryptKeyslotKept) {
  Result<LuksHeader> r = ReadEdited([](Json& j) {
    j["keyslots"]["2"] = {{"type", "reencrypt"},
                          {"key_size", 1},
                          {"mode", "encrypt"},
                          {"direction", "forward"},
                          {"area",
                           {{"type", "none"},
                            {"offset", std::to_string(2 * kHdr + 2 * 258048)},
                            {"size", "8192"}}}};
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->keyslots.size(), 3u);
  EXPECT_EQ(r->keyslots[2].type, "reencrypt");
  EXPECT_EQ(r->keyslots[2].key_bytes, 1u);
  EXPECT_EQ(r->key_bytes, 64u);
}

TEST(Luks2Json, KeyslotsSortedAndKeyBytesFromSegment0Digest) {
  Result<LuksHeader> r = ReadEdited([](Json& j) {
    Json ks = j["keyslots"]["0"];
    ks["area"]["offset"] = std::to_string(2 * kHdr + 2 * 258048);
    j["keyslots"]["10"] = ks;
    j["keyslots"]["10"]["key_size"] = 32;
    j["keyslots"]["10"]["area"]["size"] = "131072";
    j["digests"]["1"] = j["digests"]["0"];
    j["digests"]["1"]["keyslots"] = {"10"};
    j["digests"]["1"]["segments"] = Json::array();
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->keyslots.size(), 3u);
  EXPECT_EQ(r->keyslots[2].index, 10);  // "10" sorts after "1" numerically
  EXPECT_EQ(r->key_bytes, 64u);
  EXPECT_EQ(r->digests.size(), 2u);
}

TEST(Luks2Json, DigestReferencesMustResolve) {
  ExpectCorrupt(ReadEdited([](Json& j) {
                  j["digests"]["0"]["keyslots"] = {"0", "5"};
                }),
                "digest 0: references missing keyslot 5");
  ExpectCorrupt(ReadEdited([](Json& j) { j.erase("tokens"); }),
                "missing 'tokens'");
  ExpectCorrupt(ReadEdited([](Json& j) { j["keyslots"] = Json::array(); }),
                "'keyslots' is not an object");
}

// --- Real header made by cryptsetup (skipped when unavailable) --------------

TEST(Luks2Header, ReadsCryptsetupHeader) {
  if (std::system("command -v cryptsetup >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "cryptsetup not installed";
  }
  char dir[] = "/tmp/luks2_format_test.XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string img_path = std::string(dir) + "/l2.img";
  const std::string key_path = std::string(dir) + "/pw";
  std::ofstream(key_path) << "secret";
  const std::string cmd =
      "truncate -s 20M " + img_path +
      " && cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2"
      " --pbkdf-force-iterations 1000 --label mylabel --key-file " +
      key_path + " " + img_path + " >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    std::system(("rm -rf " + std::string(dir)).c_str());
    GTEST_SKIP() << "cryptsetup luksFormat failed here";
  }
  std::ifstream in(img_path, std::ios::binary);
  std::vector<uint8_t> img((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());
  std::system(("rm -rf " + std::string(dir)).c_str());
  Result<LuksHeader> r = Read(img);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->primary_valid);
  EXPECT_TRUE(r->secondary_valid);
  EXPECT_EQ(r->label, "mylabel");
  EXPECT_EQ(r->hdr_size, 0x4000u);
  EXPECT_EQ(r->key_bytes, 64u);
  ASSERT_EQ(r->keyslots.size(), 1u);
  EXPECT_EQ(r->keyslots[0].kdf.type, KdfType::kPbkdf2);
  EXPECT_EQ(r->keyslots[0].kdf.iterations, 1000u);
  ASSERT_EQ(r->segments.size(), 1u);
  EXPECT_EQ(r->segments[0].encryption, "aes-xts-plain64");
  EXPECT_EQ(r->uuid.size(), 36u);
}

}  // namespace
}  // namespace luksfs::crypto
