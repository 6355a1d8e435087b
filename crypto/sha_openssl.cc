// SHA-1/SHA-256/SHA-512 compressions through OpenSSL's one-block
// *_Transform functions: OpenSSL's own assembly (AVX2, SHA-NI, ...) for
// the compression, without PKCS5_PBKDF2_HMAC's per-iteration HMAC and EVP
// set-up. The state is loaded into a context, the word-form block is
// written out big-endian, and the state is read back.
//
// *_Transform is deprecated in OpenSSL 3.0 (the low-level API) but still
// exported; it is the only public way to reach one compression.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>

#include "crypto/sha_kernels.h"

namespace luksfs::crypto::sha {

namespace {

template <typename W>
void StoreBlock(const W* w, unsigned char* out) {
  for (int i = 0; i < 16; ++i) {
    W v = w[i];
    for (size_t b = sizeof(W); b-- > 0;) {
      out[i * sizeof(W) + b] = static_cast<unsigned char>(v);
      v >>= 8;
    }
  }
}

}  // namespace

void Sha1Openssl(uint32_t* const* st, const uint32_t* const* w, int n) {
  SHA_CTX ctx;
  unsigned char block[64];
  for (int i = 0; i < n; ++i) {
    ctx.h0 = st[i][0], ctx.h1 = st[i][1], ctx.h2 = st[i][2];
    ctx.h3 = st[i][3], ctx.h4 = st[i][4];
    StoreBlock(w[i], block);
    SHA1_Transform(&ctx, block);
    st[i][0] = ctx.h0, st[i][1] = ctx.h1, st[i][2] = ctx.h2;
    st[i][3] = ctx.h3, st[i][4] = ctx.h4;
  }
  OPENSSL_cleanse(&ctx, sizeof(ctx));
  OPENSSL_cleanse(block, sizeof(block));
}

void Sha256Openssl(uint32_t* const* st, const uint32_t* const* w, int n) {
  SHA256_CTX ctx;
  unsigned char block[64];
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 8; ++j) ctx.h[j] = st[i][j];
    StoreBlock(w[i], block);
    SHA256_Transform(&ctx, block);
    for (int j = 0; j < 8; ++j) st[i][j] = ctx.h[j];
  }
  OPENSSL_cleanse(&ctx, sizeof(ctx));
  OPENSSL_cleanse(block, sizeof(block));
}

void Sha512Openssl(uint64_t* const* st, const uint64_t* const* w, int n) {
  SHA512_CTX ctx;
  unsigned char block[128];
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < 8; ++j) ctx.h[j] = st[i][j];
    StoreBlock(w[i], block);
    SHA512_Transform(&ctx, block);
    for (int j = 0; j < 8; ++j) st[i][j] = ctx.h[j];
  }
  OPENSSL_cleanse(&ctx, sizeof(ctx));
  OPENSSL_cleanse(block, sizeof(block));
}

}  // namespace luksfs::crypto::sha
