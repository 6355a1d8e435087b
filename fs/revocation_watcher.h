// RevocationWatcher: watches the state of the root key a mount's
// passphrase was unwrapped with, and drops the keys when the key is no
// longer usable — crypto-shredding for live mounts.
//
// Every `poll` (and at once after Poke(), which SIGHUP triggers) it asks the
// KMS for the key's state:
//   active                          keep serving;
//   revoked/deactivated/destroyed/
//   suspended, or kKeyRevoked/
//   kNotFound from the KMS          call on_revoke(reason) once and stop;
//   kUnavailable (unreachable)      keep serving, log, retry with backoff
//                                   (1 s doubling up to `poll`); after
//                                   `grace` without an answer, on_revoke.
//
// Key events (SetOnEvent, for the audit log), each with a "reason" field:
//   kms_unreachable    the KMS could not be asked (once per outage; again
//                      after it answered in between)
//   key_not_found      the KMS no longer knows the key (then on_revoke)
//   key_state_changed  the state differs from the last one seen ("old",
//                      "new": active, suspended, deactivated, ...)
//   grace_expired      unreachable for longer than `grace` (then on_revoke)
//
// Thread-safety: Start/Stop/Poke from any thread; on_revoke and on_event
// run on the watcher's own thread. Stop() joins it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kms-client/kms.h"

namespace luksfs::fs {

class RevocationWatcher {
 public:
  using OnRevoke = std::function<void(const std::string& reason)>;
  using OnEvent = std::function<void(
      const std::string& event, const std::map<std::string, std::string>& fields)>;

  RevocationWatcher(std::unique_ptr<kms::KmsClient> client,
                    std::chrono::seconds poll, std::chrono::seconds grace,
                    OnRevoke on_revoke);
  ~RevocationWatcher();  // Stop()s
  RevocationWatcher(const RevocationWatcher&) = delete;
  RevocationWatcher& operator=(const RevocationWatcher&) = delete;

  // Before Start().
  void SetOnEvent(OnEvent on_event) { on_event_ = std::move(on_event); }
  void Start();
  void Stop();
  // Check now (async-signal-safe: only sets an atomic flag).
  void Poke() { poked_.store(true); }

 private:
  void Loop();
  // One state check; returns the revocation reason, or "" to keep serving.
  // *unreachable is set when the KMS could not be asked.
  std::string Check(bool* unreachable);

  std::unique_ptr<kms::KmsClient> client_;  // used only by the thread
  const std::chrono::seconds poll_;
  const std::chrono::seconds grace_;
  OnRevoke on_revoke_;
  OnEvent on_event_;
  void Emit(const std::string& event, std::map<std::string, std::string> f) {
    if (on_event_) on_event_(event, f);
  }
  std::string last_state_ = "active";  // the unwrap at mount proved it
  bool reported_unreachable_ = false;
  std::atomic<bool> poked_{false};

  std::mutex mu_;  // guards stop_; never held during a KMS call
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace luksfs::fs
