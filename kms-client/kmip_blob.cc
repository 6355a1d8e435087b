#include "kms-client/kmip_blob.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <memory>
#include <string>

namespace luksfs::kms::kmip {
namespace {

constexpr uint8_t kMagic[4] = {'L', 'K', 'W', '1'};

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

}  // namespace

std::vector<uint8_t> BlobHeader(BlobMode mode) {
  return {kMagic[0],
          kMagic[1],
          kMagic[2],
          kMagic[3],
          static_cast<uint8_t>(mode),
          kBlobIvSize,
          kBlobTagSize,
          0};
}

Result<BlobView> ParseBlob(std::span<const uint8_t> blob) {
  if (blob.size() < kBlobHeaderSize ||
      !std::equal(kMagic, kMagic + 4, blob.begin())) {
    return Status::Corruption(
        "not a luksfs KMIP wrapped blob (bad magic; expected \"LKW1\")");
  }
  if (blob[4] != static_cast<uint8_t>(BlobMode::kServer) &&
      blob[4] != static_cast<uint8_t>(BlobMode::kLocal)) {
    return Status::Corruption("KMIP wrapped blob: unknown mode " +
                              std::to_string(blob[4]));
  }
  if (blob[5] != kBlobIvSize || blob[6] != kBlobTagSize || blob[7] != 0) {
    return Status::Corruption("KMIP wrapped blob: unsupported IV/tag sizes");
  }
  if (blob.size() <= kBlobOverhead ||
      blob.size() > kBlobOverhead + kMaxWrapPlaintext) {
    return Status::Corruption("KMIP wrapped blob: bad size " +
                              std::to_string(blob.size()));
  }
  BlobView v;
  v.mode = static_cast<BlobMode>(blob[4]);
  v.header = blob.subspan(0, kBlobHeaderSize);
  v.iv = blob.subspan(kBlobHeaderSize, kBlobIvSize);
  v.tag = blob.subspan(kBlobHeaderSize + kBlobIvSize, kBlobTagSize);
  v.ciphertext = blob.subspan(kBlobOverhead);
  return v;
}

std::vector<uint8_t> AssembleBlob(BlobMode mode, std::span<const uint8_t> iv,
                                  std::span<const uint8_t> tag,
                                  std::span<const uint8_t> ciphertext) {
  std::vector<uint8_t> out = BlobHeader(mode);
  out.insert(out.end(), iv.begin(), iv.end());
  out.insert(out.end(), tag.begin(), tag.end());
  out.insert(out.end(), ciphertext.begin(), ciphertext.end());
  return out;
}

Result<std::vector<uint8_t>> RandomIv() {
  std::vector<uint8_t> iv(kBlobIvSize);
  if (RAND_bytes(iv.data(), static_cast<int>(iv.size())) != 1) {
    return Status::Internal("OpenSSL RAND_bytes failed");
  }
  return iv;
}

Result<std::vector<uint8_t>> WrapLocal(const SecureBuffer& key,
                                       std::span<const uint8_t> plaintext) {
  if (key.size() != 32) {
    return Status::InvalidArgument("KMIP key is " +
                                   std::to_string(key.size() * 8) +
                                   " bits, need a 256-bit AES key");
  }
  if (plaintext.empty() || plaintext.size() > kMaxWrapPlaintext) {
    return Status::InvalidArgument("secret to wrap must be 1..4096 bytes");
  }
  LUKSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> iv, RandomIv());
  const std::vector<uint8_t> header = BlobHeader(BlobMode::kLocal);
  std::vector<uint8_t> ct(plaintext.size());
  uint8_t tag[kBlobTagSize];
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  int tail = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kBlobIvSize,
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv.data()) !=
          1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &n, header.data(),
                        static_cast<int>(header.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ct.data(), &n, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ct.data() + n, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kBlobTagSize, tag) !=
          1) {
    return Status::Internal("OpenSSL AES-256-GCM encryption failed");
  }
  return AssembleBlob(BlobMode::kLocal, iv, tag, ct);
}

Result<SecureBuffer> UnwrapLocal(const SecureBuffer& key,
                                 std::span<const uint8_t> blob) {
  LUKSFS_ASSIGN_OR_RETURN(BlobView v, ParseBlob(blob));
  if (key.size() != 32) {
    return Status::InvalidArgument("KMIP key is " +
                                   std::to_string(key.size() * 8) +
                                   " bits, need a 256-bit AES key");
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer out,
                          SecureBuffer::Create(v.ciphertext.size()));
  uint8_t tag[kBlobTagSize];
  std::copy(v.tag.begin(), v.tag.end(), tag);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int n = 0;
  int tail = 0;
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr,
                         nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kBlobIvSize,
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key.data(),
                         v.iv.data()) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &n, v.header.data(),
                        static_cast<int>(v.header.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), out.data(), &n, v.ciphertext.data(),
                        static_cast<int>(v.ciphertext.size())) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kBlobTagSize, tag) !=
          1) {
    return Status::Internal("OpenSSL AES-256-GCM decryption setup failed");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + n, &tail) != 1) {
    out.Wipe();
    return Status::Corruption(
        "KMIP wrapped blob does not authenticate under this key (wrong key, "
        "or the blob was altered)");
  }
  return out;
}

}  // namespace luksfs::kms::kmip
