#include "crypto/pbkdf2_fast.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/secure_buffer.h"
#include "crypto/hash.h"
#include "crypto/sha_kernels.h"

namespace luksfs::crypto {

namespace {

// One hash family: word type, sizes, initial state, kernels.
template <typename W>
using CompressFn = void (*)(W* const* st, const W* const* w, int n);

template <typename W>
struct HashDef {
  using Word = W;
  int digest_words;           // == state words for sha1/sha256/sha512
  const W* init;
  CompressFn<W> compress;
  int max_chains;             // widest n the kernel accepts
  static constexpr int kBlockWords = 16;
  static constexpr size_t kBlockBytes = 16 * sizeof(W);
};

constexpr int kMaxStateWords = 8;

template <typename W>
W LoadBe(const uint8_t* p) {
  W v = 0;
  for (size_t i = 0; i < sizeof(W); ++i) v = (v << 8) | p[i];
  return v;
}

template <typename W>
void StoreBe(W v, uint8_t* p) {
  for (size_t i = sizeof(W); i-- > 0;) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}

// Puts the message-length field (bits) into the last words of `w`.
template <typename W>
void PutLength(W* w, uint64_t total_bytes) {
  const uint64_t bits = total_bytes * 8;  // inputs here are far below 2^61
  if constexpr (sizeof(W) == 8) {
    w[14] = 0;
    w[15] = bits;
  } else {
    w[14] = static_cast<W>(bits >> 32);
    w[15] = static_cast<W>(bits);
  }
}

// Continues the hash in `st` (which has already absorbed `prefix` bytes,
// a multiple of the block size) over a || b, and finishes it (padding and
// length). `w` is scratch for one block (wiped by the caller).
template <typename W>
void AbsorbFinal(const HashDef<W>& h, W* st, uint64_t prefix,
                 std::span<const uint8_t> a, std::span<const uint8_t> b,
                 W* w, uint8_t* buf) {
  constexpr size_t kBlock = HashDef<W>::kBlockBytes;
  size_t fill = 0;
  auto flush = [&] {
    for (int i = 0; i < 16; ++i) w[i] = LoadBe<W>(buf + i * sizeof(W));
    W* sp[1] = {st};
    const W* wp[1] = {w};
    h.compress(sp, wp, 1);
    fill = 0;
  };
  for (std::span<const uint8_t> part : {a, b}) {
    for (size_t off = 0; off < part.size();) {
      const size_t n = std::min(kBlock - fill, part.size() - off);
      std::memcpy(buf + fill, part.data() + off, n);
      fill += n;
      off += n;
      if (fill == kBlock) flush();
    }
  }
  const uint64_t total = prefix + a.size() + b.size();
  buf[fill++] = 0x80;
  const size_t len_bytes = 2 * sizeof(W);
  if (fill > kBlock - len_bytes) {
    std::memset(buf + fill, 0, kBlock - fill);
    flush();
  }
  std::memset(buf + fill, 0, kBlock - fill);
  for (int i = 0; i < 16; ++i) w[i] = LoadBe<W>(buf + i * sizeof(W));
  PutLength(w, total);
  W* sp[1] = {st};
  const W* wp[1] = {w};
  h.compress(sp, wp, 1);
}

// Working memory of one derivation; lives in a SecureBuffer.
template <typename W>
struct Work {
  static constexpr int kChains = 4;
  W istate[kMaxStateWords];   // H state after (K ^ ipad)
  W ostate[kMaxStateWords];   // H state after (K ^ opad)
  W u[kChains][16];           // U_j digest || padding, per chain
  W t[kChains][kMaxStateWords];  // running XOR of the U_j
  W st[kChains][kMaxStateWords];
  W scratch[16];
  uint8_t key[128];           // K ^ pad, or H(password)
  uint8_t buf[128];
  uint8_t digest[64];
};
// sodium_malloc aligns only allocations whose size is a multiple of 16.
static_assert(sizeof(Work<uint32_t>) % 16 == 0);
static_assert(sizeof(Work<uint64_t>) % 16 == 0);

template <typename W>
Status Derive(const HashDef<W>& h, const EVP_MD* md,
              std::span<const uint8_t> password,
              std::span<const uint8_t> salt, uint32_t iterations,
              std::span<uint8_t> out, const std::atomic<bool>* cancel) {
  constexpr size_t kBlock = HashDef<W>::kBlockBytes;
  const int dw = h.digest_words;
  const size_t dlen = dw * sizeof(W);
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer mem, SecureBuffer::Create(sizeof(Work<W>)));
  Work<W>& k = *reinterpret_cast<Work<W>*>(mem.data());

  // HMAC key (RFC 2104): a password longer than the block is hashed first.
  std::span<const uint8_t> key = password;
  if (password.size() > kBlock) {
    unsigned int n = 0;
    if (EVP_Digest(password.data(), password.size(), k.digest, &n, md,
                   nullptr) != 1) {
      return Status::Internal("OpenSSL digest failed");
    }
    key = std::span<const uint8_t>(k.digest, n);
  }
  for (int pass = 0; pass < 2; ++pass) {
    const uint8_t pad = pass == 0 ? 0x36 : 0x5c;
    std::memset(k.key, pad, kBlock);
    for (size_t i = 0; i < key.size(); ++i) k.key[i] ^= key[i];
    W* s = pass == 0 ? k.istate : k.ostate;
    std::memcpy(s, h.init, dlen);
    for (int i = 0; i < 16; ++i) k.scratch[i] = LoadBe<W>(k.key + i * sizeof(W));
    W* sp[1] = {s};
    const W* wp[1] = {k.scratch};
    h.compress(sp, wp, 1);
  }

  const size_t blocks = (out.size() + dlen - 1) / dlen;
  for (size_t first = 0; first < blocks;) {
    int n = 1;
    if (blocks - first >= 4 && h.max_chains >= 4) {
      n = 4;
    } else if (blocks - first >= 2 && h.max_chains >= 2) {
      n = 2;
    }
    W* sp[Work<W>::kChains];
    const W* wp[Work<W>::kChains];
    // U_1 = PRF(P, S || INT(i)), then the padded block for the U_j chain.
    for (int c = 0; c < n; ++c) {
      const uint32_t index = static_cast<uint32_t>(first + c + 1);
      uint8_t be[4];
      StoreBe<uint32_t>(index, be);
      std::memcpy(k.st[c], k.istate, dlen);
      AbsorbFinal(h, k.st[c], kBlock, salt, std::span<const uint8_t>(be, 4),
                  k.scratch, k.buf);
      for (int i = 0; i < dw; ++i) StoreBe<W>(k.st[c][i], k.digest + i * sizeof(W));
      std::memcpy(k.st[c], k.ostate, dlen);
      AbsorbFinal(h, k.st[c], kBlock, std::span<const uint8_t>(k.digest, dlen),
                  {}, k.scratch, k.buf);
      W* u = k.u[c];
      std::memset(u, 0, 16 * sizeof(W));
      std::memcpy(u, k.st[c], dlen);
      u[dw] = W{1} << (sizeof(W) * 8 - 1);
      PutLength(u, kBlock + dlen);
      std::memcpy(k.t[c], k.st[c], dlen);
      sp[c] = k.st[c];
      wp[c] = k.u[c];
    }
    // U_j = PRF(P, U_{j-1}): inner and outer compressions of the same
    // padded block layout (both hash one key block plus one digest).
    for (uint32_t j = 1; j < iterations; ++j) {
      if ((j & 4095) == 0 && cancel != nullptr &&
          cancel->load(std::memory_order_relaxed)) {
        return Status::Unavailable("pbkdf2 cancelled");
      }
      for (int c = 0; c < n; ++c) std::memcpy(k.st[c], k.istate, dlen);
      h.compress(sp, wp, n);
      for (int c = 0; c < n; ++c) {
        std::memcpy(k.u[c], k.st[c], dlen);
        std::memcpy(k.st[c], k.ostate, dlen);
      }
      h.compress(sp, wp, n);
      for (int c = 0; c < n; ++c) {
        std::memcpy(k.u[c], k.st[c], dlen);
        for (int i = 0; i < dw; ++i) k.t[c][i] ^= k.st[c][i];
      }
    }
    for (int c = 0; c < n; ++c) {
      for (int i = 0; i < dw; ++i) StoreBe<W>(k.t[c][i], k.digest + i * sizeof(W));
      const size_t off = (first + c) * dlen;
      std::memcpy(out.data() + off, k.digest, std::min(dlen, out.size() - off));
    }
    first += n;
  }
  return Status();  // `mem` is wiped and freed here
}

const HashDef<uint32_t> kSha1Portable{5, sha::kSha1Init, sha::Sha1Portable, 1};
const HashDef<uint32_t> kSha1Ni{5, sha::kSha1Init, sha::Sha1ShaNi, 2};
const HashDef<uint32_t> kSha256Portable{8, sha::kSha256Init,
                                        sha::Sha256Portable, 1};
const HashDef<uint32_t> kSha256Ni{8, sha::kSha256Init, sha::Sha256ShaNi, 2};
const HashDef<uint64_t> kSha512Portable{8, sha::kSha512Init,
                                        sha::Sha512Portable, 1};
const HashDef<uint32_t> kSha1Block{5, sha::kSha1Init, sha::Sha1Openssl, 1};
const HashDef<uint32_t> kSha256Block{8, sha::kSha256Init, sha::Sha256Openssl,
                                     1};
const HashDef<uint64_t> kSha512Block{8, sha::kSha512Init, sha::Sha512Openssl,
                                     1};

Status OpensslPbkdf2(const EVP_MD* md, std::span<const uint8_t> password,
                     std::span<const uint8_t> salt, uint32_t iterations,
                     std::span<uint8_t> out) {
  // PKCS5_PBKDF2_HMAC wants a char*; an empty password needs a valid pointer.
  static const char kEmpty[1] = {0};
  const char* pw = password.empty()
                       ? kEmpty
                       : reinterpret_cast<const char*>(password.data());
  if (PKCS5_PBKDF2_HMAC(pw, static_cast<int>(password.size()), salt.data(),
                        static_cast<int>(salt.size()),
                        static_cast<int>(iterations), md,
                        static_cast<int>(out.size()), out.data()) != 1) {
    return Status::Internal("OpenSSL PBKDF2 failed");
  }
  return Status();
}

enum class Forced { kAuto, kShaNi, kOpensslBlock, kPortable, kOpenssl };

Forced ForcedByEnv() {
  static const Forced f = [] {
    const char* v = std::getenv("LUKSFS_PBKDF2");
    if (v == nullptr) return Forced::kAuto;
    if (std::strcmp(v, "sha-ni") == 0) return Forced::kShaNi;
    if (std::strcmp(v, "openssl-block") == 0) return Forced::kOpensslBlock;
    if (std::strcmp(v, "portable") == 0) return Forced::kPortable;
    if (std::strcmp(v, "openssl") == 0) return Forced::kOpenssl;
    return Forced::kAuto;
  }();
  return f;
}

}  // namespace

const char* Pbkdf2KernelName(Pbkdf2Kernel k) {
  switch (k) {
    case Pbkdf2Kernel::kShaNi: return "sha-ni";
    case Pbkdf2Kernel::kPortable: return "portable";
    case Pbkdf2Kernel::kOpensslBlock: return "openssl-block";
    case Pbkdf2Kernel::kOpenssl: break;
  }
  return "openssl";
}

Pbkdf2Kernel Pbkdf2KernelFor(std::string_view hash) {
  const bool fast = hash == "sha1" || hash == "sha256" || hash == "sha512";
  const bool ni = (hash == "sha1" || hash == "sha256") && sha::CpuHasShaNi();
  switch (ForcedByEnv()) {
    case Forced::kOpenssl: return Pbkdf2Kernel::kOpenssl;
    case Forced::kPortable:
      return fast ? Pbkdf2Kernel::kPortable : Pbkdf2Kernel::kOpenssl;
    case Forced::kOpensslBlock:
      return fast ? Pbkdf2Kernel::kOpensslBlock : Pbkdf2Kernel::kOpenssl;
    case Forced::kShaNi:
    case Forced::kAuto: break;
  }
  if (ni) return Pbkdf2Kernel::kShaNi;
  return fast ? Pbkdf2Kernel::kOpensslBlock : Pbkdf2Kernel::kOpenssl;
}

Status Pbkdf2With(Pbkdf2Kernel kernel, std::string_view hash,
                  std::span<const uint8_t> password,
                  std::span<const uint8_t> salt, uint32_t iterations,
                  std::span<uint8_t> out, const std::atomic<bool>* cancel) {
  if (iterations == 0) {
    return Status::InvalidArgument("pbkdf2 with 0 iterations");
  }
  if (iterations > INT_MAX || password.size() > INT_MAX ||
      salt.size() > INT_MAX || out.size() > INT_MAX) {
    return Status::InvalidArgument("pbkdf2 parameter out of range");
  }
  LUKSFS_ASSIGN_OR_RETURN(const EVP_MD* md, LookupHash(hash));
  const std::string unusable = std::string("pbkdf2 kernel ") +
                               Pbkdf2KernelName(kernel) + " cannot run " +
                               std::string(hash);
  switch (kernel) {
    case Pbkdf2Kernel::kOpenssl:
      return OpensslPbkdf2(md, password, salt, iterations, out);
    case Pbkdf2Kernel::kShaNi:
      if (!sha::CpuHasShaNi()) return Status::NotSupported(unusable);
      if (hash == "sha1") {
        return Derive(kSha1Ni, md, password, salt, iterations, out, cancel);
      }
      if (hash == "sha256") {
        return Derive(kSha256Ni, md, password, salt, iterations, out, cancel);
      }
      return Status::NotSupported(unusable);
    case Pbkdf2Kernel::kOpensslBlock:
      if (hash == "sha1") {
        return Derive(kSha1Block, md, password, salt, iterations, out, cancel);
      }
      if (hash == "sha256") {
        return Derive(kSha256Block, md, password, salt, iterations, out, cancel);
      }
      if (hash == "sha512") {
        return Derive(kSha512Block, md, password, salt, iterations, out, cancel);
      }
      return Status::NotSupported(unusable);
    case Pbkdf2Kernel::kPortable:
      if (hash == "sha1") {
        return Derive(kSha1Portable, md, password, salt, iterations, out, cancel);
      }
      if (hash == "sha256") {
        return Derive(kSha256Portable, md, password, salt, iterations, out, cancel);
      }
      if (hash == "sha512") {
        return Derive(kSha512Portable, md, password, salt, iterations, out, cancel);
      }
      return Status::NotSupported(unusable);
  }
  return Status::NotSupported(unusable);
}

}  // namespace luksfs::crypto
