#include "fs/storage/s3_storage.h"

#include "fs/storage/posix_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>

#include "common/log.h"
#include "common/parallel_for.h"
#include "fs/storage/s3_stream.h"

namespace luksfs::fs {

namespace {

// How far the stream may run ahead of the reader: --read-ahead, within a
// quarter of the cache (at least one block).
uint64_t StreamLookahead(const S3Options& o) {
  return std::max<uint64_t>(S3Storage::kBlockSize,
                            std::min(o.read_ahead_kib * 1024, o.cache_mib * 1024 * 1024 / 4));
}

// The part of the cache that stream blocks may use: what the stream holds
// ahead of the reader, as much again behind it, and one GET's worth of slack
// for readers a little behind the furthest one.
uint64_t ScanCapacity(const S3Options& o) {
  return std::min(o.cache_mib * 1024 * 1024, 2 * StreamLookahead(o) + S3Storage::kMaxGet);
}

Result<UniqueFd> OpenWriteBack(const std::string& dir, uint64_t size) {
  UniqueFd fd(open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd.get() < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    std::string tmpl = dir + "/luksfs-writeback-XXXXXX";
    fd.reset(mkostemp(tmpl.data(), O_CLOEXEC));
    if (fd.get() >= 0) unlink(tmpl.c_str());
  }
  if (fd.get() < 0) {
    return PosixError("cannot create the write-back file in --cache-dir " + dir, errno);
  }
  if (ftruncate(fd.get(), static_cast<off_t>(size)) != 0) {
    const int err = errno;
    return PosixError("write-back file in " + dir + ": ftruncate", err);
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<S3Storage>> S3Storage::Open(const std::string& uri,
                                                   bool writable,
                                                   const S3Options& opts,
                                                   const EnvFn& env) {
  LUKSFS_ASSIGN_OR_RETURN(S3Location loc, ParseS3Uri(uri));
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, OpenS3Client(loc, opts, env));
  LUKSFS_ASSIGN_OR_RETURN(S3ObjectInfo info, client->Head(loc.key));
  UniqueFd fd;
  if (writable) {
    const std::string dir = opts.cache_dir.empty() ? "/var/tmp" : opts.cache_dir;
    LUKSFS_ASSIGN_OR_RETURN(fd, OpenWriteBack(dir, info.size));
  }
  LogDebug(uri + ": " + std::to_string(info.size) + " bytes, ETag " + info.etag +
           " via " + client->endpoint().scheme + "://" + client->endpoint().host);
  return std::unique_ptr<S3Storage>(new S3Storage(
      "s3://" + loc.bucket + "/" + loc.key, loc.key, std::move(client), info,
      opts, std::move(fd)));
}

S3Storage::S3Storage(std::string name, std::string key,
                     std::unique_ptr<S3Client> client, S3ObjectInfo info,
                     const S3Options& opts, UniqueFd fd)
    : name_(std::move(name)),
      key_(std::move(key)),
      client_(std::move(client)),
      size_(info.size),
      opts_(opts),
      writable_(fd.get() >= 0),
      fd_(std::move(fd)),
      cache_(opts.cache_mib * 1024 * 1024, ScanCapacity(opts)),
      etag_(info.etag),
      remote_size_(info.size) {
  if (opts_.parallel > 1) {
    io_pool_ = std::make_unique<ThreadPool>(opts_.parallel - 1);
  }
  if (opts_.read_ahead_kib > 0) {
    // One worker per GET the full window holds (4 with the default 16 MiB),
    // at least opts.parallel, at most 8.
    const uint64_t gets = opts_.read_ahead_kib * 1024 / kMaxGet;
    prefetch_ = std::make_unique<ThreadPool>(static_cast<unsigned>(
        std::clamp<uint64_t>(gets, std::max(1u, opts_.parallel), 8)));
  }
  if (writable_ && opts_.commit_interval_s > 0) {
    committer_ = std::thread([this] { CommitterLoop(); });
  }
}

S3Storage::~S3Storage() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    stream_cancel_ = true;
  }
  stop_cv_.notify_all();
  stream_cv_.notify_all();
  if (committer_.joinable()) committer_.join();
  prefetch_.reset();  // drains queued read-ahead while members still live
  fd_.reset();
}

std::string S3Storage::etag() const {
  std::lock_guard<std::mutex> l(mu_);
  return etag_;
}

uint64_t S3Storage::remote_size() const {
  std::lock_guard<std::mutex> l(mu_);
  return remote_size_;
}

// ---------------------------------------------------------------------------
// Reads

Status S3Storage::GetStream(
    uint64_t offset, uint64_t length,
    const std::function<bool(std::span<const uint8_t>)>& sink) const {
  std::string etag = this->etag();
  uint64_t done = 0;  // bytes given to sink, over the attempts
  for (int attempt = 0;; ++attempt) {
    Status s = client_->GetStream(key_, offset + done, length - done, etag,
                                  [&](std::span<const uint8_t> chunk) {
                                    if (!sink(chunk)) return false;
                                    done += chunk.size();
                                    return true;
                                  });
    if (s.ok() || s.os_errno() != ESTALE || attempt >= 3) return s;
    // As Get: after our own commit re-pinned the ETag, read the rest there.
    const std::string now = this->etag();
    if (now == etag) return s;
    etag = now;
  }
}

void S3Storage::ClearInflight(uint64_t first, uint64_t n) const {
  {
    std::lock_guard<std::mutex> l(mu_);
    for (uint64_t i = first; i < first + n; ++i) inflight_.erase(i);
  }
  inflight_cv_.notify_all();
}

Status S3Storage::FetchBlocks(uint64_t first, uint64_t n, uint64_t remote,
                              std::vector<Block>* out, bool scan) const {
  const uint64_t epoch = cache_.epoch();
  const uint64_t per_get = kMaxGet / kBlockSize;
  const size_t gets = (n + per_get - 1) / per_get;
  out->assign(n, nullptr);
  return ParallelFor(io_pool_.get(), opts_.parallel - 1, gets, [&](size_t g) -> Status {
    const uint64_t b0 = first + g * per_get;
    const uint64_t nb = std::min(per_get, first + n - b0);
    const uint64_t begin = b0 * kBlockSize;
    const uint64_t end = std::min(remote, (b0 + nb) * kBlockSize);
    // The body is cut into blocks as it arrives: one copy, no zero fill.
    BlockAssembler blocks(kBlockSize, b0, end);
    auto emit = [&](uint64_t index, Block blk) {
      cache_.Insert(epoch, index, blk, scan);
      (*out)[index - first] = std::move(blk);
      return true;
    };
    return GetStream(begin, end - begin, [&](std::span<const uint8_t> chunk) {
      return blocks.Add(chunk, [](uint64_t) { return true; }, emit);
    });
  });
}

Status S3Storage::ReadRemote(uint64_t offset, std::span<uint8_t> dst) const {
  // Past the object's end (a grown image) every byte is local: the caller
  // overlays the write-back file.
  const uint64_t remote = remote_size();
  if (offset >= remote) return Status();
  if (dst.size() > remote - offset) dst = dst.first(remote - offset);
  if (dst.empty()) return Status();
  return VisitRemote(offset, offset + dst.size(), remote,
                     [&](size_t at, std::span<const uint8_t> bytes) {
                       std::copy_n(bytes.data(), bytes.size(), dst.data() + at);
                       return Status();
                     });
}

Status S3Storage::VisitRemote(uint64_t offset, uint64_t end, uint64_t remote,
                              InPlaceFn fn) const {
  std::vector<Block> blocks;
  LUKSFS_RETURN_IF_ERROR(GatherBlocks(offset, end, remote, &blocks));
  const uint64_t first = offset / kBlockSize;
  for (uint64_t i = first; i < first + blocks.size(); ++i) {
    const Block& blk = blocks[i - first];
    const uint64_t bb = i * kBlockSize;
    const uint64_t from = std::max(offset, bb);
    const uint64_t to = std::min(end, bb + blk->size());
    if (to <= from) break;  // a short last block: the object ends
    LUKSFS_RETURN_IF_ERROR(
        fn(from - offset, std::span<const uint8_t>(blk->data() + (from - bb), to - from)));
  }
  return Status();
}

std::optional<Status> S3Storage::ReadInPlace(uint64_t offset, size_t len,
                                             size_t unit, InPlaceFn fn) const {
  // The write-back file may hold newer bytes than the cache: read-only only.
  if (writable_ || len == 0 || unit == 0 || kBlockSize % unit != 0 ||
      offset % unit != 0) {
    return std::nullopt;
  }
  const uint64_t remote = remote_size();
  if (offset > remote || len > remote - offset) return std::nullopt;
  const uint64_t end = offset + len;
  Status s = VisitRemote(offset, end, remote, fn);
  if (!s.ok()) return s.WithContext(name_);
  MaybeReadAhead(offset, end);
  return Status();
}

Status S3Storage::GatherBlocks(uint64_t offset, uint64_t end, uint64_t remote,
                               std::vector<Block>* out) const {
  const uint64_t first = offset / kBlockSize;
  const uint64_t last = (end - 1) / kBlockSize;
  std::vector<Block>& blocks = *out;
  blocks.assign(last - first + 1, nullptr);
  std::vector<uint64_t> mine;  // blocks this call fetches
  {
    std::unique_lock<std::mutex> l(mu_);
    for (uint64_t i = first; i <= last; ++i) {
      blocks[i - first] = cache_.Get(i);
      if (blocks[i - first]) continue;
      // Someone (read-ahead, another reader) is fetching it: wait for them.
      if (stream_claimed_.count(i)) {
        // The stream has it next: let it run up to here whatever its
        // look-ahead bound says.
        stream_demand_ = std::max(stream_demand_, (i + 1) * kBlockSize);
        stream_cv_.notify_all();
      }
      inflight_cv_.wait(l, [&] { return inflight_.count(i) == 0; });
      blocks[i - first] = cache_.Get(i);
      if (blocks[i - first]) continue;
      inflight_.insert(i);
      mine.push_back(i);
    }
  }
  // Fetch runs of consecutive missing blocks.
  Status status;
  for (size_t a = 0; a < mine.size();) {
    size_t b = a + 1;
    while (b < mine.size() && mine[b] == mine[b - 1] + 1) ++b;
    std::vector<Block> got;
    Status s = FetchBlocks(mine[a], b - a, remote, &got, /*scan=*/false);
    ClearInflight(mine[a], b - a);
    if (!s.ok() && status.ok()) status = s;
    if (s.ok()) {
      for (size_t k = 0; k < got.size(); ++k) blocks[mine[a] + k - first] = got[k];
    }
    a = b;
  }
  return status;
}

void S3Storage::MaybeReadAhead(uint64_t offset, uint64_t end) const {
  if (!prefetch_) return;
  const uint64_t max_window = opts_.read_ahead_kib * 1024;
  uint64_t from, to, remote, window;
  {
    std::lock_guard<std::mutex> l(mu_);
    // Sequential: starts near where the last read ended (the kernel's own
    // read-ahead may reorder requests a little).
    const bool seq = offset <= last_end_ + kMaxGet && end + kMaxGet >= last_end_;
    last_end_ = seq ? std::max(last_end_, end) : end;
    if (!seq) {
      // A random read: no read-ahead, and the next run starts small again.
      ra_next_ = 0;
      ra_window_ = 0;
      seq_reads_ = 0;
      if (stream_active_ && !stream_cancel_) {
        stream_cancel_ = true;
        stream_cv_.notify_all();
      }
      return;
    }
    if (opts_.stream_window_mib > 0) {
      if (++seq_reads_ < 2) return;
      if (stream_active_) {
        stream_cv_.notify_all();  // the reader moved on
      } else {
        StartStreamLocked(end);
      }
      return;
    }
    // Adaptive: a run must be seen twice before any GET is issued ahead of
    // it, and the window then doubles with every top-up (two GETs, four,
    // ...) up to --read-ahead, so short runs cost little.
    if (++seq_reads_ < 2) return;
    if (ra_window_ == 0) ra_window_ = std::min(max_window, 2 * kMaxGet);
    window = ra_window_;
    remote = remote_size_;
    const uint64_t nblocks = (remote + kBlockSize - 1) / kBlockSize;
    from = std::max(ra_next_, (end + kBlockSize - 1) / kBlockSize);
    to = std::min(nblocks, (end + window + kBlockSize - 1) / kBlockSize);
    if (to <= from) return;
    // Top up in steps of at least half a GET, so one stream keeps a steady
    // number of large GETs ahead of the reader.
    if ((to - from) * kBlockSize < std::min(window, kMaxGet) / 2 && to < nblocks) return;
    ra_next_ = to;
    ra_window_ = std::min(max_window, 2 * ra_window_);
  }
  const uint64_t per_get = kMaxGet / kBlockSize;
  for (uint64_t b0 = from; b0 < to; b0 += per_get) {
    const uint64_t b1 = std::min(to, b0 + per_get);
    std::vector<uint64_t> claim;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (uint64_t i = b0; i < b1; ++i) {
        if (inflight_.count(i)) continue;
        inflight_.insert(i);
        claim.push_back(i);
      }
    }
    // Drop claimed blocks already cached (cheap check, outside mu_).
    std::vector<uint64_t> need;
    for (uint64_t i : claim) {
      if (cache_.Get(i)) {
        ClearInflight(i, 1);
      } else {
        need.push_back(i);
      }
    }
    for (size_t a = 0; a < need.size();) {
      size_t b = a + 1;
      while (b < need.size() && need[b] == need[b - 1] + 1) ++b;
      const uint64_t f = need[a], n = b - a;
      prefetch_->Submit([this, f, n, remote] {
        std::vector<Block> got;
        Status s = FetchBlocks(f, n, remote, &got, /*scan=*/true);
        ClearInflight(f, n);
        if (!s.ok()) LogDebug(name_ + ": read-ahead: " + s.message());
      });
      a = b;
    }
  }
}

void S3Storage::StreamClaimLocked(uint64_t to) const {
  for (uint64_t i = stream_claim_to_; i < to; ++i) {
    if (inflight_.count(i) || cache_.Get(i)) continue;
    inflight_.insert(i);
    stream_claimed_.insert(i);
  }
  stream_claim_to_ = std::max(stream_claim_to_, to);
}

void S3Storage::StartStreamLocked(uint64_t end) const {
  const uint64_t remote = remote_size_;
  const uint64_t nblocks = (remote + kBlockSize - 1) / kBlockSize;
  const uint64_t lookahead = StreamLookahead(opts_);
  // Start at the first block after the read that is neither cached nor
  // being fetched (a previous stream or read-ahead may have got further).
  uint64_t first = end / kBlockSize;
  const uint64_t scan_to = std::min(nblocks, first + lookahead / kBlockSize + 1);
  while (first < scan_to && (inflight_.count(first) || cache_.Get(first))) ++first;
  if (first >= nblocks || first >= scan_to) return;
  stream_active_ = true;
  stream_cancel_ = false;
  stream_demand_ = 0;
  stream_claim_to_ = first;
  StreamClaimLocked(std::min(nblocks, first + kStreamClaim));
  streams_started_.fetch_add(1);
  prefetch_->Submit([this, first, epoch = cache_.epoch(), etag = etag_] {
    RunStream(first, epoch, etag);
  });
}

void S3Storage::RunStream(uint64_t first, uint64_t epoch, std::string etag) const {
  const uint64_t remote = remote_size();
  const uint64_t nblocks = (remote + kBlockSize - 1) / kBlockSize;
  const uint64_t window = opts_.stream_window_mib * 1024 * 1024;
  // Inside the cache's scan part, or blocks would go before they are read.
  const uint64_t lookahead = StreamLookahead(opts_);
  // Before block `index`: wait while the stream is too far ahead, then
  // claim the next blocks. False abandons the stream.
  std::chrono::steady_clock::duration waited{};  // in flow control
  auto begin = [&](uint64_t index) {
    std::unique_lock<std::mutex> l(mu_);
    uint64_t seen = std::max(last_end_, stream_demand_);
    auto moved = std::chrono::steady_clock::now();  // the reader, last
    std::chrono::steady_clock::time_point w0{};
    while (!stop_ && !stream_cancel_ &&
           !StreamMayAdvance(index, kBlockSize, std::max(last_end_, stream_demand_),
                             lookahead)) {
      if (w0 == std::chrono::steady_clock::time_point{}) w0 = std::chrono::steady_clock::now();
      stream_cv_.wait_for(l, std::chrono::seconds(1));
      const auto t = std::chrono::steady_clock::now();
      waited += t - w0;
      w0 = t;
      const uint64_t now = std::max(last_end_, stream_demand_);
      if (now != seen) moved = t;
      seen = now;
      if (t - moved >= std::chrono::seconds(kStreamIdleS)) {
        LogDebug(name_ + ": read-ahead stream: the reader stopped; abandoning it");
        return false;
      }
    }
    if (stop_ || stream_cancel_) return false;
    StreamClaimLocked(std::min(nblocks, index + kStreamClaim));
    return true;
  };
  auto emit = [&](uint64_t index, Block blk) {
    cache_.Insert(epoch, index, std::move(blk), /*scan=*/true);
    stream_blocks_.fetch_add(1);
    bool mine;
    {
      std::lock_guard<std::mutex> l(mu_);
      mine = stream_claimed_.erase(index) > 0;
      if (mine) inflight_.erase(index);
    }
    if (mine) inflight_cv_.notify_all();
    return true;
  };
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t blocks0 = stream_blocks_.load();
  Status s;
  uint64_t at = first * kBlockSize;
  while (s.ok() && at < remote) {
    const uint64_t seg_end = StreamSegmentEnd(at, window, remote);
    BlockAssembler asm_(kBlockSize, at / kBlockSize, seg_end);
    s = client_->GetStream(key_, at, seg_end - at, etag,
                           [&](std::span<const uint8_t> chunk) {
                             return asm_.Add(chunk, begin, emit);
                           });
    at = seg_end;
  }
  LogDebug(name_ + ": read-ahead stream from byte " +
           std::to_string(first * kBlockSize) + ": " +
           std::to_string((stream_blocks_.load() - blocks0) * kBlockSize >> 20) +
           " MiB in " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - t0).count()) +
           " ms (" +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()) +
           " ms of it ahead of the reader); " + (s.ok() ? std::string("done") : s.message()));
  {
    std::lock_guard<std::mutex> l(mu_);
    // Whatever it claimed and did not deliver: readers fetch it themselves.
    for (uint64_t i : stream_claimed_) inflight_.erase(i);
    stream_claimed_.clear();
    stream_active_ = false;
    stream_cancel_ = false;
    stream_demand_ = 0;
  }
  inflight_cv_.notify_all();
}

Status S3Storage::OverlayLocal(uint64_t offset, std::span<uint8_t> dst) const {
  std::vector<RangeSet::Range> parts;
  {
    std::lock_guard<std::mutex> l(mu_);
    parts = local_.Intersect(offset, offset + dst.size());
  }
  for (const auto& r : parts) {
    LUKSFS_RETURN_IF_ERROR(PreadAll(
        fd_.get(), r.begin,
        dst.subspan(r.begin - offset, r.end - r.begin),
        name_ + ": write-back file"));
  }
  return Status();
}

Status S3Storage::ReadAll(uint64_t offset, std::span<uint8_t> dst) const {
  bool all_local = false;
  if (writable_) {
    std::lock_guard<std::mutex> l(mu_);
    auto parts = local_.Intersect(offset, offset + dst.size());
    all_local = parts.size() == 1 && parts[0].begin == offset &&
                parts[0].end == offset + dst.size();
  }
  if (!all_local) {
    Status s = ReadRemote(offset, dst);
    if (!s.ok()) return s.WithContext(name_);
  }
  return writable_ ? OverlayLocal(offset, dst) : Status();
}

Status S3Storage::ReadAt(uint64_t offset, std::span<uint8_t> dst) const {
  const uint64_t size = Size();
  if (offset > size || dst.size() > size - offset) {
    return Status::Corruption(name_ + ": read of " + std::to_string(dst.size()) +
                              " bytes at " + std::to_string(offset) +
                              " passes the end of the object (" +
                              std::to_string(size) + " bytes)");
  }
  Status s = ReadAll(offset, dst);
  if (!s.ok()) return s;
  MaybeReadAhead(offset, offset + dst.size());
  return Status();
}

// ---------------------------------------------------------------------------
// Writes

Status S3Storage::WriteAt(uint64_t offset, std::span<const uint8_t> src) {
  if (!writable_) return Status::InvalidArgument("storage is read-only");
  if (offset > kMaxObject || src.size() > kMaxObject - offset) {
    return Status::InvalidArgument(name_ + ": write at " + std::to_string(offset) +
                                   " would grow the object past 5 TiB");
  }
  // A write past the end extends the file (the gap stays a zero hole).
  LUKSFS_RETURN_IF_ERROR(
      PwriteAll(fd_.get(), offset, src, name_ + ": write-back file"));
  std::lock_guard<std::mutex> l(mu_);
  const uint64_t end = offset + src.size();
  const uint64_t size = size_.load(std::memory_order_relaxed);
  if (end > size) {
    // The whole grown area (gap included) is local and must be uploaded.
    local_.Add(size, end);
    dirty_.Add(size, end);
    size_.store(end, std::memory_order_release);
  }
  local_.Add(offset, end);
  dirty_.Add(offset, end);
  return Status();
}

Status S3Storage::Flush() {
  if (!writable_) return Status();
  std::lock_guard<std::mutex> cl(commit_mu_);
  return Commit();
}

void S3Storage::CommitterLoop() {
  const auto interval = std::chrono::seconds(opts_.commit_interval_s);
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    stop_cv_.wait_for(l, interval, [&] { return stop_; });
    if (stop_) return;
    if (dirty_.empty()) continue;
    l.unlock();
    Status s = Flush();
    if (!s.ok()) LogError(name_ + ": periodic commit failed (will retry): " + s.message());
    l.lock();
  }
}

// REQUIRES: commit_mu_ held.
// Whether the object still has the ETag the pending writes are based on.
Status S3Storage::CheckUnchanged(const std::string& etag) const {
  auto cur = client_->Head(key_);
  if (!cur.ok()) return cur.status();
  if (cur->etag != etag) {
    return Status::IOError("object changed since mount (ETag " + etag + " -> " +
                               cur->etag + "); not overwriting it",
                           ESTALE);
  }
  return Status();
}

Status S3Storage::Commit() {
  RangeSet dirty;
  std::string etag;
  uint64_t size, remote;  // the object to write; the object as it is
  {
    std::lock_guard<std::mutex> l(mu_);
    if (dirty_.empty()) return Status();
    dirty = std::move(dirty_);
    dirty_.clear();
    etag = etag_;
    size = size_.load(std::memory_order_relaxed);
    remote = remote_size_;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::string new_etag;
  Status s;
  if (size <= kMinPart) {
    std::vector<uint8_t> all(size);
    s = ReadAll(0, all);
    if (s.ok()) {
      s = CheckUnchanged(etag);
      if (s.ok()) s = client_->Put(key_, all).status();
      if (s.ok()) uploaded_total_ += size;
    }
  } else {
    s = CommitMultipart(dirty, etag, size, remote, &new_etag);
  }
  S3ObjectInfo info;
  if (s.ok()) {
    // The ETag in the commit answer is not trusted (RGW 16 leaves it empty).
    auto head = client_->Head(key_);
    if (!head.ok()) {
      s = head.status();
    } else if (head->size != size) {
      s = Status::IOError("object is " + std::to_string(head->size) +
                              " bytes after the commit, not " + std::to_string(size), EIO);
    } else {
      info = *head;
    }
  }
  std::lock_guard<std::mutex> l(mu_);
  if (!s.ok()) {
    dirty_.AddAll(dirty);  // still to commit
    return s.WithContext(name_ + ": commit");
  }
  etag_ = info.etag;
  if (size != remote) {
    // The cached last block of the smaller object is short: drop it.
    remote_size_ = size;
    if (remote > 0) cache_.Invalidate((remote - 1) / kBlockSize, (remote - 1) / kBlockSize);
  }
  LogDebug(name_ + ": committed " + std::to_string(dirty.TotalBytes()) +
           " dirty bytes in " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - t0).count()) +
           " ms; ETag " + info.etag);
  return Status();
}

Status S3Storage::CommitMultipart(const RangeSet& dirty, const std::string& etag,
                                  uint64_t size, uint64_t remote,
                                  std::string* new_etag) {
  // Parts of one size (the last shorter); at most 10000 parts.
  uint64_t part = kMinPart;
  const uint64_t mib = 1024 * 1024;
  if ((size + part - 1) / part > 10000) part = ((size / 10000) / mib + 1) * mib;
  const size_t n = static_cast<size_t>((size + part - 1) / part);
  LUKSFS_ASSIGN_OR_RETURN(std::string upload, client_->CreateMultipartUpload(key_));
  std::vector<std::string> etags(n);
  std::atomic<uint64_t> uploaded{0};
  Status s = ParallelFor(io_pool_.get(), opts_.parallel - 1, n, [&](size_t i) -> Status {
    const uint64_t begin = i * part;
    const uint64_t end = std::min(size, begin + part);
    Result<std::string> r = Status::Internal("unset");
    // Copy only what the current object holds whole and unchanged.
    if (end > remote || dirty.Overlaps(begin, end)) {
      std::vector<uint8_t> buf(end - begin);
      LUKSFS_RETURN_IF_ERROR(ReadAll(begin, buf));
      r = client_->UploadPart(key_, upload, static_cast<int>(i + 1), buf);
      uploaded += end - begin;
      uploaded_total_ += end - begin;
    } else {
      r = client_->UploadPartCopy(key_, upload, static_cast<int>(i + 1), key_,
                                  begin, end - 1, etag);
    }
    if (!r.ok()) return r.status();
    etags[i] = *r;
    return Status();
  });
  // RGW ignores x-amz-copy-source-if-match: check the base is unchanged.
  if (s.ok()) s = CheckUnchanged(etag);
  if (s.ok()) s = client_->CompleteMultipartUpload(key_, upload, etags);
  if (!s.ok()) {
    Status a = client_->AbortMultipartUpload(key_, upload);
    if (!a.ok()) LogWarning(name_ + ": abort of upload failed: " + a.message());
    return s;
  }
  LogDebug(name_ + ": multipart commit: " + std::to_string(n) + " parts, " +
           std::to_string(uploaded.load()) + " bytes uploaded");
  new_etag->clear();
  return Status();
}

}  // namespace luksfs::fs
