#include "crypto/argon2_fast.h"

#include <sodium.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define LUKSFS_HAVE_ARGON2_AVX2 1
#endif

namespace luksfs::crypto {

namespace {

constexpr int kWords = 128;  // 64-bit words per 1 KiB block
constexpr uint32_t kSyncPoints = 4;

struct alignas(64) Block {
  uint64_t v[kWords];
};

void Le32(uint32_t x, uint8_t* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(x >> (8 * i));
}

using Parts = std::initializer_list<std::span<const uint8_t>>;

// BLAKE2b with `outlen` (1..64) bytes over the concatenation of `parts`.
void Blake2b(uint8_t* out, size_t outlen, Parts parts) {
  crypto_generichash_blake2b_state st;
  crypto_generichash_blake2b_init(&st, nullptr, 0, outlen);
  for (auto p : parts) crypto_generichash_blake2b_update(&st, p.data(), p.size());
  crypto_generichash_blake2b_final(&st, out, outlen);
  sodium_memzero(&st, sizeof(st));
}

// H' (RFC 9106 section 3.3): variable-length hash of LE32(outlen) || parts.
void HashPrime(uint8_t* out, size_t outlen, Parts parts) {
  uint8_t len[4];
  Le32(static_cast<uint32_t>(outlen), len);
  std::vector<std::span<const uint8_t>> all = {std::span<const uint8_t>(len, 4)};
  all.insert(all.end(), parts.begin(), parts.end());
  crypto_generichash_blake2b_state st;
  auto run = [&](uint8_t* dst, size_t n) {
    crypto_generichash_blake2b_init(&st, nullptr, 0, n);
    for (auto p : all) crypto_generichash_blake2b_update(&st, p.data(), p.size());
    crypto_generichash_blake2b_final(&st, dst, n);
  };
  if (outlen <= 64) {
    run(out, outlen);
    sodium_memzero(&st, sizeof(st));
    return;
  }
  uint8_t v[64];
  run(v, 64);
  std::memcpy(out, v, 32);
  size_t pos = 32;
  while (outlen - pos > 64) {
    Blake2b(v, 64, {std::span<const uint8_t>(v, 64)});
    std::memcpy(out + pos, v, 32);
    pos += 32;
  }
  Blake2b(out + pos, outlen - pos, {std::span<const uint8_t>(v, 64)});
  sodium_memzero(v, sizeof(v));
  sodium_memzero(&st, sizeof(st));
}

#if defined(LUKSFS_HAVE_ARGON2_AVX2)

#define LUKSFS_TARGET_AVX2 __attribute__((target("avx2")))

LUKSFS_TARGET_AVX2 inline __m256i Mix(__m256i a, __m256i b) {
  // a + b + 2 * lo32(a) * lo32(b) (the multiplication BLAKE2b lacks).
  const __m256i m = _mm256_mul_epu32(a, b);
  return _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(m, m));
}

LUKSFS_TARGET_AVX2 inline void HalfRound(__m256i& a, __m256i& b, __m256i& c,
                                         __m256i& d) {
  const __m256i rot24 = _mm256_setr_epi8(
      3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10, 3, 4, 5, 6, 7, 0,
      1, 2, 11, 12, 13, 14, 15, 8, 9, 10);
  const __m256i rot16 = _mm256_setr_epi8(
      2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9, 2, 3, 4, 5, 6, 7,
      0, 1, 10, 11, 12, 13, 14, 15, 8, 9);
  a = Mix(a, b);
  d = _mm256_shuffle_epi32(_mm256_xor_si256(d, a), 0xB1);  // rotr 32
  c = Mix(c, d);
  b = _mm256_shuffle_epi8(_mm256_xor_si256(b, c), rot24);
  a = Mix(a, b);
  d = _mm256_shuffle_epi8(_mm256_xor_si256(d, a), rot16);
  c = Mix(c, d);
  b = _mm256_xor_si256(b, c);
  b = _mm256_xor_si256(_mm256_srli_epi64(b, 63), _mm256_add_epi64(b, b));
}

// P (RFC 9106 section 3.6) on 16 words held as a = v0..v3, b = v4..v7,
// c = v8..v11, d = v12..v15: columns, then diagonals.
LUKSFS_TARGET_AVX2 inline void Permute(__m256i& a, __m256i& b, __m256i& c,
                                       __m256i& d) {
  HalfRound(a, b, c, d);
  b = _mm256_permute4x64_epi64(b, _MM_SHUFFLE(0, 3, 2, 1));
  c = _mm256_permute4x64_epi64(c, _MM_SHUFFLE(1, 0, 3, 2));
  d = _mm256_permute4x64_epi64(d, _MM_SHUFFLE(2, 1, 0, 3));
  HalfRound(a, b, c, d);
  b = _mm256_permute4x64_epi64(b, _MM_SHUFFLE(2, 1, 0, 3));
  c = _mm256_permute4x64_epi64(c, _MM_SHUFFLE(1, 0, 3, 2));
  d = _mm256_permute4x64_epi64(d, _MM_SHUFFLE(0, 3, 2, 1));
}

LUKSFS_TARGET_AVX2 inline __m256i Load2(const uint64_t* lo, const uint64_t* hi) {
  return _mm256_inserti128_si256(
      _mm256_castsi128_si256(
          _mm_load_si128(reinterpret_cast<const __m128i*>(lo))),
      _mm_load_si128(reinterpret_cast<const __m128i*>(hi)), 1);
}

LUKSFS_TARGET_AVX2 inline void Store2(uint64_t* lo, uint64_t* hi, __m256i x) {
  _mm_store_si128(reinterpret_cast<__m128i*>(lo), _mm256_castsi256_si128(x));
  _mm_store_si128(reinterpret_cast<__m128i*>(hi),
                  _mm256_extracti128_si256(x, 1));
}

// G (RFC 9106 section 3.5): next = P-rows-then-columns(R) ^ R with
// R = prev ^ ref, XORed into next's old value when `with_xor` (passes > 0
// of version 0x13). Two sweeps over the block: rows (fused with R and the
// output base t), then columns (fused with the final XOR). `scratch` holds
// two blocks (the permuted rows, and t). hint(next.v[0]) is called as soon
// as that word is final (after the first column), so the caller can
// prefetch the next block's reference while the other seven columns run.
template <typename Hint>
LUKSFS_TARGET_AVX2 inline void FillBlock(const Block& prev, const Block& ref,
                                         Block& next, bool with_xor,
                                         Block* scratch, const Hint& hint) {
  Block& r = scratch[0];
  Block& t = scratch[1];
  for (int i = 0; i < 8; ++i) {  // rows: words 16i .. 16i+15
    __m256i x[4];
    for (int k = 0; k < 4; ++k) {
      const int o = 16 * i + 4 * k;
      x[k] = _mm256_xor_si256(
          _mm256_load_si256(reinterpret_cast<const __m256i*>(prev.v + o)),
          _mm256_load_si256(reinterpret_cast<const __m256i*>(ref.v + o)));
      const __m256i y =
          with_xor ? _mm256_xor_si256(x[k], _mm256_load_si256(
                                                reinterpret_cast<const __m256i*>(next.v + o)))
                   : x[k];
      _mm256_store_si256(reinterpret_cast<__m256i*>(t.v + o), y);
    }
    Permute(x[0], x[1], x[2], x[3]);
    for (int k = 0; k < 4; ++k) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(r.v + 16 * i + 4 * k), x[k]);
    }
  }
  for (int i = 0; i < 8; ++i) {  // columns: word pairs 2i + 16k, k = 0..7
    const uint64_t* w = r.v + 2 * i;
    const uint64_t* b = t.v + 2 * i;
    uint64_t* o = next.v + 2 * i;
    __m256i x[4];
    for (int k = 0; k < 4; ++k) x[k] = Load2(w + 32 * k, w + 32 * k + 16);
    Permute(x[0], x[1], x[2], x[3]);
    for (int k = 0; k < 4; ++k) {
      Store2(o + 32 * k, o + 32 * k + 16,
             _mm256_xor_si256(x[k], Load2(b + 32 * k, b + 32 * k + 16)));
    }
    if (i == 0) hint(next.v[0]);
  }
}

bool CpuHasAvx2() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  if (!(c & (1u << 27)) || !(c & (1u << 28))) return false;  // OSXSAVE, AVX
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  if ((lo & 0x6) != 0x6) return false;  // the OS saves XMM and YMM state
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return b & (1u << 5);
}

#else

template <typename Hint>
void FillBlock(const Block&, const Block&, Block&, bool, Block*, const Hint&) {}
bool CpuHasAvx2() { return false; }

#endif

// The memory of one derivation: wiped before it is freed. Large areas
// come from mmap with transparent huge pages requested (MADV_HUGEPAGE):
// the fill reads blocks at random across the whole area, and 2 MiB pages
// cut both the TLB misses and the page faults of first touch.
struct Memory {
  Block* blocks = nullptr;
  size_t count = 0;
  bool mapped = false;
  Memory() = default;
  Memory(Memory&& o) noexcept
      : blocks(o.blocks), count(o.count), mapped(o.mapped) {
    o.blocks = nullptr;
  }
  Memory(const Memory&) = delete;
  Memory& operator=(const Memory&) = delete;
  bool Allocate(size_t n) {
    const size_t bytes = n * sizeof(Block);
    count = n;
    if (bytes >= (4u << 20)) {
      void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) return false;
      madvise(p, bytes, MADV_HUGEPAGE);  // advisory: fine if refused
      madvise(p, bytes, MADV_DONTDUMP);  // key-derived: keep out of cores
      blocks = static_cast<Block*>(p);
      mapped = true;
      return true;
    }
    blocks = static_cast<Block*>(std::aligned_alloc(alignof(Block), bytes));
    return blocks != nullptr;
  }
  ~Memory() {
    if (blocks == nullptr) return;
    sodium_memzero(blocks, count * sizeof(Block));
    if (mapped) {
      munmap(blocks, count * sizeof(Block));
    } else {
      std::free(blocks);
    }
  }
};

struct Instance {
  Block* mem;
  uint32_t lanes, lane_len, seg_len, passes, blocks;
  uint32_t type;  // 1 = Argon2i, 2 = Argon2id (the RFC's y)
};

// The reference block for index j of segment (pass, lane, slice), from
// the pseudo-random word (RFC 9106 section 3.4).
const Block* RefBlock(const Instance& in, uint32_t pass, uint32_t lane,
                      uint32_t slice, uint32_t j, uint64_t pseudo) {
  uint32_t ref_lane = static_cast<uint32_t>((pseudo >> 32) % in.lanes);
  if (pass == 0 && slice == 0) ref_lane = lane;
  const bool same = ref_lane == lane;
  uint64_t area;
  if (pass == 0) {
    if (slice == 0) {
      area = j - 1;
    } else if (same) {
      area = uint64_t{slice} * in.seg_len + j - 1;
    } else {
      area = uint64_t{slice} * in.seg_len - (j == 0 ? 1 : 0);
    }
  } else if (same) {
    area = uint64_t{in.lane_len} - in.seg_len + j - 1;
  } else {
    area = uint64_t{in.lane_len} - in.seg_len - (j == 0 ? 1 : 0);
  }
  uint64_t rel = pseudo & 0xffffffffu;
  rel = (rel * rel) >> 32;
  rel = area - 1 - ((area * rel) >> 32);
  const uint64_t begin =
      (pass == 0 || slice == kSyncPoints - 1) ? 0 : uint64_t{slice + 1} * in.seg_len;
  const uint32_t ref_col = static_cast<uint32_t>((begin + rel) % in.lane_len);
  return &in.mem[size_t{ref_lane} * in.lane_len + ref_col];
}

inline void Prefetch(const Block* b) {
#if defined(LUKSFS_HAVE_ARGON2_AVX2)
  for (int k = 0; k < 16; ++k) {
    _mm_prefetch(reinterpret_cast<const char*>(b) + 64 * k, _MM_HINT_T0);
  }
#else
  (void)b;
#endif
}

void FillSegment(const Instance& in, uint32_t pass, uint32_t lane,
                 uint32_t slice, Block* scratch) {
  Block* const addr = scratch + 2;
  Block* const input = scratch + 3;
  Block* const zero = scratch + 4;
  const bool independent = in.type == 1 || (pass == 0 && slice < 2);
  if (independent) {
    std::memset(zero, 0, sizeof(Block));
    std::memset(input, 0, sizeof(Block));
    input->v[0] = pass;
    input->v[1] = lane;
    input->v[2] = slice;
    input->v[3] = in.blocks;
    input->v[4] = in.passes;
    input->v[5] = in.type;
  }
  const auto no_hint = [](uint64_t) {};
  auto next_addresses = [&] {
    ++input->v[6];
    FillBlock(*zero, *input, *addr, false, scratch, no_hint);
    FillBlock(*zero, *addr, *addr, false, scratch, no_hint);
  };
  uint32_t start = 0;
  if (pass == 0 && slice == 0) {
    start = 2;
    if (independent) next_addresses();
  }
  Block* const lane_base = in.mem + size_t{lane} * in.lane_len;
  for (uint32_t j = start; j < in.seg_len; ++j) {
    const uint32_t col = slice * in.seg_len + j;
    const uint32_t prev = col == 0 ? in.lane_len - 1 : col - 1;
    uint64_t pseudo;
    if (independent) {
      if (j % kWords == 0) next_addresses();
      pseudo = addr->v[j % kWords];
    } else {
      pseudo = lane_base[prev].v[0];
    }
    const Block* ref = RefBlock(in, pass, lane, slice, j, pseudo);
    const uint32_t nj = j + 1;
    const auto hint = [&](uint64_t first_word) {
      if (nj >= in.seg_len) return;
      if (!independent) {
        Prefetch(RefBlock(in, pass, lane, slice, nj, first_word));
      } else if (nj % kWords != 0) {
        Prefetch(RefBlock(in, pass, lane, slice, nj, addr->v[nj % kWords]));
      }
    };
    FillBlock(lane_base[prev], *ref, lane_base[col], pass != 0, scratch, hint);
  }
}

enum class Choice { kAuto, kLibargon2 };

Choice ChoiceByEnv() {
  static const Choice c = [] {
    const char* v = std::getenv("LUKSFS_ARGON2");
    return v != nullptr && std::strcmp(v, "libargon2") == 0 ? Choice::kLibargon2
                                                           : Choice::kAuto;
  }();
  return c;
}

}  // namespace

bool Argon2FastSupported() {
  static const bool avx2 = CpuHasAvx2();
  return avx2;
}

bool Argon2FastChosen() {
  return Argon2FastSupported() && ChoiceByEnv() == Choice::kAuto;
}

Status Argon2Fast(KdfType type, std::span<const uint8_t> password,
                  std::span<const uint8_t> salt, uint32_t time,
                  uint32_t memory_kib, uint32_t lanes, uint32_t threads,
                  std::span<uint8_t> out) {
  return Argon2FastKeyed(type, password, salt, {}, {}, time, memory_kib, lanes,
                         threads, out);
}

Status Argon2FastKeyed(KdfType type, std::span<const uint8_t> password,
                       std::span<const uint8_t> salt,
                       std::span<const uint8_t> secret,
                       std::span<const uint8_t> ad, uint32_t time,
                       uint32_t memory_kib, uint32_t lanes, uint32_t threads,
                       std::span<uint8_t> out) {
  if (type == KdfType::kPbkdf2) {
    return Status::InvalidArgument("Argon2 called with a pbkdf2 KDF");
  }
  if (!Argon2FastSupported()) {
    return Status::NotSupported("argon2 (AVX2): not available on this CPU");
  }
  if (lanes < 1 || lanes > 0xffffff || time < 1 ||
      uint64_t{memory_kib} < 8ull * lanes || out.size() < 4 ||
      out.size() > 0xffffffffu || salt.size() < 8 ||
      password.size() > 0xffffffffu || salt.size() > 0xffffffffu) {
    return Status::InvalidArgument("argon2: parameter out of range");
  }
  Instance in;
  in.lanes = lanes;
  in.seg_len = memory_kib / (lanes * kSyncPoints);
  in.lane_len = in.seg_len * kSyncPoints;
  in.blocks = in.lane_len * lanes;
  in.passes = time;
  in.type = type == KdfType::kArgon2i ? 1 : 2;

  Memory mem;
  if (!mem.Allocate(in.blocks)) {
    return Status::ResourceExhausted("argon2: cannot allocate " +
                                     std::to_string(memory_kib) + " KiB");
  }
  in.mem = mem.blocks;

  // H0 (RFC 9106 section 3.2), then the first two blocks of every lane.
  uint8_t h0[72];
  {
    uint8_t p[4], t[4], m[4], tc[4], v[4], y[4], lp[4], ls[4], lk[4], lx[4];
    Le32(lanes, p);
    Le32(static_cast<uint32_t>(out.size()), t);
    Le32(memory_kib, m);
    Le32(time, tc);
    Le32(0x13, v);
    Le32(in.type, y);
    Le32(static_cast<uint32_t>(password.size()), lp);
    Le32(static_cast<uint32_t>(salt.size()), ls);
    Le32(static_cast<uint32_t>(secret.size()), lk);
    Le32(static_cast<uint32_t>(ad.size()), lx);
    using S = std::span<const uint8_t>;
    Blake2b(h0, 64,
            {S(p, 4), S(t, 4), S(m, 4), S(tc, 4), S(v, 4), S(y, 4), S(lp, 4),
             password, S(ls, 4), salt, S(lk, 4), secret, S(lx, 4), ad});
  }
  for (uint32_t l = 0; l < lanes; ++l) {
    for (uint32_t c = 0; c < 2; ++c) {
      Le32(c, h0 + 64);
      Le32(l, h0 + 68);
      HashPrime(reinterpret_cast<uint8_t*>(in.mem[size_t{l} * in.lane_len + c].v),
                sizeof(Block), {std::span<const uint8_t>(h0, 72)});
    }
  }
  sodium_memzero(h0, sizeof(h0));

  // Passes and slices; the lanes of a slice run on up to `threads` threads.
  const uint32_t workers = std::max(1u, std::min(threads, lanes));
  std::vector<Memory> scratch(workers);
  for (Memory& s : scratch) {
    if (!s.Allocate(5)) return Status::ResourceExhausted("argon2: scratch");
  }
  for (uint32_t pass = 0; pass < time; ++pass) {
    for (uint32_t slice = 0; slice < kSyncPoints; ++slice) {
      auto work = [&](uint32_t w) {
        for (uint32_t l = w; l < lanes; l += workers) {
          FillSegment(in, pass, l, slice, scratch[w].blocks);
        }
      };
      std::vector<std::thread> pool;
      uint32_t started = 1;
      for (uint32_t w = 1; w < workers; ++w) {
        try {
          pool.emplace_back(work, w);
          ++started;
        } catch (const std::system_error&) {
          break;
        }
      }
      work(0);
      for (uint32_t w = started; w < workers; ++w) work(w);  // no thread
      for (std::thread& th : pool) th.join();
    }
  }

  // The final block: XOR of every lane's last block, hashed to `out`.
  Block& fin = scratch[0].blocks[0];
  std::memcpy(&fin, &in.mem[in.lane_len - 1], sizeof(Block));
  for (uint32_t l = 1; l < lanes; ++l) {
    const Block& b = in.mem[size_t{l} * in.lane_len + in.lane_len - 1];
    for (int k = 0; k < kWords; ++k) fin.v[k] ^= b.v[k];
  }
  HashPrime(out.data(), out.size(),
            {std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(fin.v),
                                      sizeof(Block))});
  return Status();  // `mem` and `scratch` are wiped and freed here
}

}  // namespace luksfs::crypto
