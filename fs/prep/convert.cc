#include "fs/prep/convert.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/secure_buffer.h"
#include "fs/prep/interrupt.h"
#include "fs/prep/qcow2_target.h"

namespace luksfs::fs::prep {

namespace {

constexpr uint64_t kZeroBlock = 64 * 1024;

struct Chunk {
  uint64_t offset = 0;
  uint64_t length = 0;
  // Not zero-filled: the reader overwrites every byte it hands on, and
  // zeroing 32 MiB of buffers costs tens of ms of page faults up front.
  std::unique_ptr<uint8_t[]> data;
  uint64_t capacity = 0;
  // A qcow2 DST: the packed run to write (host_length 0: all zeros).
  uint64_t host_offset = 0;
  uint64_t host_length = 0;
  // SRC has no data in this range (a qcow2 hole) and DST is sparse (raw,
  // qcow2): nothing was read, nothing is decrypted or written.
  bool hole = false;
};

// A bounded blocking queue of chunks; Close() wakes every waiter.
class ChunkQueue {
 public:
  void Push(std::unique_ptr<Chunk> c) {
    std::lock_guard<std::mutex> l(mu_);
    q_.push_back(std::move(c));
    cv_.notify_one();
  }
  // nullptr once closed and empty.
  std::unique_ptr<Chunk> Pop() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q_.empty() || closed_; });
    if (q_.empty()) return nullptr;
    auto c = std::move(q_.front());
    q_.pop_front();
    return c;
  }
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;  // guards q_ and closed_
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Chunk>> q_;
  bool closed_ = false;
};

// The first error wins; every stage polls failed().
class FirstError {
 public:
  void Set(Status s) {
    std::lock_guard<std::mutex> l(mu_);
    if (status_.ok()) status_ = std::move(s);
    failed_ = true;
  }
  bool failed() const { return failed_; }
  Status Get() {
    std::lock_guard<std::mutex> l(mu_);
    return status_;
  }

 private:
  std::mutex mu_;  // guards status_
  Status status_;
  std::atomic<bool> failed_{false};
};

bool AllZero(const uint8_t* p, uint64_t n) {
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

}  // namespace

Result<ConvertStats> ConvertPlain(const PlainImage& src, const ConvertTarget& dst,
                                  const ConvertOptions& o) {
  if (o.chunk_bytes == 0 || o.chunk_bytes % 4096 != 0 || o.depth == 0) {
    return Status::InvalidArgument("convert: bad chunk size or depth");
  }
  if (dst.qcow2 && o.chunk_bytes % dst.qcow2->cluster_size() != 0) {
    return Status::InvalidArgument("convert: the block size is not a multiple of the cluster size");
  }
  ChunkQueue free_q, full_q, done_q;
  const uint64_t chunks = (src.size + o.chunk_bytes - 1) / o.chunk_bytes;
  const uint64_t buffers = std::max<uint64_t>(1, std::min<uint64_t>(o.depth, chunks));
  for (uint64_t i = 0; i < buffers; ++i) {
    auto c = std::make_unique<Chunk>();
    c->data = std::make_unique_for_overwrite<uint8_t[]>(o.chunk_bytes);
    c->capacity = o.chunk_bytes;
    free_q.Push(std::move(c));
  }
  FirstError err;
  ConvertStats stats;
  const bool sparse_dst = dst.qcow2 != nullptr || dst.engine == nullptr;
  std::thread reader([&] {
    uint64_t data_at = 0;  // SRC's first data byte at or after some offset
    for (uint64_t off = 0; off < src.size && !err.failed();) {
      if (Interrupted()) {
        err.Set(Status::Unavailable("interrupted"));
        break;
      }
      auto c = free_q.Pop();
      if (!c) break;
      c->offset = off;
      c->length = std::min<uint64_t>(o.chunk_bytes, src.size - off);
      c->hole = false;
      if (sparse_dst) {
        if (data_at < off) {  // ask again only once past the last answer
          Result<uint64_t> n = src.NextData(off);
          data_at = n.ok() ? *n : off;
        }
        if (data_at >= off + c->length) {
          c->hole = true;
          full_q.Push(std::move(c));
          off += o.chunk_bytes;
          continue;
        }
      }
      Status s = src.ReadStored(off, std::span<uint8_t>(c->data.get(), c->length));
      if (!s.ok()) {
        err.Set(s.WithContext("SRC"));
        break;
      }
      full_q.Push(std::move(c));
      off += o.chunk_bytes;
    }
    full_q.Close();
  });
  std::thread writer([&] {
    uint64_t done = 0;
    while (auto c = done_q.Pop()) {
      if (!err.failed()) {
        const uint8_t* p = c->data.get();
        Status s;
        if (c->hole) {
          // Nothing to write: DST reads zeros there already.
        } else if (dst.qcow2) {
          if (c->host_length) s = dst.out->WriteAt(c->host_offset, {p, c->host_length});
          stats.written += c->host_length;
          if (!dst.qcow2->encrypted()) SecureWipe(c->data.get(), c->capacity);
        } else if (dst.engine) {
          s = dst.out->WriteAt(dst.data_offset + c->offset, {p, c->length});
          stats.written += c->length;
        } else {
          // Sparse: write only the runs of non-zero 64 KiB blocks.
          for (uint64_t i = 0; i < c->length && s.ok();) {
            const uint64_t n = std::min(kZeroBlock, c->length - i);
            if (AllZero(p + i, n)) {
              i += n;
              continue;
            }
            uint64_t j = i + n;
            while (j < c->length) {
              const uint64_t m = std::min(kZeroBlock, c->length - j);
              if (AllZero(p + j, m)) break;
              j += m;
            }
            s = dst.out->WriteAt(dst.data_offset + c->offset + i, {p + i, j - i});
            stats.written += j - i;
            i = j;
          }
          SecureWipe(c->data.get(), c->length);  // plaintext
        }
        if (!s.ok()) err.Set(s.WithContext("DST"));
        done += c->length;
        if (o.progress) o.progress(done);
      }
      free_q.Push(std::move(c));
    }
  });
  // The crypto stage, on this thread.
  while (auto c = full_q.Pop()) {
    if (!err.failed() && !c->hole) {
      std::span<uint8_t> buf(c->data.get(), c->length);
      Status s = src.Decrypt(c->offset, buf);
      if (!s.ok()) err.Set(s.WithContext("SRC"));
      if (s.ok() && dst.qcow2) {
        auto run = dst.qcow2->Place(c->offset, c->data.get(), c->length, c->capacity);
        if (run.ok()) {
          c->host_offset = run->host_offset;
          c->host_length = run->length;
        } else {
          err.Set(run.status().WithContext("DST"));
        }
      } else if (s.ok() && dst.engine) {
        s = dst.engine->Encrypt(c->offset / 512, buf, buf);
        if (!s.ok()) err.Set(s.WithContext("DST"));
      }
    }
    done_q.Push(std::move(c));
  }
  done_q.Close();
  reader.join();
  writer.join();
  free_q.Close();
  // Chunks that held plaintext (a LUKS SRC, any DST) are wiped on the way out.
  while (auto c = free_q.Pop()) SecureWipe(c->data.get(), c->capacity);
  if (err.failed()) return err.Get();
  stats.bytes = src.size;
  return stats;
}

}  // namespace luksfs::fs::prep
