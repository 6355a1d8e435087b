#include "fs/revocation_watcher.h"

#include <algorithm>

#include "common/log.h"

namespace luksfs::fs {

using Clock = std::chrono::steady_clock;

RevocationWatcher::RevocationWatcher(std::unique_ptr<kms::KmsClient> client,
                                     std::chrono::seconds poll,
                                     std::chrono::seconds grace,
                                     OnRevoke on_revoke)
    : client_(std::move(client)),
      poll_(poll),
      grace_(grace),
      on_revoke_(std::move(on_revoke)) {}

RevocationWatcher::~RevocationWatcher() { Stop(); }

void RevocationWatcher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void RevocationWatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string RevocationWatcher::Check(bool* unreachable) {
  *unreachable = false;
  Result<kms::KeyState> state = client_->State();
  if (state.ok()) {
    reported_unreachable_ = false;
    const std::string now = kms::KeyStateName(*state);
    if (now != last_state_) {
      Emit("key_state_changed",
           {{"old", last_state_}, {"new", now},
            {"reason", "the KMS reports the key " + now}});
      last_state_ = now;
    }
    if (kms::KeyUsable(*state)) return "";
    return std::string("key is ") + now;
  }
  const Status& s = state.status();
  switch (s.code()) {
    case Status::Code::kKeyRevoked:
      reported_unreachable_ = false;
      return s.message();
    case Status::Code::kNotFound:
      reported_unreachable_ = false;
      Emit("key_not_found", {{"reason", s.message()}});
      return s.message();
    default:
      *unreachable = true;
      LogWarning("KMS " + client_->uri() + " unreachable: " + s.message());
      if (!reported_unreachable_) {
        Emit("kms_unreachable", {{"reason", s.message()}});
        reported_unreachable_ = true;
      }
      return "";
  }
}

void RevocationWatcher::Loop() {
  Clock::time_point next = Clock::now() + poll_;
  Clock::time_point unreachable_since{};
  bool unreachable_now = false;
  std::chrono::seconds backoff(1);
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      // Wake at least every 200 ms to notice Poke() from a signal handler.
      while (!stop_ && !poked_.load() && Clock::now() < next) {
        cv_.wait_for(lock, std::chrono::milliseconds(200));
      }
      if (stop_) return;
    }
    poked_.store(false);
    bool unreachable = false;
    std::string reason = Check(&unreachable);
    if (unreachable) {
      if (!unreachable_now) unreachable_since = Clock::now();
      unreachable_now = true;
      if (Clock::now() - unreachable_since >= grace_) {
        reason = "KMS unreachable for longer than the grace period (" +
                 std::to_string(grace_.count()) + " s)";
        Emit("grace_expired", {{"reason", reason},
                               {"grace_seconds", std::to_string(grace_.count())}});
      } else {
        next = Clock::now() + std::min(backoff, poll_);
        backoff = std::min(backoff * 2, poll_);
        continue;
      }
    } else {
      unreachable_now = false;
      backoff = std::chrono::seconds(1);
    }
    if (!reason.empty()) {
      on_revoke_(reason);
      return;
    }
    next = Clock::now() + poll_;
  }
}

}  // namespace luksfs::fs
