#include "crypto/sector_cipher.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "crypto/hash.h"
#include "crypto/xts_batch.h"
#include "crypto/xts_vaes.h"

namespace luksfs::crypto {

namespace {

constexpr size_t kBlock = 16;  // AES block size

using CtxPtr = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;
CtxPtr NewCtx() { return CtxPtr(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free); }

Status NotSupported(std::string_view spec, std::string_view why) {
  return Status::NotSupported("cipher '" + std::string(spec) +
                              "' is not supported: " + std::string(why));
}

const EVP_CIPHER* DataCipher(const CipherSpec& s, size_t key_bytes) {
  if (s.chain == "xts") {
    if (key_bytes == 32) return EVP_aes_128_xts();
    if (key_bytes == 64) return EVP_aes_256_xts();
    return nullptr;
  }
  if (key_bytes == 16) return EVP_aes_128_cbc();
  if (key_bytes == 24) return EVP_aes_192_cbc();
  if (key_bytes == 32) return EVP_aes_256_cbc();
  return nullptr;
}

const EVP_CIPHER* EssivCipher(size_t digest_bytes) {
  if (digest_bytes == 16) return EVP_aes_128_ecb();
  if (digest_bytes == 24) return EVP_aes_192_ecb();
  if (digest_bytes == 32) return EVP_aes_256_ecb();
  return nullptr;
}

void PutLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace

Result<CipherSpec> ParseCipherSpec(std::string_view spec, size_t key_bytes) {
  CipherSpec s;
  size_t d1 = spec.find('-');
  if (d1 == std::string_view::npos) return NotSupported(spec, "no mode");
  s.cipher = std::string(spec.substr(0, d1));
  std::string_view mode = spec.substr(d1 + 1);
  size_t d2 = mode.find('-');
  if (d2 == std::string_view::npos) {
    return NotSupported(spec, "no IV generator (ECB is refused)");
  }
  s.chain = std::string(mode.substr(0, d2));
  std::string_view iv = mode.substr(d2 + 1);
  if (iv.substr(0, 6) == "essiv:") {
    s.ivgen = "essiv";
    s.iv_hash = std::string(iv.substr(6));
  } else {
    s.ivgen = std::string(iv);
  }
  if (s.cipher != "aes") return NotSupported(spec, "only AES is supported");
  if (s.chain != "xts" && s.chain != "cbc") {
    return NotSupported(spec, "only the xts and cbc modes are supported");
  }
  if (s.ivgen != "plain64" && s.ivgen != "plain" && s.ivgen != "plain64be" &&
      s.ivgen != "essiv") {
    return NotSupported(spec, "IV generator '" + std::string(iv) +
                                  "' is not supported");
  }
  if (s.ivgen == "essiv") {
    if (s.chain != "cbc") return NotSupported(spec, "ESSIV only with cbc");
    auto size = HashSize(s.iv_hash);
    if (!size.ok()) return NotSupported(spec, size.status().message());
    if (EssivCipher(*size) == nullptr) {
      return NotSupported(spec, "ESSIV hash size must be 16, 24 or 32 bytes");
    }
  }
  if (DataCipher(s, key_bytes) == nullptr) {
    return NotSupported(spec, std::to_string(key_bytes * 8) +
                                  "-bit key is not valid for aes-" + s.chain);
  }
  return s;
}

struct SectorCipher::Impl {
  CipherSpec spec;
  std::string spec_text;
  SecureBuffer key;
  CtxPtr enc = NewCtx();
  CtxPtr dec = NewCtx();
  CtxPtr essiv = NewCtx();  // AES-ECB keyed with hash(key); essiv only
  bool enc_ok = false;      // OpenSSL refuses XTS encryption if key1 == key2
  // At most one of these: the VAES XTS (any sector size, when the CPU has
  // it), else batched XTS for 512-byte units; neither: OpenSSL per unit.
  std::unique_ptr<XtsVaes> vaes;
  std::unique_ptr<XtsBatch> xts;
  size_t batch_units = 0;    // units per call into vaes/xts
  std::vector<uint8_t> ivs;  // scratch: one IV per unit of a batch

  // The IV generator, resolved once from spec.ivgen (MakeIv runs per unit).
  enum class IvGen { kPlain, kPlain64, kPlain64Be, kEssiv } ivgen = IvGen::kPlain64;

  void MakeIv(uint64_t sector, uint8_t iv[kBlock]) {
    std::memset(iv, 0, kBlock);
    switch (ivgen) {
      case IvGen::kPlain:
        PutLe64(iv, sector & 0xffffffffu);
        break;
      case IvGen::kPlain64Be:
        for (int i = 0; i < 8; ++i) {
          iv[kBlock - 1 - i] = static_cast<uint8_t>(sector >> (8 * i));
        }
        break;
      case IvGen::kPlain64:
        PutLe64(iv, sector);
        break;
      case IvGen::kEssiv: {
        PutLe64(iv, sector);
        int n = 0;
        EVP_EncryptUpdate(essiv.get(), iv, &n, iv, kBlock);
        break;
      }
    }
  }
};

SectorCipher::SectorCipher(std::unique_ptr<Impl> impl, uint32_t sector_size)
    : impl_(std::move(impl)), sector_size_(sector_size) {}

SectorCipher::~SectorCipher() = default;

Result<std::unique_ptr<SectorCipher>> SectorCipher::Create(
    std::string_view spec, std::span<const uint8_t> key,
    uint32_t sector_size) {
  if (sector_size < 512 || sector_size > 4096 ||
      (sector_size & (sector_size - 1)) != 0) {
    return Status::InvalidArgument("sector size " +
                                   std::to_string(sector_size) +
                                   " is not a power of two in 512..4096");
  }
  LUKSFS_ASSIGN_OR_RETURN(CipherSpec parsed, ParseCipherSpec(spec, key.size()));
  auto impl = std::make_unique<Impl>();
  impl->spec = parsed;
  impl->spec_text = std::string(spec);
  using IvGen = Impl::IvGen;
  impl->ivgen = parsed.ivgen == "plain"       ? IvGen::kPlain
                : parsed.ivgen == "plain64be" ? IvGen::kPlain64Be
                : parsed.ivgen == "essiv"     ? IvGen::kEssiv
                                              : IvGen::kPlain64;
  LUKSFS_ASSIGN_OR_RETURN(impl->key, SecureBuffer::CopyOf(key));
  if (!impl->enc || !impl->dec || !impl->essiv) {
    return Status::ResourceExhausted("cannot allocate cipher contexts");
  }
  const EVP_CIPHER* c = DataCipher(parsed, key.size());
  if (EVP_DecryptInit_ex2(impl->dec.get(), c, key.data(), nullptr, nullptr) !=
      1) {
    return Status::Internal("OpenSSL refused the decryption key for " +
                            impl->spec_text);
  }
  impl->enc_ok = EVP_EncryptInit_ex2(impl->enc.get(), c, key.data(), nullptr,
                                     nullptr) == 1;
  EVP_CIPHER_CTX_set_padding(impl->dec.get(), 0);
  EVP_CIPHER_CTX_set_padding(impl->enc.get(), 0);
  if (parsed.ivgen == "essiv") {
    LUKSFS_ASSIGN_OR_RETURN(const EVP_MD* md, LookupHash(parsed.iv_hash));
    std::array<uint8_t, EVP_MAX_MD_SIZE> salt;
    unsigned int n = 0;
    if (EVP_Digest(key.data(), key.size(), salt.data(), &n, md, nullptr) != 1 ||
        EVP_EncryptInit_ex2(impl->essiv.get(), EssivCipher(n), salt.data(),
                            nullptr, nullptr) != 1) {
      SecureWipe(salt.data(), salt.size());
      return Status::Internal("OpenSSL ESSIV setup failed");
    }
    SecureWipe(salt.data(), salt.size());
    EVP_CIPHER_CTX_set_padding(impl->essiv.get(), 0);
  }
  // XTS: the VAES code wherever the CPU runs it (measured on this project's
  // EPYC: see contrib/bench/RESULTS.md). Otherwise batched XTS, which beats
  // OpenSSL's per-unit re-initialisation only for 512-byte units (4.1 vs
  // 3.4 GB/s per core; at 1024 and above OpenSSL's own XTS is faster), so
  // only there: LUKS1, qemu and converted images all use 512.
  if (parsed.chain == "xts" && XtsVaes::Supported()) {
    LUKSFS_ASSIGN_OR_RETURN(impl->vaes, XtsVaes::Create(key, sector_size));
    impl->batch_units = 256;
  } else if (parsed.chain == "xts" && sector_size == 512) {
    LUKSFS_ASSIGN_OR_RETURN(impl->xts, XtsBatch::Create(key, sector_size));
    impl->batch_units = impl->xts->max_units();
  }
  impl->ivs.resize(impl->batch_units * kBlock);
  return std::unique_ptr<SectorCipher>(
      new SectorCipher(std::move(impl), sector_size));
}

bool SectorCipher::vector_aes() const { return impl_->vaes != nullptr; }

Result<std::unique_ptr<SectorCipher>> SectorCipher::Clone() const {
  return Create(impl_->spec_text, impl_->key.span(), sector_size_);
}

Status SectorCipher::Decrypt(uint64_t iv_sector, std::span<const uint8_t> in,
                             std::span<uint8_t> out) {
  return Run(false, iv_sector, in, out);
}

Status SectorCipher::Encrypt(uint64_t iv_sector, std::span<const uint8_t> in,
                             std::span<uint8_t> out) {
  return Run(true, iv_sector, in, out);
}

Status SectorCipher::Run(bool encrypt, uint64_t iv_sector,
                         std::span<const uint8_t> in, std::span<uint8_t> out) {
  if (in.size() != out.size() || in.size() % sector_size_ != 0) {
    return Status::InvalidArgument("cipher run of " +
                                   std::to_string(in.size()) +
                                   " bytes is not whole sectors");
  }
  if (encrypt && !impl_->enc_ok) {
    return Status::NotSupported(
        "encryption refused: the XTS key halves are equal");
  }
  const uint64_t step = sector_size_ / 512;
  if (impl_->batch_units != 0) {
    // Batched XTS: IVs for up to batch_units units, then one call.
    const size_t units = in.size() / sector_size_;
    const size_t batch = impl_->batch_units;
    for (size_t u0 = 0; u0 < units; u0 += batch) {
      const size_t n = std::min(batch, units - u0);
      for (size_t u = 0; u < n; ++u) {
        impl_->MakeIv(iv_sector, impl_->ivs.data() + u * kBlock);
        iv_sector += step;
      }
      const size_t off = u0 * sector_size_, len = n * sector_size_;
      const std::span<const uint8_t> ivs(impl_->ivs.data(), n * kBlock);
      LUKSFS_RETURN_IF_ERROR(
          impl_->vaes ? impl_->vaes->Run(encrypt, ivs, in.subspan(off, len),
                                         out.subspan(off, len))
                      : impl_->xts->Run(encrypt, ivs, in.subspan(off, len),
                                        out.subspan(off, len)));
    }
    return Status();
  }
  EVP_CIPHER_CTX* ctx = encrypt ? impl_->enc.get() : impl_->dec.get();
  uint8_t iv[kBlock];
  for (size_t off = 0; off < in.size(); off += sector_size_) {
    impl_->MakeIv(iv_sector, iv);
    iv_sector += step;
    int n = 0;
    // Re-init with the IV for every unit: in OpenSSL 3.0, setting the XTS IV
    // through EVP_CIPHER_CTX_set_params does not change the tweak.
    if (EVP_CipherInit_ex2(ctx, nullptr, nullptr, iv, encrypt ? 1 : 0,
                           nullptr) != 1 ||
        EVP_CipherUpdate(ctx, out.data() + off, &n, in.data() + off,
                         static_cast<int>(sector_size_)) != 1 ||
        n != static_cast<int>(sector_size_)) {
      return Status::Internal("OpenSSL cipher update failed");
    }
  }
  return Status();
}

}  // namespace luksfs::crypto
