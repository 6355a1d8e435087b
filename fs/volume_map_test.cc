// Volume over a non-linear BlockMap: a fake map (in this file) with
// granules that are data (anywhere in the host, IV = host/512 as qcow2+LUKS),
// zero, or unallocated, and that allocates on write. Checks the bytes
// against a plaintext model, the ciphertext against OpenSSL, and the
// storage calls against the one-call-per-contiguous-extent rule.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "fs/image/linear_map.h"
#include "fs/volume.h"

namespace luksfs::fs {
namespace {

using Bytes = std::vector<uint8_t>;

class MemStorage : public Storage {
 public:
  explicit MemStorage(uint64_t size) : data_(size, 0) {}
  uint64_t Size() const override { return data_.size(); }
  Status ReadAt(uint64_t off, std::span<uint8_t> dst) const override {
    reads.fetch_add(1);
    std::lock_guard<std::mutex> l(mu_);
    if (off > data_.size() || dst.size() > data_.size() - off) {
      return Status::Corruption("read past the end");
    }
    std::memcpy(dst.data(), data_.data() + off, dst.size());
    return Status();
  }
  Status WriteAt(uint64_t off, std::span<const uint8_t> src) override {
    writes.fetch_add(1);
    std::lock_guard<std::mutex> l(mu_);
    if (off > data_.size() || src.size() > data_.size() - off) {
      ADD_FAILURE() << "write past the end";
      return Status::Internal("write past the end");
    }
    std::memcpy(data_.data() + off, src.data(), src.size());
    return Status();
  }
  Status Flush() override { return Status(); }
  const std::string& name() const override { return name_; }
  Bytes Snapshot() const {
    std::lock_guard<std::mutex> l(mu_);
    return data_;
  }
  void Garble(uint64_t off, uint64_t n) {
    std::lock_guard<std::mutex> l(mu_);
    for (uint64_t i = 0; i < n; ++i) data_[off + i] = static_cast<uint8_t>(i * 37 + 11);
  }
  void Reset() { reads = 0, writes = 0; }
  mutable std::atomic<int> reads{0};
  std::atomic<int> writes{0};

 private:
  std::string name_ = "mem";
  mutable std::mutex mu_;  // guards data_
  Bytes data_;
};

// Granules of `granule` bytes; state per granule. Adjacent extents of one
// kind merge (data only when contiguous in the host).
class FakeMap : public BlockMap {
 public:
  enum class State { kUnallocated, kZero, kData };
  FakeMap(MemStorage* st, uint32_t ss, uint64_t granule, uint64_t n)
      : st_(st), ss_(ss), g_(granule), state_(n, State::kUnallocated),
        host_(n, 0) {}

  uint64_t Size() const override { return g_ * state_.size(); }
  uint32_t unit_size() const override { return ss_; }
  uint64_t granularity() const override { return g_; }

  void SetData(uint64_t i, uint64_t host) {
    state_[i] = State::kData;
    host_[i] = host;
  }
  void SetZero(uint64_t i) { state_[i] = State::kZero; }
  State state(uint64_t i) const { return state_[i]; }
  uint64_t host(uint64_t i) const { return host_[i]; }

  Status Map(uint64_t off, uint64_t len, std::vector<Extent>* out) override {
    std::lock_guard<std::mutex> l(mu_);
    const size_t start = out->size();
    if (off >= Size() || len == 0) return Status();
    const uint64_t b = off / ss_ * ss_;
    const uint64_t e = std::min(Size(), (off + std::min(len, Size() - off) + ss_ - 1) / ss_ * ss_);
    for (uint64_t i = b / g_; i * g_ < e; ++i) {
      const uint64_t lo = std::max(b, i * g_), hi = std::min(e, (i + 1) * g_);
      Extent x;
      x.kind = state_[i] == State::kData   ? Extent::Kind::kData
               : state_[i] == State::kZero ? Extent::Kind::kZero
                                           : Extent::Kind::kUnallocated;
      x.guest_offset = lo;
      x.length = hi - lo;
      if (x.kind == Extent::Kind::kData) {
        x.host_offset = host_[i] + (lo - i * g_);
        x.iv_sector = x.host_offset / 512;
      }
      if (out->size() > start) {
        Extent& p = out->back();
        if (p.kind == x.kind &&
            (x.kind != Extent::Kind::kData ||
             p.host_offset + p.length == x.host_offset)) {
          p.length += x.length;
          continue;
        }
      }
      out->push_back(x);
    }
    return Status();
  }

  struct Plan : WritePlan {
    FakeMap* map = nullptr;
    std::vector<std::pair<uint64_t, uint64_t>> claims;  // granule, host
    bool committed = false;
    ~Plan() override {
      if (committed) return;
      std::lock_guard<std::mutex> l(map->mu_);
      for (auto& c : claims) map->claimed_.erase(c.first);
      map->cv_.notify_all();
    }
  };

  Result<std::unique_ptr<WritePlan>> PrepareWrite(uint64_t off,
                                                  uint64_t len) override {
    std::unique_lock<std::mutex> l(mu_);
    const uint64_t b = off / ss_ * ss_;
    const uint64_t e = std::min(Size(), (off + len + ss_ - 1) / ss_ * ss_);
    auto busy = [&] {
      for (uint64_t i = b / g_; i * g_ < e; ++i)
        if (claimed_.count(i)) return true;
      return false;
    };
    cv_.wait(l, [&] { return !busy(); });
    auto plan = std::make_unique<Plan>();
    plan->map = this;
    for (uint64_t i = b / g_; i * g_ < e; ++i) {
      Extent x;
      if (state_[i] == State::kData) {
        const uint64_t lo = std::max(b, i * g_), hi = std::min(e, (i + 1) * g_);
        x.guest_offset = lo;
        x.length = hi - lo;
        x.host_offset = host_[i] + (lo - i * g_);
      } else {
        const uint64_t h = next_host_;
        next_host_ += g_;
        claimed_.insert(i);
        plan->claims.push_back({i, h});
        x.guest_offset = i * g_;
        x.length = g_;
        x.host_offset = h;
        x.fresh = true;
        ++allocations;
      }
      x.iv_sector = x.host_offset / 512;
      if (!plan->extents.empty()) {
        Extent& p = plan->extents.back();
        if (p.fresh == x.fresh && p.host_offset + p.length == x.host_offset) {
          p.length += x.length;
          continue;
        }
      }
      plan->extents.push_back(x);
    }
    return std::unique_ptr<WritePlan>(std::move(plan));
  }

  Status CommitWrite(std::unique_ptr<WritePlan> p) override {
    auto* plan = static_cast<Plan*>(p.get());
    std::lock_guard<std::mutex> l(mu_);
    for (auto& c : plan->claims) {
      state_[c.first] = State::kData;
      host_[c.first] = c.second;
      claimed_.erase(c.first);
    }
    plan->committed = true;
    cv_.notify_all();
    return Status();
  }

  Status Discard(uint64_t off, uint64_t len) override {
    std::lock_guard<std::mutex> l(mu_);
    discards.push_back({off, len});
    for (uint64_t i = (off + g_ - 1) / g_; (i + 1) * g_ <= off + len; ++i) {
      state_[i] = State::kUnallocated;
    }
    return Status();
  }
  Status Flush() override { return st_->Flush(); }

  std::atomic<int> allocations{0};
  std::vector<std::pair<uint64_t, uint64_t>> discards;
  uint64_t next_host_ = 0;  // set by the test: where allocation starts

 private:
  MemStorage* st_;
  const uint32_t ss_;
  const uint64_t g_;
  std::mutex mu_;  // guards everything below, claimed_ with cv_
  std::condition_variable cv_;
  std::vector<State> state_;
  std::vector<uint64_t> host_;
  std::set<uint64_t> claimed_;
};

Bytes Xts(const Bytes& key, uint64_t iv_sector, const uint8_t* in, size_t n,
          bool enc) {
  uint8_t iv[16] = {};
  for (int i = 0; i < 8; ++i) iv[i] = static_cast<uint8_t>(iv_sector >> (8 * i));
  Bytes out(n);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0;
  EXPECT_EQ(EVP_CipherInit_ex(ctx, EVP_aes_256_xts(), nullptr, key.data(), iv,
                              enc ? 1 : 0), 1);
  EXPECT_EQ(EVP_CipherUpdate(ctx, out.data(), &len, in, static_cast<int>(n)), 1);
  EXPECT_EQ(EVP_CipherFinal_ex(ctx, out.data() + len, &fin), 1);
  EVP_CIPHER_CTX_free(ctx);
  return out;
}

constexpr uint32_t kSs = 512;
constexpr uint64_t kG = 4 * kSs;   // granule: 4 units
constexpr uint64_t kN = 16;        // granules
constexpr uint64_t kHost = 256 * kG;

class VolumeMapTest : public testing::Test {
 protected:
  void SetUp() override {
    std::mt19937_64 rng(99);
    key_.resize(64);
    for (auto& c : key_) c = static_cast<uint8_t>(rng());
    st_ = std::make_unique<MemStorage>(kHost);
    st_->Garble(0, kHost);  // unallocated host bytes are garbage
    auto map = std::make_unique<FakeMap>(st_.get(), kSs, kG, kN);
    map_ = map.get();
    map_->next_host_ = 128 * kG;
    model_.assign(kN * kG, 0);
    // Granules 0,1 contiguous data; 2 zero; 3 unallocated; 4 data far away;
    // 5 data right before 4's host (not contiguous in guest order).
    PutData(0, 10 * kG);
    PutData(1, 11 * kG);
    map_->SetZero(2);
    PutData(4, 40 * kG);
    PutData(5, 39 * kG);
    PutData(9, 12 * kG);
    auto engine = crypto::CryptEngine::Create("aes-xts-plain64", key_, kSs, {});
    ASSERT_TRUE(engine.ok());
    vol_ = std::make_unique<Volume>(st_.get(), std::move(map),
                                    std::move(engine).value(), false);
    st_->Reset();
  }

  // Makes granule i data at `host` holding random plaintext.
  void PutData(uint64_t i, uint64_t host) {
    std::mt19937_64 rng(i);
    Bytes plain(kG);
    for (auto& c : plain) c = static_cast<uint8_t>(rng());
    std::copy(plain.begin(), plain.end(), model_.begin() + i * kG);
    for (uint64_t u = 0; u < kG / kSs; ++u) {
      Bytes c = Xts(key_, (host + u * kSs) / 512, plain.data() + u * kSs, kSs, true);
      ASSERT_TRUE(st_->WriteAt(host + u * kSs, c).ok());
    }
    map_->SetData(i, host);
  }

  void ExpectReadsModel() {
    Bytes got(model_.size(), 0xEE);
    auto r = vol_->Read(0, got);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(*r, got.size());
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i) bad += got[i] != model_[i];
    EXPECT_EQ(bad, 0u);
  }

  // Every data granule's ciphertext is the model under IV host/512.
  void ExpectCiphertextMatchesModel() {
    Bytes disk = st_->Snapshot();
    for (uint64_t i = 0; i < kN; ++i) {
      if (map_->state(i) != FakeMap::State::kData) {
        for (uint64_t b = 0; b < kG; ++b) {
          ASSERT_EQ(model_[i * kG + b], 0) << "granule " << i << " is a hole";
        }
        continue;
      }
      for (uint64_t u = 0; u < kG / kSs; ++u) {
        const uint64_t h = map_->host(i) + u * kSs;
        Bytes want = Xts(key_, h / 512, model_.data() + i * kG + u * kSs, kSs, true);
        EXPECT_TRUE(std::equal(want.begin(), want.end(), disk.begin() + h))
            << "granule " << i << " unit " << u;
      }
    }
  }

  void Write(uint64_t off, const Bytes& b) {
    auto w = vol_->Write(off, b);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_EQ(*w, b.size());
    std::copy(b.begin(), b.end(), model_.begin() + off);
  }

  Bytes key_;
  std::unique_ptr<MemStorage> st_;
  FakeMap* map_ = nullptr;  // owned by vol_
  std::unique_ptr<Volume> vol_;
  Bytes model_;
};

TEST_F(VolumeMapTest, ReadsMixedLayoutOneStorageReadPerDataRun) {
  ExpectReadsModel();
  // Data runs over the whole view: {0,1}, {4}, {5}, {9}: holes never read.
  EXPECT_EQ(st_->reads.load(), 4);
  st_->Reset();
  // An unaligned read across zero and unallocated granules only.
  Bytes got(2 * kG - 10, 0xEE);
  ASSERT_EQ(vol_->Read(2 * kG + 5, got).value(), got.size());
  EXPECT_TRUE(std::all_of(got.begin(), got.end(), [](uint8_t c) { return c == 0; }));
  EXPECT_EQ(st_->reads.load(), 0);
}

TEST_F(VolumeMapTest, WritesIntoHolesAllocateWithoutReading) {
  Bytes b(700, 0x5A);
  Write(3 * kG + 100, b);  // unallocated granule, unaligned
  EXPECT_EQ(st_->reads.load(), 0);
  EXPECT_EQ(st_->writes.load(), 1);  // the whole fresh granule at once
  EXPECT_EQ(map_->allocations.load(), 1);
  st_->Reset();
  Write(2 * kG + kSs - 1, Bytes(3, 0xA5));  // zero granule
  EXPECT_EQ(st_->reads.load(), 0);
  EXPECT_EQ(st_->writes.load(), 1);
  ExpectReadsModel();
  ExpectCiphertextMatchesModel();
  // The second write into granule 3 is in place now (read-modify-write).
  st_->Reset();
  Write(3 * kG + 1, Bytes(1, 1));
  EXPECT_EQ(map_->allocations.load(), 2);
  EXPECT_EQ(st_->reads.load(), 1);
  EXPECT_EQ(st_->writes.load(), 1);
  ExpectReadsModel();
  ExpectCiphertextMatchesModel();
}

TEST_F(VolumeMapTest, OneStorageWritePerContiguousExtent) {
  // Granules 0,1 are contiguous in the host: one aligned write.
  std::mt19937_64 rng(5);
  Bytes b(2 * kG);
  for (auto& c : b) c = static_cast<uint8_t>(rng());
  Write(0, b);
  EXPECT_EQ(st_->writes.load(), 1);
  EXPECT_EQ(st_->reads.load(), 0);
  // Granules 4,5 are not: two writes; unaligned ends: one head + one tail read.
  st_->Reset();
  Write(4 * kG + 7, Bytes(2 * kG - 20, 0x33));
  EXPECT_EQ(st_->writes.load(), 2);
  EXPECT_EQ(st_->reads.load(), 2);
  // A write across data, zero, unallocated and data: 1,2,3,4.
  st_->Reset();
  Write(kG + 3, Bytes(3 * kG, 0x44));
  EXPECT_EQ(st_->reads.load(), 2);  // head in 1, tail in 4; fresh ones none
  ExpectReadsModel();
  ExpectCiphertextMatchesModel();
}

TEST_F(VolumeMapTest, RandomUnalignedWritesMatchModel) {
  std::mt19937_64 rng(17);
  for (int i = 0; i < 300; ++i) {
    const uint64_t off = rng() % model_.size();
    const size_t len = 1 + rng() % std::min<uint64_t>(3 * kG, model_.size() - off);
    Bytes b(len);
    for (auto& c : b) c = static_cast<uint8_t>(rng());
    Write(off, b);
    if (i % 50 == 0) ExpectReadsModel();
  }
  ExpectReadsModel();
  ExpectCiphertextMatchesModel();
  // Reads at every alignment.
  for (int i = 0; i < 200; ++i) {
    const uint64_t off = rng() % model_.size();
    Bytes got(1 + rng() % (2 * kG), 0xEE);
    auto r = vol_->Read(off, got);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(*r, std::min<uint64_t>(got.size(), model_.size() - off));
    ASSERT_TRUE(std::equal(got.begin(), got.begin() + *r, model_.begin() + off));
  }
}

TEST_F(VolumeMapTest, ConcurrentWritersIntoOneHoleAllocateOnce) {
  // Eight threads write disjoint bytes of the unallocated granules 10..15.
  std::vector<std::thread> t;
  for (int k = 0; k < 8; ++k) {
    t.emplace_back([&, k] {
      for (uint64_t i = 10; i < kN; ++i) {
        for (uint64_t b = k; b < kG; b += 8 * 61) {
          const uint8_t v = static_cast<uint8_t>(k + 1);
          ASSERT_TRUE(vol_->Write(i * kG + b, std::span<const uint8_t>(&v, 1)).ok());
        }
      }
    });
  }
  for (auto& x : t) x.join();
  for (int k = 0; k < 8; ++k)
    for (uint64_t i = 10; i < kN; ++i)
      for (uint64_t b = k; b < kG; b += 8 * 61) model_[i * kG + b] = k + 1;
  EXPECT_EQ(map_->allocations.load(), 6);
  ExpectReadsModel();
  ExpectCiphertextMatchesModel();
}

TEST_F(VolumeMapTest, SeekDataAndHoleFollowTheMap) {
  EXPECT_EQ(vol_->NextData(0).value(), 0u);
  EXPECT_EQ(vol_->NextHole(0).value(), 2 * kG);    // the zero granule
  EXPECT_EQ(vol_->NextHole(kG + 5).value(), 2 * kG);
  EXPECT_EQ(vol_->NextData(2 * kG + 1).value(), 4 * kG);
  EXPECT_EQ(vol_->NextHole(4 * kG).value(), 6 * kG);
  EXPECT_EQ(vol_->NextData(6 * kG).value(), 9 * kG);
  EXPECT_EQ(vol_->NextData(9 * kG + 3).value(), 9 * kG + 3);
  EXPECT_EQ(vol_->NextHole(9 * kG + 3).value(), 10 * kG);
  EXPECT_EQ(vol_->NextData(10 * kG).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(vol_->NextHole(15 * kG).value(), 15 * kG);
  EXPECT_EQ(vol_->NextHole(kN * kG).status().code(), Status::Code::kNotFound);
  EXPECT_EQ(st_->reads.load(), 0);
}

TEST_F(VolumeMapTest, DiscardDropsWholeGranulesAndZeroesPartialOnes) {
  // [kG/2, 5*kG + 100): whole granules 1..4 discarded; 0's tail and 5's head
  // zeroed in place.
  ASSERT_TRUE(vol_->Discard(kG / 2, 5 * kG + 100 - kG / 2).ok());
  ASSERT_EQ(map_->discards.size(), 1u);
  EXPECT_EQ(map_->discards[0].first, kG);
  EXPECT_EQ(map_->discards[0].second, 4 * kG);
  std::fill(model_.begin() + kG / 2, model_.begin() + 5 * kG + 100, 0);
  for (uint64_t i = 1; i < 5; ++i) {
    EXPECT_NE(map_->state(i), FakeMap::State::kData) << i;
  }
  EXPECT_EQ(map_->allocations.load(), 0);  // holes were not filled with zeros
  ExpectReadsModel();
  ExpectCiphertextMatchesModel();
}

TEST_F(VolumeMapTest, DroppedKeysDarkenHolesToo) {
  vol_->DropKeys();
  Bytes got(kG);
  EXPECT_EQ(vol_->Read(3 * kG, got).status().code(), Status::Code::kKeyRevoked);
  EXPECT_EQ(vol_->Read(0, got).status().code(), Status::Code::kKeyRevoked);
  EXPECT_EQ(vol_->Write(3 * kG, got).status().code(), Status::Code::kKeyRevoked);
  EXPECT_EQ(map_->allocations.load(), 0);
}

TEST(VolumeLinearTest, DiscardIsNotSupportedAndWritesNothing) {
  MemStorage st(64 * 512);
  crypto::DataLayout l;
  l.size = 64 * 512;
  l.sector_size = 512;
  l.cipher = "aes-xts-plain64";
  Bytes key(64, 7);
  auto engine = crypto::CryptEngine::Create(l.cipher, key, 512, {});
  ASSERT_TRUE(engine.ok());
  Volume v(&st, std::make_unique<LinearMap>(&st, l, true),
           std::move(engine).value(), false);
  EXPECT_EQ(v.Discard(0, 4096).code(), Status::Code::kNotSupported);
  EXPECT_EQ(v.Discard(10, 20).code(), Status::Code::kNotSupported);
  EXPECT_EQ(st.writes.load(), 0);
  // A raw view is all data.
  EXPECT_EQ(v.NextData(100).value(), 100u);
  EXPECT_EQ(v.NextHole(100).value(), 64u * 512);
}

}  // namespace
}  // namespace luksfs::fs
