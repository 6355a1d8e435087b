#include "fs/storage/s3_lease.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <ctime>
#include <sstream>
#include <system_error>

#include "common/log.h"
#include "common/unique_fd.h"

namespace luksfs::fs {

namespace {


int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string Nonce() {
  unsigned char b[16] = {};
  UniqueFd fd(open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (fd.get() >= 0) {
    ssize_t ignored = read(fd.get(), b, sizeof b);
    (void)ignored;
  }
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

bool IsStale412(const Status& s) {
  return s.code() == Status::Code::kIOError && s.os_errno() == ESTALE;
}

// PUT If-Match `etag`. radosgw 16 compares a PUT's If-Match with the ETag
// it stores, which has no quotes (GET compares either form): a 412 is
// retried once with the quotes stripped. A truly different ETag fails both.
Result<std::string> PutIfMatch(S3Client& client, const std::string& key,
                               const std::string& body, const std::string& etag) {
  Result<std::string> put = client.PutIf(key, Bytes(body), etag, false);
  if (put.ok() || !IsStale412(put.status()) || etag.size() < 2 ||
      etag.front() != '"' || etag.back() != '"') {
    return put;
  }
  return client.PutIf(key, Bytes(body), etag.substr(1, etag.size() - 2), false);
}

std::string Holder(const LeaseRecord& r) {
  return "in use by luksfs pid " + std::to_string(r.pid) + " on " + r.host +
         ", mounted at " + r.mount + " (lease expires in " +
         std::to_string(std::max<int64_t>(0, r.expires - Now())) + " s)";
}

}  // namespace


Result<std::unique_ptr<S3Lease>> S3Lease::Acquire(
    const std::string& uri, const S3Options& opts, const EnvFn& env,
    const std::string& mountpoint, unsigned ttl_s,
    std::function<void(const std::string&)> on_lost) {
  LUKSFS_ASSIGN_OR_RETURN(S3Location loc, ParseS3Uri(uri));
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client, OpenS3Client(loc, opts, env));
  const std::string key = loc.key + ".luksfs-lease";
  const std::string name = "s3://" + loc.bucket + "/" + key;

  LeaseRecord mine;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  mine.host = host;
  mine.pid = getpid();
  mine.mount = mountpoint;
  mine.nonce = Nonce();
  mine.expires = Now() + ttl_s;
  const std::string body = FormatLease(mine);

  Result<std::string> put = client->PutIf(key, Bytes(body), "", true);
  if (!put.ok() && IsStale412(put.status())) {
    // Someone's lease exists: ours (a retried PUT that had succeeded), a
    // live one, or a stale one we may take over.
    LUKSFS_ASSIGN_OR_RETURN(auto got, client->GetSmall(key, kMaxLeaseBytes));
    std::optional<LeaseRecord> theirs = ParseLease(got.first);
    if (theirs && theirs->nonce == mine.nonce) {
      put = got.second;
    } else if (theirs && theirs->expires > Now()) {
      return Status::IOError(uri + ": " + Holder(*theirs) + "; lease " + name,
                             EAGAIN);
    } else {
      LogWarning(name + ": taking over an expired lease" +
                 (theirs ? " of luksfs pid " + std::to_string(theirs->pid) +
                               " on " + theirs->host
                         : std::string(" (unreadable)")));
      put = PutIfMatch(*client, key, body, got.second);
      if (!put.ok() && IsStale412(put.status())) {
        return Status::IOError(uri + ": another mount took the expired lease " +
                                   name + " first",
                               EAGAIN);
      }
    }
  }
  if (!put.ok()) return put.status().WithContext(name);
  std::unique_ptr<S3Lease> lease(new S3Lease(std::move(client), key, name,
                                             mine, *put, ttl_s,
                                             std::move(on_lost)));
  try {
    lease->thread_ = std::thread([p = lease.get()] { p->RenewLoop(); });
  } catch (const std::system_error& e) {
    return Status::ResourceExhausted(name + ": cannot start a thread: " + e.what());
  }
  return lease;
}

S3Lease::S3Lease(std::unique_ptr<S3Client> client, std::string key,
                 std::string name, LeaseRecord record, std::string etag,
                 unsigned ttl_s, std::function<void(const std::string&)> on_lost)
    : client_(std::move(client)), key_(std::move(key)), name_(std::move(name)),
      record_(std::move(record)), etag_(std::move(etag)), ttl_s_(ttl_s),
      on_lost_(std::move(on_lost)), confirmed_until_(record_.expires) {}

S3Lease::~S3Lease() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (lost_) return;
  // Delete only our own lease: S3 has no conditional DELETE here, so look.
  auto got = client_->GetSmall(key_, kMaxLeaseBytes);
  if (!got.ok()) return;
  std::optional<LeaseRecord> now = ParseLease(got->first);
  if (!now || now->nonce != record_.nonce) return;
  Status d = client_->Delete(key_);
  if (!d.ok()) LogWarning(name_ + ": cannot release the lease: " + d.message());
}

void S3Lease::RenewLoop() {
  const auto period = std::chrono::seconds(std::max(1u, ttl_s_ / 3));
  std::unique_lock<std::mutex> lock(mu_);
  while (!cv_.wait_for(lock, period, [this] { return stop_; })) {
    lock.unlock();
    record_.expires = Now() + ttl_s_;
    LogDebug(name_ + ": renewing the lease (If-Match " + etag_ + ")");
    Result<std::string> put =
        PutIfMatch(*client_, key_, FormatLease(record_), etag_);
    if (put.ok()) {
      etag_ = *put;
      confirmed_until_ = record_.expires;
      LogDebug(name_ + ": lease renewed, ETag " + etag_);
    } else if (IsStale412(put.status())) {
      // Ours only if a retried PUT had already gone through.
      auto got = client_->GetSmall(key_, kMaxLeaseBytes);
      std::optional<LeaseRecord> now =
          got.ok() ? ParseLease(got->first) : std::nullopt;
      if (now && now->nonce == record_.nonce) {
        etag_ = got->second;
        confirmed_until_ = now->expires;
      } else {
        lost_ = true;
        const std::string why = name_ + ": the lease was taken over" +
                                (now ? " by luksfs pid " +
                                           std::to_string(now->pid) + " on " +
                                           now->host
                                     : std::string());
        LogError(why + "; stopping all I/O");
        if (on_lost_) on_lost_(why);
        return;
      }
    } else if (Now() + 1 >= confirmed_until_) {
      // Past the last expiry the server has: another mount may own it now.
      lost_ = true;
      const std::string why = name_ + ": cannot renew the lease before it "
                              "expires: " + put.status().message();
      LogError(why + "; stopping all I/O");
      if (on_lost_) on_lost_(why);
      return;
    } else {
      LogWarning(name_ + ": renewal failed, retrying: " + put.status().message());
    }
    lock.lock();
  }
}

}  // namespace luksfs::fs
