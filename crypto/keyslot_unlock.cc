#include "crypto/keyslot_unlock.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "crypto/af.h"
#include "crypto/kdf.h"
#include "crypto/kdf_cost.h"
#include "crypto/keyslot_trials.h"
#include "crypto/sector_cipher.h"

namespace luksfs::crypto {

namespace {

bool Contains(const std::vector<int>& v, int x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

// The digest that verifies keys of `slot` for segment 0 (nullptr if none).
const Digest* DigestFor(const LuksHeader& h, int slot) {
  for (const Digest& d : h.digests) {
    if (Contains(d.keyslots, slot) && Contains(d.segments, 0)) return &d;
  }
  return nullptr;
}

Status CheckDigest(const Digest& d, std::span<const uint8_t> key) {
  if (d.type != "pbkdf2" || d.value.empty()) {
    return Status::NotSupported("digest type '" + d.type + "'");
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer calc,
                          SecureBuffer::Create(d.value.size()));
  LUKSFS_RETURN_IF_ERROR(
      Pbkdf2(d.hash, key, d.salt, d.iterations, calc.span()));
  if (CRYPTO_memcmp(calc.data(), d.value.data(), d.value.size()) != 0) {
    return Status::PermissionDenied("volume key does not match the digest");
  }
  return Status();
}

std::string Secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.1f" : "%.0f", s);
  return buf;
}

Status CheckDigestLimit(const Digest& d, const UnlockLimits& lim) {
  if (d.iterations <= lim.max_digest_iterations) return Status();
  return Status::ResourceExhausted(
      "digest " + std::to_string(d.index) + " asks for " +
      std::to_string(d.iterations) + " iterations, more than luksfs accepts (" +
      std::to_string(lim.max_digest_iterations) + ")");
}

// kResourceExhausted if the slot's KDF plus its digest is estimated to take
// longer than `left` seconds. An estimate that cannot be made (an unknown
// hash) is no refusal: trying the slot reports that error.
// Estimated seconds of the slot's KDF plus its digest here; 0 when no
// estimate can be made.
double EstimateSeconds(const Keyslot& ks, const Digest& d,
                       const UnlockLimits& lim) {
  Result<double> kdf = KdfSeconds(ks.kdf, lim.kdf_threads);
  Result<double> dig = Pbkdf2Seconds(d.hash, d.iterations);
  if (!kdf.ok() || !dig.ok()) return 0;
  return *kdf + *dig;
}

Status CheckTime(const Keyslot& ks, const Digest& d, const UnlockLimits& lim,
                 double left) {
  const double need = EstimateSeconds(ks, d, lim);
  if (need <= left) return Status();
  std::string what =
      ks.kdf.type == KdfType::kPbkdf2
          ? "pbkdf2-" + ks.kdf.hash + " with " +
                std::to_string(ks.kdf.iterations) + " iterations"
          : std::string(KdfName(ks.kdf.type)) + " (time " +
                std::to_string(ks.kdf.iterations) + ", memory " +
                std::to_string(ks.kdf.memory_kib) + " KiB)";
  return Status::ResourceExhausted(
      "keyslot " + std::to_string(ks.index) + ": " + what +
      " and its digest would take about " + Secs(need) + " s here, more than "
      "the " + Secs(left) + " s left of the KDF time budget (--max-kdf-time " +
      Secs(lim.max_kdf_seconds) + ")");
}

Status CheckLimits(const Keyslot& ks, const UnlockLimits& lim) {
  const KdfParams& k = ks.kdf;
  const std::string where = "keyslot " + std::to_string(ks.index) + ": ";
  if (k.type == KdfType::kPbkdf2) {
    if (k.iterations > lim.max_pbkdf2_iterations) {
      return Status::ResourceExhausted(
          where + "pbkdf2 iterations " + std::to_string(k.iterations) +
          " exceed the limit of " + std::to_string(lim.max_pbkdf2_iterations));
    }
    return Status();
  }
  if (k.memory_kib > lim.max_kdf_memory_kib) {
    return Status::ResourceExhausted(
        where + std::string(KdfName(k.type)) + " memory " +
        std::to_string(k.memory_kib) + " KiB exceeds the limit of " +
        std::to_string(lim.max_kdf_memory_kib) + " KiB (--max-kdf-memory)");
  }
  if (k.cpus == 0 || k.cpus > lim.max_argon2_cpus) {
    return Status::ResourceExhausted(where + "argon2 cpus " +
                                     std::to_string(k.cpus) +
                                     " is out of range");
  }
  if (uint64_t{k.iterations} * k.memory_kib > lim.max_argon2_work) {
    return Status::ResourceExhausted(
        where + "argon2 time " + std::to_string(k.iterations) + " x memory " +
        std::to_string(k.memory_kib) + " KiB exceeds the work limit");
  }
  return Status();
}

// Derives, decrypts and merges slot `ks`; OK with the key if the digest
// matches, kPermissionDenied if not.
// `threads`: Argon2 threads; `cancel`: set when the trial is no longer
// needed (keyslot_trials.h).
Result<SecureBuffer> TrySlot(const Keyslot& ks, const Digest& digest,
                             const ReadFn& read,
                             std::span<const uint8_t> passphrase,
                             uint32_t threads,
                             const std::atomic<bool>& cancel) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer dk,
                          SecureBuffer::Create(ks.area_key_bytes));
  if (ks.kdf.type == KdfType::kPbkdf2) {
    LUKSFS_RETURN_IF_ERROR(Pbkdf2(ks.kdf.hash, passphrase, ks.kdf.salt,
                                  ks.kdf.iterations, dk.span(), &cancel));
  } else {
    LUKSFS_RETURN_IF_ERROR(Argon2(ks.kdf.type, passphrase, ks.kdf.salt,
                                  ks.kdf.iterations, ks.kdf.memory_kib,
                                  ks.kdf.cpus, threads, dk.span()));
  }
  const uint64_t material_size = AfSplitSize(ks.key_bytes, ks.stripes);
  if (material_size > ks.area_size) {
    return Status::Corruption("keyslot " + std::to_string(ks.index) +
                              ": area is smaller than its key material");
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer material,
                          SecureBuffer::Create(material_size));
  LUKSFS_RETURN_IF_ERROR(read(ks.area_offset, material.span()));
  LUKSFS_ASSIGN_OR_RETURN(auto cipher,
                          SectorCipher::Create(ks.area_cipher, dk.span(), 512));
  dk.Wipe();
  LUKSFS_RETURN_IF_ERROR(cipher->Decrypt(0, material.span(), material.span()));
  cipher.reset();
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer key, SecureBuffer::Create(ks.key_bytes));
  LUKSFS_RETURN_IF_ERROR(
      AfMerge(material.span(), ks.stripes, ks.af_hash, key.span()));
  material.Wipe();
  LUKSFS_RETURN_IF_ERROR(CheckDigest(digest, key.span()));
  return key;
}

}  // namespace

Result<UnlockedKey> UnlockKeyslot(const LuksHeader& header, const ReadFn& read,
                                  std::span<const uint8_t> passphrase,
                                  std::optional<int> only_slot,
                                  const UnlockLimits& limits) {
  std::vector<const Keyslot*> order;
  for (int prio : {2, 1, 0}) {
    for (const Keyslot& ks : header.keyslots) {
      if (ks.type != "luks1" && ks.type != "luks2") continue;
      if (ks.priority != prio) continue;
      if (only_slot ? ks.index == *only_slot : prio > 0) order.push_back(&ks);
    }
  }
  if (only_slot && order.empty()) {
    return Status::NotFound("keyslot " + std::to_string(*only_slot) +
                            " is not an active passphrase keyslot");
  }
  // The slots that can be tried, in order; they run as ordered parallel
  // trials (keyslot_trials.h), and the results are read back below in the
  // same order a one-by-one loop would see them, so the answer is the same.
  // The KDF time budget (--max-kdf-time) is charged with each planned
  // slot's estimated cost, as if they ran one after another, so a header
  // whose slots add up to more than the budget is refused before any runs.
  const uint32_t cores =
      limits.kdf_threads != 0
          ? limits.kdf_threads
          : std::max(1u, std::thread::hardware_concurrency());
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  const bool budget = limits.max_kdf_seconds > 0;
  double planned = 0;  // estimated seconds of the slots planned so far
  int tried = 0;       // slots planned
  Status budget_spent;  // set when slots are left out for the budget
  std::vector<bool> over_budget(order.size(), false);
  std::vector<Status> limit_of(order.size());
  std::vector<const Digest*> digest_of(order.size(), nullptr);
  std::vector<const Keyslot*> trials;
  std::vector<const Digest*> trial_digests;
  std::vector<TrialCost> costs;
  for (size_t p = 0; p < order.size(); ++p) {
    const Keyslot* ks = order[p];
    const Digest* digest = DigestFor(header, ks->index);
    digest_of[p] = digest;
    if (digest == nullptr) continue;  // unbound slot: opens no segment
    Status limit = CheckDigestLimit(*digest, limits);
    if (limit.ok()) limit = CheckLimits(*ks, limits);
    if (limit.ok() && budget) {
      const double left =
          limits.max_kdf_seconds - planned -
          std::chrono::duration<double>(Clock::now() - start).count();
      if (left <= 0) {
        // The budget is spent on the slots before this one: these are not
        // tried. If none of those opens, the answer says why.
        if (budget_spent.ok()) {
          budget_spent = Status::ResourceExhausted(
              "the KDF time budget of " + Secs(limits.max_kdf_seconds) +
              " s (--max-kdf-time) is spent after " + std::to_string(tried) +
              " of " + std::to_string(order.size()) + " keyslots");
        }
        over_budget[p] = true;
        continue;
      }
      limit = CheckTime(*ks, *digest, limits, left);
      if (limit.ok()) planned += EstimateSeconds(*ks, *digest, limits);
    }
    limit_of[p] = limit;
    if (!limit.ok()) continue;
    ++tried;
    TrialCost cost;
    if (ks->kdf.type != KdfType::kPbkdf2) {
      cost.threads = std::max(1u, std::min(ks->kdf.cpus, cores));
      cost.memory_kib = ks->kdf.memory_kib;
    }
    trials.push_back(ks);
    trial_digests.push_back(digest);
    costs.push_back(cost);
  }
  std::vector<Result<SecureBuffer>> results = RunOrderedTrials(
      costs, cores, limits.max_kdf_memory_kib,
      [&](size_t i, const std::atomic<bool>& cancel) {
        return TrySlot(*trials[i], *trial_digests[i], read, passphrase,
                       costs[i].threads, cancel);
      },
      [](const Result<SecureBuffer>& r) {
        return r.ok() || r.status().code() == Status::Code::kIOError;
      });

  Status skipped;  // the first reason a slot could not even be tried
  size_t next_result = 0;
  for (size_t p = 0; p < order.size(); ++p) {
    const Keyslot* ks = order[p];
    if (digest_of[p] == nullptr || over_budget[p]) continue;
    if (!limit_of[p].ok()) {
      if (skipped.ok()) skipped = limit_of[p];
      continue;
    }
    if (next_result >= results.size()) break;  // a terminal result came first
    Result<SecureBuffer>& key = results[next_result++];
    if (key.ok()) return UnlockedKey{ks->index, std::move(key).value()};
    const Status& s = key.status();
    if (s.code() == Status::Code::kIOError) return s;
    if (s.code() != Status::Code::kPermissionDenied && skipped.ok()) {
      skipped = s.WithContext("keyslot " + std::to_string(ks->index));
    }
  }
  if (!skipped.ok()) return skipped;
  if (!budget_spent.ok()) {
    if (tried == 0) return budget_spent;
    return Status::PermissionDenied("no keyslot opened with this passphrase (" +
                                    budget_spent.message() + ")");
  }
  return Status::PermissionDenied("no keyslot opened with this passphrase");
}

Status VerifyVolumeKey(const LuksHeader& header,
                       std::span<const uint8_t> volume_key) {
  for (const Digest& d : header.digests) {
    if (Contains(d.segments, 0)) {
      LUKSFS_RETURN_IF_ERROR(CheckDigestLimit(d, UnlockLimits{}));
      return CheckDigest(d, volume_key);
    }
  }
  return Status::Corruption("no digest covers data segment 0");
}

}  // namespace luksfs::crypto
