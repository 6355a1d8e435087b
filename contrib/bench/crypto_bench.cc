// crypto_bench: AES-256-XTS throughput of luksfs's crypto::CryptEngine, next
// to raw OpenSSL EVP_aes_256_xts driven one sector at a time (the way a
// straightforward implementation, and dm-crypt's IV model, would).
//
//   crypto_bench [--seconds S] [--threads N] [--request BYTES]
//
// Prints Markdown on stdout:
//   1. a correctness check (CryptEngine output == OpenSSL per-sector output,
//      and decrypt(encrypt(x)) == x) for 512- and 4096-byte units;
//   2. per-core MB/s (one thread) for 512- and 4096-byte units: OpenSSL per
//      sector, the engine (with the kernel it picked on this CPU), and the
//      portable XtsBatch and the VAES XtsVaes kernels called directly;
//   3. scaling of one caller's large requests over 1..N engine workers
//      (split forced from 64 KiB), and N independent OpenSSL threads as the
//      ideal.
// Every figure is the best of 3 trials of S seconds (default 0.5).
// Exit status 1 if the correctness check fails.
//
// Built by contrib/bench/run.sh:
//   g++ -O2 -std=c++20 -I. contrib/bench/crypto_bench.cc build/libcrypto.a
//       build/libcommon.a -lssl -lcrypto -lsodium -largon2 -pthread
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "crypto/crypt_engine.h"
#include "crypto/xts_batch.h"
#include "crypto/xts_vaes.h"

namespace {

using luksfs::crypto::CryptEngine;
using luksfs::crypto::EngineOptions;
using Clock = std::chrono::steady_clock;

constexpr char kSpec[] = "aes-xts-plain64";
constexpr uint64_t kIvBase = 4096;  // arbitrary first IV sector (512-byte units)

double g_seconds = 0.5;

std::vector<uint8_t> RandomBytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t x = rng();
    std::memcpy(v.data() + i, &x, std::min<size_t>(8, n - i));
  }
  return v;
}

// Raw OpenSSL, one EVP call per sector with the plain64 IV (the sector number,
// little endian, in 512-byte units).
class EvpXts {
 public:
  EvpXts(const std::vector<uint8_t>& key, bool encrypt) : enc_(encrypt) {
    ctx_ = EVP_CIPHER_CTX_new();
    if (ctx_ == nullptr ||
        EVP_CipherInit_ex(ctx_, EVP_aes_256_xts(), nullptr, key.data(),
                          nullptr, encrypt ? 1 : 0) != 1) {
      std::fprintf(stderr, "crypto_bench: EVP init failed\n");
      std::exit(2);
    }
  }
  ~EvpXts() { EVP_CIPHER_CTX_free(ctx_); }

  void Run(uint64_t iv_sector, uint32_t unit, const uint8_t* in, uint8_t* out,
           size_t n) {
    const uint64_t step = unit / 512;
    for (size_t off = 0; off < n; off += unit, iv_sector += step) {
      uint8_t iv[16] = {};
      for (int b = 0; b < 8; ++b) iv[b] = uint8_t(iv_sector >> (8 * b));
      int len = 0;
      if (EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, iv, -1) != 1 ||
          EVP_CipherUpdate(ctx_, out + off, &len, in + off, int(unit)) != 1) {
        std::fprintf(stderr, "crypto_bench: EVP update failed\n");
        std::exit(2);
      }
    }
  }

 private:
  EVP_CIPHER_CTX* ctx_;
  bool enc_;
};

// Runs fn() repeatedly for g_seconds (after a short warm-up), kTrials
// times, and returns the best trial's MB/s (10^6 bytes per second): on a
// shared machine the best trial is the one least disturbed by other load.
constexpr int kTrials = 3;
double Measure(size_t bytes_per_call, const std::function<void()>& fn) {
  auto warm_end = Clock::now() + std::chrono::milliseconds(50);
  while (Clock::now() < warm_end) fn();
  double best = 0;
  for (int t = 0; t < kTrials; ++t) {
    uint64_t calls = 0;
    auto start = Clock::now();
    auto end = start + std::chrono::duration<double>(g_seconds);
    Clock::time_point now;
    do {
      for (int i = 0; i < 4; ++i) fn();
      calls += 4;
      now = Clock::now();
    } while (now < end);
    double secs = std::chrono::duration<double>(now - start).count();
    best = std::max(best, double(calls) * double(bytes_per_call) / secs / 1e6);
  }
  return best;
}

// split_from: requests above this many bytes are split over the workers
// (0: the engine's default, which on the VAES kernel splits nothing up to
// 2 MiB).
std::unique_ptr<CryptEngine> MakeEngine(const std::vector<uint8_t>& key,
                                        uint32_t unit, unsigned threads,
                                        size_t split_from = 0) {
  EngineOptions opt;
  opt.threads = threads;
  if (split_from != 0) opt.inline_bytes = split_from;
  auto e = CryptEngine::Create(kSpec, key, unit, opt);
  if (!e.ok()) {
    std::fprintf(stderr, "crypto_bench: CryptEngine::Create: %s\n",
                 e.status().ToString().c_str());
    std::exit(2);
  }
  return std::move(e).value();
}

void Check(bool ok, const char* what, uint32_t unit, bool* all_ok) {
  std::printf("| %u | %s | %s |\n", unit, what, ok ? "ok" : "**FAILED**");
  if (!ok) *all_ok = false;
}

double EngineRate(CryptEngine& e, bool encrypt, const std::vector<uint8_t>& in,
                  std::vector<uint8_t>& out, size_t request) {
  size_t pos = 0;
  return Measure(request, [&] {
    std::span<const uint8_t> src(in.data() + pos, request);
    std::span<uint8_t> dst(out.data() + pos, request);
    auto s = encrypt ? e.Encrypt(kIvBase + pos / 512, src, dst)
                     : e.Decrypt(kIvBase + pos / 512, src, dst);
    if (!s.ok()) {
      std::fprintf(stderr, "crypto_bench: engine: %s\n", s.ToString().c_str());
      std::exit(2);
    }
    pos += request;
    if (pos + request > in.size()) pos = 0;
  });
}

double EvpRate(const std::vector<uint8_t>& key, bool encrypt, uint32_t unit,
               const std::vector<uint8_t>& in, std::vector<uint8_t>& out,
               size_t request) {
  EvpXts x(key, encrypt);
  size_t pos = 0;
  return Measure(request, [&] {
    x.Run(kIvBase + pos / 512, unit, in.data() + pos, out.data() + pos,
          request);
    pos += request;
    if (pos + request > in.size()) pos = 0;
  });
}

// N threads, each with its own EVP context and buffers; total MB/s.
double EvpParallelRate(const std::vector<uint8_t>& key, bool encrypt,
                       uint32_t unit, size_t request, unsigned n) {
  std::vector<double> rates(n);
  std::vector<std::thread> ts;
  for (unsigned t = 0; t < n; ++t) {
    ts.emplace_back([&, t] {
      auto in = RandomBytes(8 * request, 100 + t);
      std::vector<uint8_t> out(in.size());
      rates[t] = EvpRate(key, encrypt, unit, in, out, request);
    });
  }
  for (auto& t : ts) t.join();
  double sum = 0;
  for (double r : rates) sum += r;
  return sum;
}

// One of the batched XTS kernels called directly (no engine, no IV
// generator): kind 0 = XtsVaes, 1 = XtsBatch. Returns 0 if unavailable.
double KernelRate(int kind, const std::vector<uint8_t>& key, bool encrypt,
                  uint32_t unit, const std::vector<uint8_t>& in,
                  std::vector<uint8_t>& out, size_t request) {
  const size_t units = request / unit;
  std::vector<uint8_t> ivs(16 * units);
  std::unique_ptr<luksfs::crypto::XtsVaes> v;
  std::unique_ptr<luksfs::crypto::XtsBatch> b;
  if (kind == 0) {
    auto r = luksfs::crypto::XtsVaes::Create(key, unit);
    if (!r.ok()) return 0;
    v = std::move(r).value();
  } else {
    auto r = luksfs::crypto::XtsBatch::Create(key, unit);
    if (!r.ok()) return 0;
    b = std::move(r).value();
  }
  size_t pos = 0;
  return Measure(request, [&] {
    const uint64_t first = kIvBase + pos / 512;
    for (size_t u = 0; u < units; ++u) {
      const uint64_t s = first + u * (unit / 512);
      for (int i = 0; i < 8; ++i) ivs[16 * u + i] = uint8_t(s >> (8 * i));
    }
    std::span<const uint8_t> src(in.data() + pos, request);
    std::span<uint8_t> dst(out.data() + pos, request);
    auto st = v ? v->Run(encrypt, ivs, src, dst) : b->Run(encrypt, ivs, src, dst);
    if (!st.ok()) {
      std::fprintf(stderr, "crypto_bench: kernel: %s\n", st.ToString().c_str());
      std::exit(2);
    }
    pos += request;
    if (pos + request > in.size()) pos = 0;
  });
}

std::string Fmt(double mbs) {
  char b[32];
  std::snprintf(b, sizeof b, "%.0f", mbs);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  unsigned max_threads = std::max(1u, std::thread::hardware_concurrency());
  size_t request = 1 << 20;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      g_seconds = std::atof(argv[++i]);
    } else if (a == "--threads" && i + 1 < argc) {
      max_threads = unsigned(std::atoi(argv[++i]));
    } else if (a == "--request" && i + 1 < argc) {
      request = size_t(std::atoll(argv[++i]));
    } else {
      std::fprintf(stderr,
                   "usage: crypto_bench [--seconds S] [--threads N] "
                   "[--request BYTES]\n");
      return 1;
    }
  }
  if (max_threads == 0 || request == 0 || request % 4096 != 0 ||
      g_seconds <= 0) {
    std::fprintf(stderr, "crypto_bench: bad arguments\n");
    return 1;
  }

  const std::vector<uint8_t> key = RandomBytes(64, 1);
  const uint32_t units[] = {512, 4096};
  const size_t buf_bytes = std::max<size_t>(16 * request, 16 << 20);
  const auto plain = RandomBytes(buf_bytes, 2);
  std::vector<uint8_t> out(buf_bytes), ref(buf_bytes), back(buf_bytes);

  // 1. Correctness.
  bool all_ok = true;
  std::printf("### Correctness (CryptEngine vs OpenSSL EVP_aes_256_xts, %zu-byte buffer)\n\n",
              request);
  std::printf("| unit | check | result |\n|---|---|---|\n");
  for (uint32_t unit : units) {
    for (unsigned threads : {1u, max_threads}) {
      auto e = MakeEngine(key, unit, threads, 64 << 10);
      std::span<const uint8_t> in(plain.data(), request);
      EvpXts(key, true).Run(kIvBase, unit, plain.data(), ref.data(), request);
      bool ok = e->Encrypt(kIvBase, in, {out.data(), request}).ok() &&
                std::memcmp(out.data(), ref.data(), request) == 0;
      std::string what = "encrypt == EVP, " + std::to_string(threads) + " thread(s)";
      Check(ok, what.c_str(), unit, &all_ok);
      ok = e->Decrypt(kIvBase, {out.data(), request}, {back.data(), request}).ok() &&
           std::memcmp(back.data(), plain.data(), request) == 0;
      what = "decrypt(encrypt(x)) == x, " + std::to_string(threads) + " thread(s)";
      Check(ok, what.c_str(), unit, &all_ok);
    }
  }
  std::printf("\n");
  std::fflush(stdout);

  // 2. Per core.
  std::printf("### Per core (1 thread), MB/s\n\n");
  std::printf("| implementation | request | 512 enc | 512 dec | 4096 enc | 4096 dec |\n");
  std::printf("|---|---|---|---|---|---|\n");
  // kind: 0 EVP per sector, 1 CryptEngine, 2 XtsVaes, 3 XtsBatch.
  struct Row {
    std::string name;
    size_t req;
    int kind;
  };
  const bool vaes = luksfs::crypto::XtsVaes::Supported();
  std::vector<Row> rows = {
      {"OpenSSL EVP, one call per sector", request, 0},
      {std::string("CryptEngine, threads=1 (") +
           (vaes ? "VAES kernel" : "portable: batch at 512, EVP above") + ")",
       request, 1},
      {"CryptEngine, threads=1", 4096, 1},
      {"XtsBatch kernel alone (portable, AES-NI via OpenSSL ECB)", request, 3},
  };
  if (vaes) rows.push_back({"XtsVaes kernel alone (VAES + AVX-512)", request, 2});
  for (const Row& r : rows) {
    std::printf("| %s | %zu |", r.name.c_str(), r.req);
    for (uint32_t unit : units) {
      for (bool enc : {true, false}) {
        double mbs;
        if (r.kind == 1) {
          auto e = MakeEngine(key, unit, 1);
          mbs = EngineRate(*e, enc, plain, out, r.req);
        } else if (r.kind == 0) {
          mbs = EvpRate(key, enc, unit, plain, out, r.req);
        } else {
          mbs = KernelRate(r.kind == 2 ? 0 : 1, key, enc, unit, plain, out,
                           r.req);
        }
        std::printf(" %s |", Fmt(mbs).c_str());
        std::fflush(stdout);
      }
    }
    std::printf("\n");
  }
  std::printf("\n");

  // 3. Scaling.
  std::printf("### Scaling over workers (one caller, %zu-byte requests), MB/s (speed-up over 1)\n\n",
              request);
  std::printf("Split forced from 64 KiB up, to show how the engine scales: by "
              "default it splits nothing up to 2 MiB on the VAES kernel, where "
              "a hand-off costs more than it saves.\n\n");
  std::printf("| workers | engine 512 dec | engine 512 enc | engine 4096 dec | engine 4096 enc | EVP x N threads 512 dec | EVP x N threads 4096 dec |\n");
  std::printf("|---|---|---|---|---|---|---|\n");
  double base[6] = {};
  for (unsigned n = 1; n <= max_threads; ++n) {
    std::printf("| %u |", n);
    int col = 0;
    for (uint32_t unit : units) {
      auto e = MakeEngine(key, unit, n, 64 << 10);
      for (bool enc : {false, true}) {
        double mbs = EngineRate(*e, enc, plain, out, request);
        if (n == 1) base[col] = mbs;
        std::printf(" %s (%.2fx) |", Fmt(mbs).c_str(), mbs / base[col]);
        std::fflush(stdout);
        ++col;
      }
    }
    for (uint32_t unit : units) {
      double mbs = EvpParallelRate(key, false, unit, request, n);
      if (n == 1) base[col] = mbs;
      std::printf(" %s (%.2fx) |", Fmt(mbs).c_str(), mbs / base[col]);
      std::fflush(stdout);
      ++col;
    }
    std::printf("\n");
  }
  std::printf("\n");
  if (!all_ok) {
    std::fprintf(stderr, "crypto_bench: CORRECTNESS CHECK FAILED\n");
    return 1;
  }
  return 0;
}
