// S3Storage: Storage over one object in S3-compatible storage.
//
// Reads: ranged GETs of whole cache blocks (kBlockSize), several in flight
// for a large request, kept in a bounded LRU of ciphertext (BlockCache).
// Sequential access starts asynchronous read-ahead: a pipeline of ranged
// GETs (kMaxGet each, on a ThreadPool of up to 8 workers over the client's
// kept-alive connections) ahead of the reader; the window starts at two GETs
// on the second sequential read and doubles per top-up up to
// opts.read_ahead_kib (the memory bound of what is in flight; fetched blocks
// go into the bounded BlockCache). A random read resets it.
// With opts.stream_window_mib > 0 (the default) the read-ahead of a
// sequential run is instead ONE streaming GET (S3Client::GetStream) from
// the reader's position over stream_window_mib MiB, followed by the next
// window while the run lasts; its body is cut into blocks as it arrives
// (s3_stream.h) and each block is inserted into the cache and released to
// readers waiting for it. The stream runs at most read_ahead_kib ahead of
// the reader (it waits, holding its connection, while it is that far
// ahead; after kStreamIdleS seconds without progress of the reader it is
// abandoned), and it is abandoned when the pattern breaks (a random read).
// Blocks it claimed but did not deliver (abandoned, or failed after the
// client's retries) are released, and readers then GET them themselves,
// with the usual retries: a failed stream never fails a read by itself. Every GET carries If-Match with the ETag pinned at
// open, so a concurrent overwrite by someone else is an error (ESTALE,
// "object changed since mount"), never silently mixed in.
//
// Writes (read-write only): WriteAt stores ciphertext in a sparse, unlinked
// file under opts.cache_dir (the write-back area) and records the range as
// dirty. Ranges ever written are served from that file from then on.
// Flush() commits: one multipart upload in which parts with no dirty byte
// are UploadPartCopy'd server-side and parts with dirty bytes are uploaded;
// objects below one part size are PUT whole. The new ETag is then pinned.
// Flush returns only after the commit completed. A background thread also
// commits every opts.commit_interval_s seconds.
//
// Growth: a WriteAt past Size() extends the image (up to 5 TiB, the S3
// object limit). The bytes between the old end and the write read as zeros;
// the whole grown area lives in the write-back file and is dirty, so the
// next commit uploads an object of the new size: parts inside the object as
// last committed and clean are still UploadPartCopy'd, parts that reach past
// its end are uploaded (an object that grows past one part size switches
// from a single PUT to multipart). Size() returns the grown size at once.
//
// Thread-safety: every method may be called concurrently. Locks:
//   commit_mu_ serialises commits and IS held across network I/O (only
//              Flush and the committer take it; reads never wait for it);
//   mu_        guards etag_, remote_size_, local_, dirty_, inflight_, seq
//              state, and serialises changes of size_; never held
//              across network or disk I/O; taken after commit_mu_.
//   BlockCache has its own leaf lock.
// Errors: kIOError (EIO; EACCES for 403; ESTALE when the object changed),
// kNotFound at open for a missing bucket/object, kInvalidArgument for a
// write to a read-only mount. Messages start with the s3:// name.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/thread_pool.h"
#include "common/unique_fd.h"
#include "fs/storage/s3_cache.h"
#include "fs/storage/s3_client.h"
#include "fs/storage/s3_uri.h"
#include "fs/storage/storage.h"

namespace luksfs::fs {

class S3Storage : public Storage {
 public:
  static constexpr uint64_t kBlockSize = 256 * 1024;
  static constexpr uint64_t kMaxGet = 4 * 1024 * 1024;   // bytes per GET
  static constexpr uint64_t kMinPart = 8 * 1024 * 1024;  // multipart part size
  static constexpr uint64_t kMaxObject = 5ull << 40;     // S3's object limit
  // The stream claims (marks in flight) this many blocks ahead of what it
  // delivers: readers of those wait for the stream rather than GET them.
  static constexpr uint64_t kStreamClaim = kMaxGet / kBlockSize;
  static constexpr int kStreamIdleS = 10;  // < the client's stall timeout

  // HEADs the object (size, ETag). Read-write also creates the write-back
  // file in opts.cache_dir (default /var/tmp).
  static Result<std::unique_ptr<S3Storage>> Open(const std::string& uri,
                                                 bool writable,
                                                 const S3Options& opts,
                                                 const EnvFn& env);
  // Stops the committer and read-ahead. Does not commit: call Flush first.
  ~S3Storage() override;

  uint64_t Size() const override { return size_.load(std::memory_order_acquire); }
  Status ReadAt(uint64_t offset, std::span<uint8_t> dst) const override;
  // Read-only storage only: the cached blocks themselves (fetched first
  // where missing), one piece per block, so the data path decrypts out of
  // the cache without copying the ciphertext first. nullopt for a writable
  // storage (its write-back file overlays the cache), an offset that is not
  // a multiple of `unit`, or a range past the object.
  std::optional<Status> ReadInPlace(uint64_t offset, size_t len, size_t unit,
                                    InPlaceFn fn) const override;
  Status WriteAt(uint64_t offset, std::span<const uint8_t> src) override;
  Status Flush() override;
  const std::string& name() const override { return name_; }

  // For tests and debug logs.
  const S3Client& client() const { return *client_; }
  uint64_t streams_started() const { return streams_started_.load(); }
  uint64_t stream_blocks() const { return stream_blocks_.load(); }
  std::string etag() const;
  // Bytes sent in PUTs and uploaded parts since open (copied parts are not
  // counted).
  uint64_t bytes_uploaded() const { return uploaded_total_.load(); }

 private:
  S3Storage(std::string name, std::string key, std::unique_ptr<S3Client> client,
            S3ObjectInfo info, const S3Options& opts, UniqueFd fd);

  // Bytes of the object (no local data) into dst, via cache and GETs.
  Status ReadRemote(uint64_t offset, std::span<uint8_t> dst) const;
  // The cached blocks holding object bytes [offset, end) (end <= the
  // object's size), fetched first where missing; (*blocks)[0] is block
  // offset / kBlockSize.
  Status GatherBlocks(uint64_t offset, uint64_t end, uint64_t remote,
                      std::vector<Block>* blocks) const;
  // Gathers those blocks and calls fn(at, bytes) on each one's part of
  // [offset, end), in order; stops at fn's first error.
  Status VisitRemote(uint64_t offset, uint64_t end, uint64_t remote,
                     InPlaceFn fn) const;
  // GETs blocks [first, first+n) (one request each kMaxGet), caching them
  // (as scan blocks for read-ahead); `remote` is the object's size (blocks
  // end there).
  Status FetchBlocks(uint64_t first, uint64_t n, uint64_t remote,
                     std::vector<Block>* out, bool scan) const;
  // One ranged GET with If-Match, streamed into `sink`
  // (S3Client::GetStream); after a 412 caused by our own commit (the ETag
  // was re-pinned meanwhile) the rest is read from the new object.
  Status GetStream(uint64_t offset, uint64_t length,
                   const std::function<bool(std::span<const uint8_t>)>& sink) const;
  // Overlays the ranges of [offset, offset+dst.size()) held locally.
  Status OverlayLocal(uint64_t offset, std::span<uint8_t> dst) const;
  Status ReadAll(uint64_t offset, std::span<uint8_t> dst) const;
  void MaybeReadAhead(uint64_t offset, uint64_t end) const;
  void ClearInflight(uint64_t first, uint64_t n) const;
  // REQUIRES: mu_ held. Starts the stream after a sequential read that
  // ended at `end`, unless one runs.
  void StartStreamLocked(uint64_t end) const;
  // REQUIRES: mu_ held. Claims blocks [stream_claim_to_, to) not cached
  // and not in flight.
  void StreamClaimLocked(uint64_t to) const;
  // The stream task, from block `first`; `epoch` and `etag` at its start.
  void RunStream(uint64_t first, uint64_t epoch, std::string etag) const;
  Status Commit();
  Status CheckUnchanged(const std::string& etag) const;
  Status CommitMultipart(const RangeSet& dirty, const std::string& etag,
                         uint64_t size, uint64_t remote, std::string* new_etag);
  void CommitterLoop();
  uint64_t remote_size() const;

  const std::string name_;  // "s3://bucket/key"
  const std::string key_;
  std::unique_ptr<S3Client> client_;
  std::atomic<uint64_t> size_;       // image size; grows under mu_
  const S3Options opts_;
  const bool writable_;
  UniqueFd fd_;  // write-back file, -1 when read-only; reset last in ~S3Storage
  mutable BlockCache cache_;

  mutable std::mutex mu_;
  mutable std::condition_variable inflight_cv_;  // with mu_: inflight_ shrank
  std::string etag_;                 // guarded by mu_
  uint64_t remote_size_;             // guarded by mu_: object size at etag_
  RangeSet local_;                   // guarded by mu_: served from fd_
  RangeSet dirty_;                   // guarded by mu_: not yet committed
  mutable std::set<uint64_t> inflight_;  // guarded by mu_: blocks being fetched
  mutable uint64_t last_end_ = 0;    // guarded by mu_: end of the last read
  mutable uint64_t ra_next_ = 0;     // guarded by mu_: read-ahead issued up to
  mutable uint64_t ra_window_ = 0;   // guarded by mu_: current (ramping) window
  mutable uint64_t seq_reads_ = 0;   // guarded by mu_: reads in the current run
  // The stream (at most one; it runs on prefetch_), all guarded by mu_:
  mutable bool stream_active_ = false;
  mutable bool stream_cancel_ = false;    // abandon it at its next chunk
  mutable uint64_t stream_claim_to_ = 0;  // blocks claimed up to (exclusive)
  mutable std::set<uint64_t> stream_claimed_;  // in inflight_ for the stream
  mutable uint64_t stream_demand_ = 0;    // a reader waits for bytes up to
  mutable std::condition_variable stream_cv_;  // with mu_: reader moved,
                                               // cancel or stop
  mutable std::atomic<uint64_t> streams_started_{0};
  mutable std::atomic<uint64_t> stream_blocks_{0};  // delivered
  bool stop_ = false;                // guarded by mu_
  std::condition_variable stop_cv_;  // with mu_: stop_ or work

  std::atomic<uint64_t> uploaded_total_{0};
  std::mutex commit_mu_;  // see the file comment
  std::thread committer_;
  // Helpers of the caller for the GETs and part uploads of one request
  // (ParallelFor): opts_.parallel - 1 threads, none when it is 1.
  mutable std::unique_ptr<ThreadPool> io_pool_;
  // Last member: destroyed (drained and joined) first.
  mutable std::unique_ptr<ThreadPool> prefetch_;
};

}  // namespace luksfs::fs
