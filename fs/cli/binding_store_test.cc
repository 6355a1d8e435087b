// Where a new LUKS1 image's binding goes (PlaceNewBinding, PrecheckNewBinding)
// and the sidecar that is put back unless kept (NewSidecar), on real files.
#include "fs/cli/binding_store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace luksfs::cli {
namespace {

std::string Slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

bool Exists(const std::string& path) { return access(path.c_str(), F_OK) == 0; }

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/binding_store_test.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { (void)system(("rm -rf '" + path_ + "'").c_str()); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

KmsBinding Sample() {
  KmsBinding b;
  b.keyslot = 0;
  b.kms = "file:/k.db#a";
  b.key_id = "a";
  b.wrapped.assign(100, 7);
  b.created = "2026-12-02T00:00:00Z";
  return b;
}

TEST(PlaceNewBindingTest, HeaderWhenItFitsElseSidecarLocallyAndRefusalOnS3) {
  const RecordFits fits = [](std::string_view) { return Status(); };
  const RecordFits full = [](std::string_view) {
    return Status::ResourceExhausted("needs 400 bytes but only 368 are free");
  };
  const RecordFits broken = [](std::string_view) {
    return Status::InvalidArgument("a KMS binding record is text without NUL bytes");
  };
  KmsBinding b = Sample();
  NewBindingPlace p;
  ASSERT_FALSE(PlaceNewBinding("vm.qcow2", fits, &b, &p));
  EXPECT_TRUE(b.in_container);
  EXPECT_EQ(p.record, BindingToJson(b));
  EXPECT_TRUE(p.sidecar.empty());
  EXPECT_EQ(p.where, "qcow2 header extension 0x4c4b4d53");

  ASSERT_FALSE(PlaceNewBinding("s3://bucket/vm.qcow2", fits, &b, &p));
  EXPECT_FALSE(p.record.empty());

  ASSERT_FALSE(PlaceNewBinding("vm.qcow2", full, &b, &p));
  EXPECT_FALSE(b.in_container);
  EXPECT_TRUE(p.record.empty());
  EXPECT_EQ(p.sidecar, "vm.qcow2.luksfs-kms");
  EXPECT_EQ(p.where, "sidecar vm.qcow2.luksfs-kms (needs 400 bytes but only 368 are free)");

  auto e = PlaceNewBinding("s3://bucket/vm.qcow2", full, &b, &p);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exit_code, kExitUsage);
  EXPECT_NE(e->message.find("an s3:// image has no sidecar"), std::string::npos) << e->message;

  e = PlaceNewBinding("vm.qcow2", broken, &b, &p);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exit_code, kExitUsage);

  // Raw LUKS1: the sidecar locally, nothing on S3.
  ASSERT_FALSE(PlaceNewBinding("vm.luks", nullptr, &b, &p));
  EXPECT_EQ(p.sidecar, "vm.luks.luksfs-kms");
  EXPECT_EQ(p.where, "sidecar vm.luks.luksfs-kms");
  e = PlaceNewBinding("s3://bucket/vm.luks", nullptr, &b, &p);
  ASSERT_TRUE(e);
  EXPECT_NE(e->message.find("use --type luks2 or qcow2"), std::string::npos) << e->message;
}

TEST(PlaceNewBindingTest, PrecheckAsksOnlyForS3AndUsesTheShortestRecord) {
  size_t seen = 0;
  const RecordFits measure = [&](std::string_view json) {
    seen = json.size();
    return Status::ResourceExhausted("no room");
  };
  EXPECT_FALSE(PrecheckNewBinding("vm.qcow2", "file:/k.db#a", measure));
  EXPECT_EQ(seen, 0u);  // local: a sidecar will do, nothing to check early
  auto e = PrecheckNewBinding("s3://bucket/vm.qcow2", "file:/k.db#a", measure);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exit_code, kExitUsage);
  EXPECT_GT(seen, 0u);
  EXPECT_LT(seen, BindingToJson(Sample()).size());
}

TEST(NewSidecarTest, PutsBackThePreviousSidecarOrNothingUnlessKept) {
  TempDir dir;
  const std::string side = dir / "img.luksfs-kms";
  {
    NewSidecar s;
    ASSERT_FALSE(s.Write(side, "{\"new\":1}"));
    EXPECT_EQ(Slurp(side), "{\"new\":1}");
  }
  EXPECT_FALSE(Exists(side)) << "a sidecar of an image never committed was left";
  {
    NewSidecar s;
    ASSERT_FALSE(s.Write(side, "{\"kept\":1}"));
    s.Keep();
  }
  EXPECT_EQ(Slurp(side), "{\"kept\":1}");
  {
    NewSidecar s;
    ASSERT_FALSE(s.Write(side, "{\"replacement\":1}"));
    EXPECT_EQ(Slurp(side), "{\"replacement\":1}");
  }
  EXPECT_EQ(Slurp(side), "{\"kept\":1}") << "the older image's binding was not put back";
  NewSidecar bad;
  auto e = bad.Write(dir / "no/such/dir/img.luksfs-kms", "{}");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exit_code, kExitStorage);
}

}  // namespace
}  // namespace luksfs::cli
