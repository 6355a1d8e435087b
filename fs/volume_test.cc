#include "fs/volume.h"

#include "fs/image/linear_map.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace luksfs::fs {
namespace {

using Bytes = std::vector<uint8_t>;

// ----- an in-memory Storage that counts calls -----

class MemStorage : public Storage {
 public:
  explicit MemStorage(uint64_t size) : data_(size, 0) {}

  uint64_t Size() const override { return data_.size(); }

  Status ReadAt(uint64_t offset, std::span<uint8_t> dst) const override {
    reads_.fetch_add(1);
    if (fail_reads_.load()) return Status::IOError("injected read fault", EIO);
    std::lock_guard<std::mutex> l(mu_);
    if (offset > data_.size() || dst.size() > data_.size() - offset) {
      return Status::Corruption("read past the end of " + name_);
    }
    std::memcpy(dst.data(), data_.data() + offset, dst.size());
    return Status();
  }

  Status WriteAt(uint64_t offset, std::span<const uint8_t> src) override {
    writes_.fetch_add(1);
    if (fail_writes_.load()) {
      return Status::IOError("injected write fault", ENOSPC);
    }
    std::lock_guard<std::mutex> l(mu_);
    if (offset > data_.size() || src.size() > data_.size() - offset) {
      ADD_FAILURE() << "WriteAt past the end: offset " << offset << " size "
                    << src.size();
      return Status::Internal("write past the end");
    }
    std::memcpy(data_.data() + offset, src.data(), src.size());
    return Status();
  }

  Status Flush() override {
    flushes_.fetch_add(1);
    return Status();
  }

  // With set_in_place(piece): the bytes themselves, in pieces of `piece`
  // bytes (rounded down to `unit`, at least one unit), as S3's cache hands
  // out its blocks.
  std::optional<Status> ReadInPlace(uint64_t offset, size_t len, size_t unit,
                                    InPlaceFn fn) const override {
    if (in_place_piece_ == 0) return std::nullopt;
    in_place_reads_.fetch_add(1);
    if (fail_reads_.load()) return Status::IOError("injected read fault", EIO);
    std::lock_guard<std::mutex> l(mu_);
    if (offset > data_.size() || len > data_.size() - offset) return std::nullopt;
    const size_t piece = std::max(unit, in_place_piece_ / unit * unit);
    for (size_t at = 0; at < len; at += piece) {
      const size_t n = std::min(piece, len - at);
      LUKSFS_RETURN_IF_ERROR(
          fn(at, std::span<const uint8_t>(data_.data() + offset + at, n)));
    }
    return Status();
  }
  void set_in_place(size_t piece) { in_place_piece_ = piece; }
  int in_place_reads() const { return in_place_reads_.load(); }

  const std::string& name() const override { return name_; }

  // Test access.
  Bytes Snapshot() const {
    std::lock_guard<std::mutex> l(mu_);
    return data_;
  }
  void Fill(uint64_t offset, const Bytes& b) {
    std::lock_guard<std::mutex> l(mu_);
    std::copy(b.begin(), b.end(), data_.begin() + offset);
  }
  void ResetCounters() {
    in_place_reads_ = 0;
    reads_ = 0;
    writes_ = 0;
    flushes_ = 0;
  }
  int reads() const { return reads_.load(); }
  int writes() const { return writes_.load(); }
  int flushes() const { return flushes_.load(); }
  void set_fail_reads(bool b) { fail_reads_ = b; }
  void set_fail_writes(bool b) { fail_writes_ = b; }

 private:
  const std::string name_ = "mem.luks";
  mutable std::mutex mu_;  // guards data_
  Bytes data_;
  mutable std::atomic<int> reads_{0};
  mutable std::atomic<int> in_place_reads_{0};
  size_t in_place_piece_ = 0;  // 0: no ReadInPlace
  std::atomic<int> writes_{0};
  std::atomic<int> flushes_{0};
  std::atomic<bool> fail_reads_{false};
  std::atomic<bool> fail_writes_{false};
};

// ----- the independent oracle: OpenSSL EVP AES-256-XTS, one unit -----

Bytes XtsEncryptUnit(const Bytes& key, uint64_t iv_sector, const uint8_t* plain,
                     size_t n) {
  uint8_t iv[16] = {};
  for (int i = 0; i < 8; ++i)
    iv[i] = static_cast<uint8_t>(iv_sector >> (8 * i));
  Bytes out(n);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  int len = 0, fin = 0;
  bool ok = ctx != nullptr &&
            EVP_EncryptInit_ex(ctx, EVP_aes_256_xts(), nullptr, key.data(),
                               iv) == 1 &&
            EVP_EncryptUpdate(ctx, out.data(), &len, plain,
                              static_cast<int>(n)) == 1 &&
            EVP_EncryptFinal_ex(ctx, out.data() + len, &fin) == 1;
  EVP_CIPHER_CTX_free(ctx);
  EXPECT_TRUE(ok) << "OpenSSL XTS failed";
  EXPECT_EQ(static_cast<size_t>(len + fin), n);
  return out;
}

Bytes RandomBytes(std::mt19937_64& rng, size_t n) {
  Bytes b(n);
  for (auto& c : b) c = static_cast<uint8_t>(rng());
  return b;
}

// ----- fixture -----

struct Param {
  uint32_t sector_size;
  uint64_t iv_tweak;
};

void PrintTo(const Param& p, std::ostream* os) {
  *os << "{sector_size " << p.sector_size << ", iv_tweak " << p.iv_tweak << "}";
}

std::string ParamName(const testing::TestParamInfo<Param>& info) {
  return "ss" + std::to_string(info.param.sector_size) + "_tweak" +
         std::to_string(info.param.iv_tweak);
}

constexpr uint64_t kDataOffset = 8192;
constexpr uint64_t kTrailer = 4096;  // storage bytes after the data segment
constexpr uint64_t kUnits = 64;

class VolumeTest : public testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    ss_ = GetParam().sector_size;
    rng_.seed(0x1234 + ss_ + GetParam().iv_tweak);
    key_ = RandomBytes(rng_, 64);
    layout_.offset = kDataOffset;
    layout_.size = kUnits * ss_;
    layout_.sector_size = ss_;
    layout_.iv_tweak = GetParam().iv_tweak;
    layout_.cipher = "aes-xts-plain64";
    volume_ = MakeVolume(false);
    ASSERT_NE(volume_, nullptr);
    // Random bytes around the data segment: writes must never touch them.
    header_ = RandomBytes(rng_, kDataOffset);
    trailer_ = RandomBytes(rng_, kTrailer);
    mem_->Fill(0, header_);
    mem_->Fill(kDataOffset + layout_.size, trailer_);
    // Start from a known plaintext.
    model_ = RandomBytes(rng_, layout_.size);
    Result<size_t> w = volume_->Write(0, model_);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_EQ(*w, model_.size());
    mem_->ResetCounters();
  }

  std::unique_ptr<Volume> MakeVolume(bool read_only, unsigned threads = 4) {
    storages_.push_back(
        std::make_unique<MemStorage>(kDataOffset + layout_.size + kTrailer));
    mem_ = storages_.back().get();
    crypto::EngineOptions opts;
    opts.threads = threads;
    opts.inline_bytes = 2 * ss_;  // exercise the parallel path too
    opts.min_chunk_bytes = ss_;
    auto engine = crypto::CryptEngine::Create(layout_.cipher, key_, ss_, opts);
    EXPECT_TRUE(engine.ok()) << engine.status().ToString();
    if (!engine.ok()) return nullptr;
    return std::make_unique<Volume>(
        mem_, std::make_unique<LinearMap>(mem_, layout_, !read_only),
        std::move(engine).value(), read_only);
  }

  Bytes ReadAll() {
    Bytes out(layout_.size, 0xEE);
    Result<size_t> r = volume_->Read(0, out);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      EXPECT_EQ(*r, out.size());
    }
    return out;
  }

  // Count of plaintext bytes that differ from the model.
  size_t Mismatches(const Bytes& got) {
    size_t bad = 0;
    for (size_t i = 0; i < model_.size(); ++i) bad += got[i] != model_[i];
    return bad;
  }

  // Checks every ciphertext unit against OpenSSL, and the bytes around the
  // data segment against what SetUp put there.
  void ExpectStorageMatchesOracle() {
    Bytes disk = mem_->Snapshot();
    ASSERT_EQ(disk.size(), kDataOffset + layout_.size + kTrailer);
    EXPECT_TRUE(std::equal(header_.begin(), header_.end(), disk.begin()))
        << "bytes before the data segment changed";
    EXPECT_TRUE(std::equal(trailer_.begin(), trailer_.end(),
                           disk.begin() + kDataOffset + layout_.size))
        << "bytes after the data segment changed";
    size_t bad_units = 0;
    for (uint64_t n = 0; n < kUnits; ++n) {
      const uint64_t iv = layout_.iv_tweak + n * (ss_ / 512);
      Bytes want = XtsEncryptUnit(key_, iv, model_.data() + n * ss_, ss_);
      if (!std::equal(want.begin(), want.end(),
                      disk.begin() + kDataOffset + n * ss_)) {
        if (bad_units++ < 3) ADD_FAILURE() << "ciphertext of unit " << n;
      }
    }
    EXPECT_EQ(bad_units, 0u);
  }

  // Writes `len` random bytes at `off` through the volume and the model.
  void WriteRandom(uint64_t off, size_t len) {
    Bytes src = RandomBytes(rng_, len);
    Result<size_t> w = volume_->Write(off, src);
    ASSERT_TRUE(w.ok()) << "write " << off << "+" << len << ": "
                        << w.status().ToString();
    ASSERT_EQ(*w, len) << "write " << off << "+" << len;
    std::copy(src.begin(), src.end(), model_.begin() + off);
  }

  uint32_t ss_ = 0;
  std::mt19937_64 rng_;
  Bytes key_;
  crypto::DataLayout layout_;
  // Declared before volume_: every storage outlives the volumes on it.
  std::vector<std::unique_ptr<MemStorage>> storages_;
  MemStorage* mem_ = nullptr;  // the newest of storages_
  std::unique_ptr<Volume> volume_;
  Bytes header_, trailer_;
  Bytes model_;  // the plaintext the volume should present
};

INSTANTIATE_TEST_SUITE_P(Layouts, VolumeTest,
                         testing::Values(Param{512, 0}, Param{512, 7777},
                                         Param{4096, 0},
                                         Param{4096, kDataOffset / 512},
                                         Param{4096, 123457}),
                         ParamName);

TEST_P(VolumeTest, SizeAndFlags) {
  EXPECT_EQ(volume_->Size(), kUnits * ss_);
  EXPECT_FALSE(volume_->read_only());
  EXPECT_EQ(volume_->storage().name(), "mem.luks");
}

TEST_P(VolumeTest, CiphertextMatchesOpenSslXts) {
  ExpectStorageMatchesOracle();
  // A fresh aligned multi-unit write in the middle.
  WriteRandom(3 * ss_, 5 * ss_);
  ExpectStorageMatchesOracle();
  EXPECT_EQ(Mismatches(ReadAll()), 0u);
}

TEST_P(VolumeTest, SamePlaintextDiffersPerUnit) {
  // The IV depends on the unit: equal plaintext units give distinct
  // ciphertext (would fail if the IV were constant).
  Bytes zeros(2 * ss_, 0);
  ASSERT_TRUE(volume_->Write(0, zeros).ok());
  Bytes disk = mem_->Snapshot();
  EXPECT_FALSE(std::equal(disk.begin() + kDataOffset,
                          disk.begin() + kDataOffset + ss_,
                          disk.begin() + kDataOffset + ss_));
}

TEST_P(VolumeTest, UnalignedWritesKeepOtherBytes) {
  const uint64_t size = layout_.size;
  struct W {
    uint64_t off;
    size_t len;
  };
  const std::vector<W> writes = {
      {1, 1},
      {1, 10},
      {511, 1},
      {511, 2},
      {ss_ - 1, 1},
      {ss_ - 1, 2},
      {ss_ + 1, 3},
      {ss_ + 1, ss_},
      {ss_ / 2, 3 * ss_ + 7},      // head, 2 whole units, tail
      {2 * ss_ + 5, ss_ - 10},     // inside one unit
      {5 * ss_, ss_ + 1},          // aligned start, partial tail
      {6 * ss_ + 3, 2 * ss_ - 3},  // partial head, aligned end
      {0, 1},                      // first byte
      {size - 1, 1},               // last byte of the volume
      {size - ss_ - 1, ss_ + 1},   // up to the end, unaligned start
      {size - 3 * ss_ + 17, 3 * ss_ - 17},
      {7, size - 14},  // almost everything
  };
  for (const W& w : writes) {
    SCOPED_TRACE("write " + std::to_string(w.off) + "+" +
                 std::to_string(w.len));
    ASSERT_LE(w.off + w.len, size);
    WriteRandom(w.off, w.len);
    ASSERT_EQ(Mismatches(ReadAll()), 0u);
  }
  ExpectStorageMatchesOracle();
}

TEST_P(VolumeTest, RandomUnalignedWritesMatchModel) {
  std::uniform_int_distribution<uint64_t> off_dist(0, layout_.size - 1);
  std::uniform_int_distribution<size_t> len_dist(1, 3 * ss_ + 1);
  for (int i = 0; i < 200; ++i) {
    uint64_t off = off_dist(rng_);
    size_t len = std::min<uint64_t>(len_dist(rng_), layout_.size - off);
    WriteRandom(off, len);
  }
  EXPECT_EQ(Mismatches(ReadAll()), 0u);
  ExpectStorageMatchesOracle();
}

// WriteConsuming encrypts whole units in the caller's buffer: the storage
// must still hold exactly the oracle's ciphertext, for aligned requests
// (in place) and unaligned ones (through the scratch), and an aligned
// request must not have left its plaintext in the buffer.
TEST_P(VolumeTest, ConsumingWritesMatchOracle) {
  std::uniform_int_distribution<uint64_t> unit_dist(0, kUnits - 1);
  std::uniform_int_distribution<uint64_t> off_dist(0, layout_.size - 1);
  std::uniform_int_distribution<size_t> len_dist(1, 3 * ss_ + 1);
  for (int i = 0; i < 200; ++i) {
    uint64_t off = 0;
    size_t len = 0;
    if (i % 2 == 0) {
      off = unit_dist(rng_) * ss_;
      len = std::min<uint64_t>((1 + i % 5) * ss_, layout_.size - off);
    } else {
      off = off_dist(rng_);
      len = std::min<uint64_t>(len_dist(rng_), layout_.size - off);
    }
    const Bytes src = RandomBytes(rng_, len);
    Bytes buf = src;
    Result<size_t> w = volume_->WriteConsuming(off, buf);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_EQ(*w, len);
    std::copy(src.begin(), src.end(), model_.begin() + off);
    if (i % 2 == 0) {
      EXPECT_NE(buf, src) << "aligned write " << off << "+" << len
                          << " was not encrypted in place";
    }
  }
  ExpectStorageMatchesOracle();
  EXPECT_EQ(Mismatches(ReadAll()), 0u);
}

TEST_P(VolumeTest, ReadsAtEveryAlignmentReturnModel) {
  const std::vector<size_t> lens = {1, 7, ss_ - 1, ss_, ss_ + 1, 3 * ss_ - 5};
  size_t bad_reads = 0;
  Bytes buf(4 * ss_);
  // Every byte offset across the first two units, then near the end.
  std::vector<uint64_t> offs;
  for (uint64_t o = 0; o < ss_ + 2; ++o) offs.push_back(o);
  for (uint64_t o = layout_.size - 2 * ss_ - 1; o < layout_.size; o += 13) {
    offs.push_back(o);
  }
  offs.push_back(layout_.size - 1);
  for (uint64_t off : offs) {
    for (size_t len : lens) {
      std::fill(buf.begin(), buf.end(), 0xA5);
      Result<size_t> r = volume_->Read(off, std::span<uint8_t>(buf).first(len));
      const size_t want = std::min<uint64_t>(len, layout_.size - off);
      if (!r.ok() || *r != want ||
          !std::equal(buf.begin(), buf.begin() + want, model_.begin() + off) ||
          (want < buf.size() && buf[want] != 0xA5)) {
        if (bad_reads++ < 5) {
          ADD_FAILURE() << "read " << off << "+" << len << ": "
                        << (r.ok() ? std::to_string(*r)
                                   : r.status().ToString());
        }
      }
    }
  }
  EXPECT_EQ(bad_reads, 0u);
}

// A storage that reads in place, in pieces of one unit, three units, and
// more than a request: every alignment still reads the model, and aligned
// and unaligned reads go through ReadInPlace, never ReadAt.
TEST_P(VolumeTest, InPlaceReadsInPiecesReturnModel) {
  for (size_t piece : {ss_, 3 * ss_, 64 * ss_}) {
    mem_->set_in_place(piece);
    Bytes buf(5 * ss_ + 3);
    std::uniform_int_distribution<uint64_t> off_dist(0, layout_.size - 1);
    std::uniform_int_distribution<size_t> len_dist(1, buf.size());
    for (int i = 0; i < 300; ++i) {
      const uint64_t off = i == 0 ? 0 : off_dist(rng_);
      const size_t len = i == 0 ? 4 * ss_ : len_dist(rng_);
      mem_->ResetCounters();
      Result<size_t> r = volume_->Read(off, std::span<uint8_t>(buf).first(len));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      const size_t want = std::min<uint64_t>(len, layout_.size - off);
      ASSERT_EQ(*r, want);
      ASSERT_TRUE(std::equal(buf.begin(), buf.begin() + want, model_.begin() + off))
          << "piece " << piece << ", read " << off << "+" << len;
      EXPECT_EQ(mem_->reads(), 0);
      EXPECT_EQ(mem_->in_place_reads(), 1);
    }
    EXPECT_EQ(Mismatches(ReadAll()), 0u) << "piece " << piece;
  }
  mem_->set_in_place(0);
}

TEST_P(VolumeTest, ReadAndWriteAtOrPastTheEnd) {
  const uint64_t size = layout_.size;
  Bytes buf(100, 0x11);
  // Reads at and past the end return 0 and leave dst alone.
  for (uint64_t off : {size, size + 1, size + ss_, uint64_t{1} << 62}) {
    Result<size_t> r = volume_->Read(off, buf);
    ASSERT_TRUE(r.ok()) << off;
    EXPECT_EQ(*r, 0u) << off;
  }
  EXPECT_EQ(std::count(buf.begin(), buf.end(), 0x11), 100);

  // Writes at and past the end are "no space".
  for (uint64_t off : {size, size + 1, size + ss_, uint64_t{1} << 62}) {
    Result<size_t> w = volume_->Write(off, buf);
    ASSERT_FALSE(w.ok()) << off;
    EXPECT_EQ(w.status().code(), Status::Code::kResourceExhausted) << off;
  }
  EXPECT_EQ(mem_->writes(), 0);

  // A read straddling the end is short.
  Result<size_t> r = volume_->Read(size - 10, buf);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 10u);
  EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + 10, model_.end() - 10));

  // A write straddling the end is short and changes only the last bytes.
  Bytes src = RandomBytes(rng_, 100);
  Result<size_t> w = volume_->Write(size - 10, src);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(*w, 10u);
  std::copy(src.begin(), src.begin() + 10, model_.end() - 10);
  EXPECT_EQ(Mismatches(ReadAll()), 0u);
  ExpectStorageMatchesOracle();  // includes: trailer bytes untouched

  // Aligned, whole-unit straddle too.
  Bytes src2 = RandomBytes(rng_, 3 * ss_);
  w = volume_->Write(size - ss_, src2);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(*w, ss_);
  std::copy(src2.begin(), src2.begin() + ss_, model_.end() - ss_);
  EXPECT_EQ(Mismatches(ReadAll()), 0u);
  ExpectStorageMatchesOracle();
}

TEST_P(VolumeTest, EmptyRequestsDoNothing) {
  Result<size_t> r = volume_->Read(5, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);
  Result<size_t> w = volume_->Write(5, {});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, 0u);
  EXPECT_EQ(mem_->reads(), 0);
  EXPECT_EQ(mem_->writes(), 0);
}

TEST_P(VolumeTest, ReadOnlyVolumeRefusesWrites) {
  Bytes disk_before = mem_->Snapshot();
  // A second, read-only volume over a copy of the same ciphertext.
  volume_ = MakeVolume(/*read_only=*/true);
  mem_->Fill(0, disk_before);
  EXPECT_TRUE(volume_->read_only());
  Bytes src(10, 0x42);
  for (uint64_t off : {uint64_t{0}, uint64_t{1}, uint64_t{ss_}}) {
    Result<size_t> w = volume_->Write(off, src);
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.status().code(), Status::Code::kInvalidArgument);
  }
  EXPECT_EQ(mem_->writes(), 0);
  EXPECT_EQ(mem_->Snapshot(), disk_before);
  // Reads still work and see the same plaintext.
  EXPECT_EQ(Mismatches(ReadAll()), 0u);
}

TEST_P(VolumeTest, OneStorageReadPerRead) {
  Bytes buf(layout_.size);
  struct R {
    uint64_t off;
    size_t len;
  };
  const std::vector<R> reads = {
      {0, ss_},             // one unit
      {0, layout_.size},    // all units (parallel engine)
      {2 * ss_, 16 * ss_},  // many aligned units
      {1, 16 * ss_},        // unaligned, many units
      {ss_ - 1, 2},         // unaligned, two units
      {layout_.size - 5, 5},
  };
  for (const R& rd : reads) {
    mem_->ResetCounters();
    Result<size_t> r =
        volume_->Read(rd.off, std::span<uint8_t>(buf).first(rd.len));
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(*r, rd.len);
    EXPECT_TRUE(
        std::equal(buf.begin(), buf.begin() + rd.len, model_.begin() + rd.off));
    EXPECT_EQ(mem_->reads(), 1) << "read " << rd.off << "+" << rd.len;
    EXPECT_EQ(mem_->writes(), 0);
  }
}

TEST_P(VolumeTest, StorageCallsPerWrite) {
  struct Case {
    uint64_t off;
    size_t len;
    int reads;  // partial head/tail units read for read-modify-write
  };
  const std::vector<Case> cases = {
      {0, 16 * ss_, 0},                  // aligned: no read at all
      {ss_, ss_, 0},         {3, 5, 1},  // inside one unit: one read
      {ss_ + 1, ss_ - 1, 1},             // partial head only
      {2 * ss_, ss_ + 7, 1},             // partial tail only
      {ss_ / 2, 4 * ss_, 2},             // head and tail in different units
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("write " + std::to_string(c.off) + "+" +
                 std::to_string(c.len));
    mem_->ResetCounters();
    WriteRandom(c.off, c.len);
    EXPECT_EQ(mem_->writes(), 1);
    EXPECT_EQ(mem_->reads(), c.reads);
  }
  EXPECT_EQ(Mismatches(ReadAll()), 0u);
  ExpectStorageMatchesOracle();
}

TEST_P(VolumeTest, FlushReachesStorage) {
  EXPECT_TRUE(volume_->Flush().ok());
  EXPECT_EQ(mem_->flushes(), 1);
}

TEST_P(VolumeTest, StorageErrorsPropagate) {
  Bytes buf(ss_ + 3);
  mem_->set_fail_reads(true);
  Result<size_t> r = volume_->Read(0, buf);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kIOError);
  EXPECT_EQ(r.status().os_errno(), EIO);
  // A partial write needs a read first: it fails and writes nothing.
  Result<size_t> w = volume_->Write(1, buf);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Status::Code::kIOError);
  EXPECT_EQ(mem_->writes(), 0);
  mem_->set_fail_reads(false);

  mem_->set_fail_writes(true);
  Bytes aligned(ss_, 0x33);
  w = volume_->Write(0, aligned);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Status::Code::kIOError);
  EXPECT_EQ(w.status().os_errno(), ENOSPC);
  mem_->set_fail_writes(false);
  // Nothing changed.
  EXPECT_EQ(Mismatches(ReadAll()), 0u);
}

TEST_P(VolumeTest, DropKeysRevokesReadsAndWrites) {
  Bytes disk_before = mem_->Snapshot();
  volume_->DropKeys();
  Bytes buf(ss_);
  for (uint64_t off : {uint64_t{0}, uint64_t{1}}) {
    Result<size_t> r = volume_->Read(off, buf);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Status::Code::kKeyRevoked);
    Result<size_t> w = volume_->Write(off, buf);
    ASSERT_FALSE(w.ok());
    EXPECT_EQ(w.status().code(), Status::Code::kKeyRevoked);
  }
  EXPECT_EQ(mem_->writes(), 0);
  EXPECT_EQ(mem_->Snapshot(), disk_before);
  volume_->DropKeys();  // idempotent
  EXPECT_EQ(volume_->Read(0, buf).status().code(), Status::Code::kKeyRevoked);
}

TEST_P(VolumeTest, DropKeysWhileOthersReadAndWrite) {
  // Threads hammer the volume while the keys go: every call either succeeds
  // (started before) or fails with kKeyRevoked; nothing crashes or hangs.
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0}, revoked{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      Bytes buf(ss_ + 5, static_cast<uint8_t>(t));
      uint64_t off = t * 3;
      while (!stop.load()) {
        Result<size_t> r =
            t % 2 ? volume_->Write(off, buf) : volume_->Read(off, buf);
        if (!r.ok()) {
          if (r.status().code() == Status::Code::kKeyRevoked) {
            revoked.fetch_add(1);
            break;
          }
          bad.fetch_add(1);
          break;
        }
        off = (off + 4099) % (layout_.size - buf.size());
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  volume_->DropKeys();
  for (int i = 0; i < 500 && revoked.load() + bad.load() < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stop = true;
  for (auto& th : ts) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(revoked.load(), 4);
}

TEST_P(VolumeTest, ConcurrentStripedWritesShareUnits) {
  // Thread t owns the bytes whose (offset / 37) % T == t. Stripes of 37
  // bytes cut across every unit, so threads do read-modify-write on the same
  // units constantly; a missing or wrong range lock loses updates.
  constexpr unsigned T = 6;
  constexpr uint64_t kStripe = 37;
  // Work in a hot region of a few units for maximal contention.
  const uint64_t region =
      std::min<uint64_t>(layout_.size, std::max<uint64_t>(2 * ss_, 3072));
  const uint64_t stripes = (region + kStripe - 1) / kStripe;
  const int iters = ss_ == 512 ? 1500 : 600;
  std::atomic<size_t> own_mismatches{0}, failures{0};

  std::vector<std::thread> ts;
  for (unsigned t = 0; t < T; ++t) {
    ts.emplace_back([&, t] {
      std::mt19937_64 rng(1000 + t);
      Bytes rb(kStripe + 2 * ss_);
      for (int i = 0; i < iters; ++i) {
        // A stripe of mine, and a random sub-range of it.
        uint64_t s = (rng() % ((stripes + T - 1) / T)) * T + t;
        if (s >= stripes) s = t;
        const uint64_t lo = s * kStripe;
        const uint64_t hi = std::min(lo + kStripe, region);
        if (lo >= hi) continue;
        const uint64_t a = lo + rng() % (hi - lo);
        const uint64_t b = a + 1 + rng() % (hi - a);
        Bytes src(b - a);
        for (auto& c : src) c = static_cast<uint8_t>(rng());
        Result<size_t> w = volume_->Write(a, src);
        if (!w.ok() || *w != src.size()) {
          failures.fetch_add(1);
          continue;
        }
        // Only this thread writes these model bytes: no data race.
        std::copy(src.begin(), src.end(), model_.begin() + a);

        // Read back the whole stripe plus neighbours; check my bytes only.
        const uint64_t rlo = lo >= ss_ ? lo - ss_ : 0;
        const uint64_t rhi = std::min(hi + ss_, region);
        Result<size_t> r =
            volume_->Read(rlo, std::span<uint8_t>(rb).first(rhi - rlo));
        if (!r.ok() || *r != rhi - rlo) {
          failures.fetch_add(1);
          continue;
        }
        for (uint64_t o = rlo; o < rhi; ++o) {
          if ((o / kStripe) % T == t && rb[o - rlo] != model_[o]) {
            own_mismatches.fetch_add(1);
          }
        }
      }
    });
  }
  for (auto& th : ts) th.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(own_mismatches.load(), 0u);
  EXPECT_EQ(Mismatches(ReadAll()), 0u);
  ExpectStorageMatchesOracle();
}

TEST(VolumeStandaloneTest, SingleThreadEngineAndSmallVolume) {
  // One unit of 512 bytes, iv_tweak 1, engine with no pool.
  std::mt19937_64 rng(7);
  Bytes key = RandomBytes(rng, 64);
  crypto::DataLayout layout;
  layout.offset = 512;
  layout.size = 512;
  layout.sector_size = 512;
  layout.iv_tweak = 1;
  layout.cipher = "aes-xts-plain64";
  auto storage = std::make_unique<MemStorage>(1024);
  MemStorage* mem = storage.get();
  crypto::EngineOptions opts;
  opts.threads = 1;
  auto engine = crypto::CryptEngine::Create(layout.cipher, key, 512, opts);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  Volume v(storage.get(), std::make_unique<LinearMap>(storage.get(), layout, true),
           std::move(engine).value(), false);
  Bytes plain = RandomBytes(rng, 512);
  ASSERT_EQ(v.Write(0, plain).value(), 512u);
  Bytes disk = mem->Snapshot();
  Bytes want = XtsEncryptUnit(key, 1, plain.data(), 512);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), disk.begin() + 512));
  EXPECT_TRUE(std::all_of(disk.begin(), disk.begin() + 512,
                          [](uint8_t c) { return c == 0; }));
  // Write the middle byte, read it all back.
  const uint8_t x = plain[200] ^ 0xFF;
  ASSERT_EQ(v.Write(200, std::span<const uint8_t>(&x, 1)).value(), 1u);
  plain[200] = x;
  Bytes got(600, 0);
  ASSERT_EQ(v.Read(0, got).value(), 512u);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), got.begin()));
}

// Storage whose WriteAt lands in two halves with a pause between them, as
// pread/pwrite on a regular file may interleave (Linux does not make a
// pread atomic with respect to a concurrent pwrite of the same page). The
// Storage contract does not promise atomic writes either.
class TearingStorage : public MemStorage {
 public:
  using MemStorage::MemStorage;
  Status WriteAt(uint64_t offset, std::span<const uint8_t> src) override {
    const size_t half = src.size() / 2;
    LUKSFS_RETURN_IF_ERROR(MemStorage::WriteAt(offset, src.first(half)));
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    return MemStorage::WriteAt(offset + half, src.subspan(half));
  }
};

// A read of bytes that no one writes must not be disturbed by a concurrent
// read-modify-write of OTHER bytes of the same unit. Volume::Read takes no
// range lock, so it can decrypt a half-written unit; with CBC (supported
// for LUKS1: aes-cbc-essiv/plain64) a one-byte write re-encrypts every
// block after it, so the untouched bytes read back as garbage. XTS is immune
// only as long as tears fall on 16-byte boundaries. Read therefore holds
// its units shared against writers.
TEST(VolumeStandaloneTest,
     ReadDuringRmwOfSameUnitSeesConsistentData_Cbc) {
  const uint32_t ss = 4096;
  std::mt19937_64 rng(11);
  Bytes key = RandomBytes(rng, 32);
  crypto::DataLayout layout;
  layout.offset = 0;
  layout.size = 4 * ss;
  layout.sector_size = ss;
  layout.cipher = "aes-cbc-plain64";
  auto storage = std::make_unique<TearingStorage>(layout.size);
  crypto::EngineOptions opts;
  opts.threads = 1;
  auto engine = crypto::CryptEngine::Create(layout.cipher, key, ss, opts);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  Volume v(storage.get(), std::make_unique<LinearMap>(storage.get(), layout, true),
           std::move(engine).value(), false);
  const Bytes init(layout.size, 0x5A);
  ASSERT_TRUE(v.Write(0, init).ok());

  std::atomic<bool> stop{false};
  std::thread writer([&] {
    uint8_t b = 0;
    while (!stop.load()) {
      ++b;
      (void)v.Write(0, std::span<const uint8_t>(&b, 1));  // byte 0 only
    }
  });
  int garbage = 0;
  Bytes buf(ss - 1);
  for (int i = 0; i < 2000 && garbage == 0; ++i) {
    Result<size_t> r = v.Read(1, buf);  // bytes 1..ss-1: never written
    ASSERT_TRUE(r.ok());
    garbage += std::any_of(buf.begin(), buf.end(),
                           [](uint8_t c) { return c != 0x5A; });
  }
  stop = true;
  writer.join();
  EXPECT_EQ(garbage, 0) << "a read returned garbage for bytes no one wrote";
}

}  // namespace
}  // namespace luksfs::fs
