// kdf_bench: PBKDF2 iterations per second of each luksfs kernel (sha-ni,
// portable, openssl = PKCS5_PBKDF2_HMAC) for SHA-1/SHA-256/SHA-512 and one-
// and multi-block outputs, and the Argon2id fill (luksfs's AVX2 code vs
// libargon2's argon2_ctx) for LUKS2-shaped parameters.
//
//   kdf_bench [--iterations N] [--argon2-kib K] [--argon2-time T]
//             [--argon2-lanes L]
//
// Prints Markdown tables on stdout. "it/s" counts PBKDF2 iterations of the
// whole derivation (a 64-byte SHA-256 output costs two chains per
// iteration), which is the figure cryptsetup's benchmark and keyslot
// iteration counts use. Every figure is the best of 3 runs.
//
// Built by contrib/bench/kdf.sh:
//   g++ -O2 -std=c++20 -I. contrib/bench/kdf_bench.cc build/libcrypto.a
//       build/libcommon.a -lssl -lcrypto -lsodium -largon2 -pthread
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <argon2.h>
#include <time.h>

#include "crypto/argon2_fast.h"
#include "crypto/kdf.h"
#include "crypto/pbkdf2_fast.h"
#include "crypto/sha_kernels.h"

using namespace luksfs;
using namespace luksfs::crypto;

namespace {

double Seconds(const std::function<void()>& f) {
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double>(t1 - t0).count());
  }
  return best;
}

double CpuSeconds(const std::function<void()>& f) {
  double best = 1e30;
  for (int i = 0; i < 3; ++i) {
    timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    f();
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    best = std::min(best, (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  uint32_t iters = 200000, akib = 262144, atime = 4, alanes = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const uint32_t v = static_cast<uint32_t>(std::strtoul(argv[i + 1], nullptr, 10));
    if (a == "--iterations") iters = v;
    else if (a == "--argon2-kib") akib = v;
    else if (a == "--argon2-time") atime = v;
    else if (a == "--argon2-lanes") alanes = v;
    else {
      std::fprintf(stderr, "kdf_bench: unknown option %s\n", a.c_str());
      return 1;
    }
  }
  const std::vector<uint8_t> pw = {'p', 'a', 's', 's', 'w', 'o', 'r', 'd'};
  const std::vector<uint8_t> salt(32, 0x5a);
  std::printf("### PBKDF2 kernels (%u iterations, best of 3; M it/s)\n\n",
              iters);
  std::printf("SHA-NI on this CPU: %s\n\n", sha::CpuHasShaNi() ? "yes" : "no");
  std::printf("| hash | output bytes | openssl | portable | sha-ni | openssl-block | best / openssl |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  struct Case { const char* hash; size_t out; };
  for (const Case c : {Case{"sha1", 20}, Case{"sha1", 64}, Case{"sha256", 32},
                       Case{"sha256", 64}, Case{"sha512", 64}}) {
    double rate[4] = {0, 0, 0, 0};
    const Pbkdf2Kernel ks[4] = {Pbkdf2Kernel::kOpenssl, Pbkdf2Kernel::kPortable,
                                Pbkdf2Kernel::kShaNi, Pbkdf2Kernel::kOpensslBlock};
    for (int k = 0; k < 4; ++k) {
      if (ks[k] == Pbkdf2Kernel::kShaNi &&
          (!sha::CpuHasShaNi() || std::strcmp(c.hash, "sha512") == 0)) {
        continue;
      }
      std::vector<uint8_t> out(c.out);
      const double s = Seconds([&] {
        if (!Pbkdf2With(ks[k], c.hash, pw, salt, iters, out).ok()) std::abort();
      });
      rate[k] = iters / s / 1e6;
    }
    const double best = std::max({rate[1], rate[2], rate[3]});
    auto cell = [](double r) {
      return r > 0 ? std::to_string(r).substr(0, 5) : std::string("-");
    };
    std::printf("| %s | %zu | %s | %s | %s | %s | %.2fx |\n", c.hash, c.out,
                cell(rate[0]).c_str(), cell(rate[1]).c_str(),
                cell(rate[2]).c_str(), cell(rate[3]).c_str(), best / rate[0]);
  }
  std::printf("\n### Argon2id fill (t=%u, m=%u KiB; best of 3; CPU seconds "
              "are less disturbed by a busy machine than wall seconds)\n\n",
              atime, akib);
  std::printf("| lanes = threads | implementation | wall s | CPU s | libargon2 / AVX2 (CPU) |\n");
  std::printf("|---:|---|---:|---:|---:|\n");
  for (uint32_t lanes : {1u, alanes}) {
    double wall[2], cpu[2];
    for (int impl = 0; impl < 2; ++impl) {
      std::vector<uint8_t> out(64);
      auto run = [&] {
        if (impl == 0) {
          if (!Argon2Fast(KdfType::kArgon2id, pw, salt, atime, akib, lanes,
                          lanes, out).ok()) {
            std::abort();
          }
          return;
        }
        argon2_context ctx{};
        ctx.out = out.data();
        ctx.outlen = 64;
        ctx.pwd = const_cast<uint8_t*>(pw.data());
        ctx.pwdlen = static_cast<uint32_t>(pw.size());
        ctx.salt = const_cast<uint8_t*>(salt.data());
        ctx.saltlen = static_cast<uint32_t>(salt.size());
        ctx.t_cost = atime;
        ctx.m_cost = akib;
        ctx.lanes = lanes;
        ctx.threads = lanes;
        ctx.version = ARGON2_VERSION_13;
        if (argon2_ctx(&ctx, Argon2_id) != ARGON2_OK) std::abort();
      };
      wall[impl] = Seconds(run);
      cpu[impl] = CpuSeconds(run);
    }
    if (!Argon2FastSupported()) wall[0] = cpu[0] = 0;
    std::printf("| %u | AVX2 fill | %.3f | %.3f | %.2fx |\n", lanes, wall[0],
                cpu[0], cpu[0] > 0 ? cpu[1] / cpu[0] : 0.0);
    std::printf("| %u | libargon2 | %.3f | %.3f | |\n", lanes, wall[1], cpu[1]);
  }
  std::printf("\n");
  return 0;
}
