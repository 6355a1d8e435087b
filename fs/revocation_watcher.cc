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
    if (kms::KeyUsable(*state)) return "";
    return std::string("key is ") + kms::KeyStateName(*state);
  }
  const Status& s = state.status();
  switch (s.code()) {
    case Status::Code::kKeyRevoked:
    case Status::Code::kNotFound:
      return s.message();
    default:
      *unreachable = true;
      LogWarning("KMS " + client_->uri() + " unreachable: " + s.message());
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
