#include "fs/storage/s3_lease.h"

#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <ctime>

#include "common/log.h"

namespace luksfs::fs {

namespace {

constexpr size_t kMaxLeaseBytes = 4096;

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::string IsoUtc(int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Nonce() {
  uint8_t b[16] = {};
  size_t got = 0;
  while (got < sizeof b) {
    const ssize_t n = getrandom(b + got, sizeof b - got, 0);
    if (n > 0) got += static_cast<size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

// A string safe to embed in our JSON without escaping.
bool Plain(std::string_view s) {
  for (char c : s) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return false;
  }
  return true;
}

// Finds "name": in a flat JSON object and returns what follows.
std::optional<std::string_view> After(std::string_view j, std::string_view name) {
  const std::string pat = "\"" + std::string(name) + "\":";
  const size_t at = j.find(pat);
  if (at == std::string_view::npos) return std::nullopt;
  return j.substr(at + pat.size());
}

std::optional<std::string> StrField(std::string_view j, std::string_view name) {
  auto v = After(j, name);
  if (!v || v->empty() || v->front() != '"') return std::nullopt;
  const size_t end = v->find('"', 1);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view s = v->substr(1, end - 1);
  if (!Plain(s) || s.size() > 256) return std::nullopt;
  return std::string(s);
}

std::optional<int64_t> IntField(std::string_view j, std::string_view name) {
  auto v = After(j, name);
  if (!v || v->empty()) return std::nullopt;
  int64_t x = 0;
  size_t i = 0;
  for (; i < v->size() && (*v)[i] >= '0' && (*v)[i] <= '9' && i < 18; ++i) {
    x = x * 10 + ((*v)[i] - '0');
  }
  if (i == 0 || (i < v->size() && (*v)[i] >= '0' && (*v)[i] <= '9')) return std::nullopt;
  return x;
}

std::string Unquoted(const std::string& etag) {
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
    return etag.substr(1, etag.size() - 2);
  }
  return etag;
}

bool Is412(const Status& s) { return !s.ok() && s.os_errno() == ESTALE; }

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

std::string LeaseRecord::ToJson() const {
  return "{\"host\":\"" + host + "\",\"pid\":" + std::to_string(pid) +
         ",\"mounted\":\"" + mounted + "\",\"expires\":" + std::to_string(expires) +
         ",\"seconds\":" + std::to_string(seconds) + ",\"nonce\":\"" + nonce + "\"}\n";
}

std::optional<LeaseRecord> LeaseRecord::Parse(std::string_view json) {
  if (json.size() > kMaxLeaseBytes) return std::nullopt;
  LeaseRecord r;
  auto host = StrField(json, "host");
  auto pid = IntField(json, "pid");
  auto mounted = StrField(json, "mounted");
  auto expires = IntField(json, "expires");
  auto seconds = IntField(json, "seconds");
  auto nonce = StrField(json, "nonce");
  if (!host || !pid || !mounted || !expires || !seconds || !nonce) return std::nullopt;
  r.host = *host;
  r.pid = *pid;
  r.mounted = *mounted;
  r.expires = *expires;
  r.seconds = *seconds;
  r.nonce = *nonce;
  return r;
}

std::string LeaseRecord::Holder() const {
  return "host " + host + " pid " + std::to_string(pid) + " since " + mounted;
}

S3Lease::S3Lease(S3Client* client, std::string lease_key, LeaseRecord rec,
                 std::string etag, bool bare_etag)
    : client_(client),
      lease_key_(std::move(lease_key)),
      rec_(std::move(rec)),
      etag_(std::move(etag)),
      bare_etag_(bare_etag) {
  renewer_ = std::thread([this] { RenewLoop(); });
}

Result<std::unique_ptr<S3Lease>> S3Lease::Acquire(S3Client* client,
                                                  const std::string& key,
                                                  uint64_t seconds) {
  const std::string lkey = LeaseKey(key);
  const std::string where = client->Describe(lkey);
  LeaseRecord me;
  char host[HOST_NAME_MAX + 1] = {};
  if (gethostname(host, sizeof host - 1) != 0 || !Plain(host)) std::snprintf(host, sizeof host, "unknown");
  me.host = host;
  me.pid = getpid();
  me.mounted = IsoUtc(Now());
  me.seconds = static_cast<int64_t>(seconds);
  me.nonce = Nonce();
  bool bare = false;
  for (int attempt = 0; attempt < 4; ++attempt) {
    me.expires = Now() + me.seconds;
    const std::string body = me.ToJson();
    auto put = client->PutConditional(lkey, Bytes(body), "if-none-match", "*");
    if (!put.ok() && !Is412(put.status())) return put.status().WithContext(where);
    // Created, or it exists: read it to learn whose it is (a retried PUT of
    // ours also ends in a 412).
    std::string etag;
    auto cur = client->GetSmall(lkey, kMaxLeaseBytes, &etag);
    if (!cur.ok() && cur.status().code() == Status::Code::kNotFound) continue;  // released meanwhile
    if (!cur.ok()) return cur.status().WithContext(where);
    auto rec = LeaseRecord::Parse(*cur);
    if (rec && rec->nonce == me.nonce) {
      return std::unique_ptr<S3Lease>(new S3Lease(client, lkey, me, etag, bare));
    }
    if (rec && rec->expires > Now()) {
      return Status::IOError("in use: lease " + where + " held by " + rec->Holder() +
                                 ", expires in " + std::to_string(rec->expires - Now()) +
                                 " s (unmount it there, wait for the lease to expire, "
                                 "or mount with -o nolock)",
                             EBUSY);
    }
    // Stale (expired) or unreadable: take it over, conditional on its ETag.
    LogWarning(where + ": taking over " +
               (rec ? "the expired lease of " + rec->Holder() : std::string("an unreadable lease")));
    me.expires = Now() + me.seconds;
    const std::string body2 = me.ToJson();
    auto rep = client->PutConditional(lkey, Bytes(body2), "if-match", etag);
    if (Is412(rep.status())) {
      // RGW 16 compares If-Match on PUT with the bare ETag: if the lease is
      // still the stale one, say it that way.
      auto head = client->Head(lkey);
      if (head.ok() && head->etag == etag) {
        bare = true;
        rep = client->PutConditional(lkey, Bytes(body2), "if-match", Unquoted(etag));
      }
    }
    if (!rep.ok() && !Is412(rep.status())) return rep.status().WithContext(where);
    // Confirmed (or lost the race) by the next round's read-back.
  }
  return Status::IOError("in use: lease " + where +
                             " keeps changing (another host is taking it over)",
                         EBUSY);
}

S3Lease::~S3Lease() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  Release();
}

void S3Lease::RenewLoop() {
  const auto period = std::chrono::milliseconds(rec_.seconds * 1000 / 3);
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, period, [&] { return stop_; });
    if (stop_ || lost_) continue;
    l.unlock();
    Status s = Renew();
    l.lock();
    if (Is412(s)) {
      lost_ = true;
      LogError(client_->Describe(lease_key_) +
               ": lease lost (replaced by another host); its commits will be refused");
    } else if (!s.ok()) {
      LogWarning(client_->Describe(lease_key_) + ": lease renewal failed (will retry): " +
                 s.message());
    }
  }
}

Status S3Lease::Renew() {
  std::string etag;
  bool bare;
  {
    std::lock_guard<std::mutex> l(mu_);
    etag = etag_;
    bare = bare_etag_;
  }
  rec_.expires = Now() + rec_.seconds;
  const std::string body = rec_.ToJson();
  auto r = client_->PutConditional(lease_key_, Bytes(body), "if-match",
                                   bare ? Unquoted(etag) : etag);
  if (Is412(r.status()) && !bare) {
    auto head = client_->Head(lease_key_);
    if (head.ok() && head->etag == etag) {
      bare = true;
      r = client_->PutConditional(lease_key_, Bytes(body), "if-match", Unquoted(etag));
    }
  }
  if (Is412(r.status())) {
    // A retried PUT of ours may have landed: the lease is ours if it says so.
    std::string now_etag;
    auto cur = client_->GetSmall(lease_key_, kMaxLeaseBytes, &now_etag);
    auto rec = cur.ok() ? LeaseRecord::Parse(*cur) : std::nullopt;
    if (rec && rec->nonce == rec_.nonce) {
      std::lock_guard<std::mutex> l(mu_);
      etag_ = now_etag;
      bare_etag_ = bare;
      return Status();
    }
  }
  if (!r.ok()) return r.status();
  // The PUT answer's ETag is the MD5 of the body; HEAD to be sure.
  auto head = client_->Head(lease_key_);
  std::lock_guard<std::mutex> l(mu_);
  etag_ = head.ok() ? head->etag : *r;
  bare_etag_ = bare;
  return Status();
}

void S3Lease::Release() {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (lost_) return;
  }
  // RGW ignores If-Match on DELETE: delete only a lease that says it is ours.
  std::string etag;
  auto cur = client_->GetSmall(lease_key_, kMaxLeaseBytes, &etag);
  if (!cur.ok()) {
    LogWarning(client_->Describe(lease_key_) + ": lease not released: " + cur.status().message());
    return;
  }
  auto rec = LeaseRecord::Parse(*cur);
  if (!rec || rec->nonce != rec_.nonce) return;
  Status s = client_->Delete(lease_key_);
  if (!s.ok()) LogWarning(client_->Describe(lease_key_) + ": lease not released: " + s.message());
}

}  // namespace luksfs::fs
