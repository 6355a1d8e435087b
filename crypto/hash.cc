#include "crypto/hash.h"

#include <openssl/evp.h>
#include <openssl/provider.h>

#include <memory>
#include <string>

namespace luksfs::crypto {

namespace {

struct Known {
  const char* luks_name;
  const char* openssl_name;
  bool legacy;  // needs the OpenSSL legacy provider
};

constexpr Known kKnownHashes[] = {
    {"sha1", "SHA1", false},          {"sha224", "SHA224", false},
    {"sha256", "SHA256", false},      {"sha384", "SHA384", false},
    {"sha512", "SHA512", false},      {"sha3-256", "SHA3-256", false},
    {"sha3-512", "SHA3-512", false},  {"ripemd160", "RIPEMD160", false},
    {"whirlpool", "WHIRLPOOL", true},
};

// The providers loaded for legacy hashes, held for the life of the process
// and unloaded at exit. Constructed on first use, after OpenSSL's own
// initialisation, so its destructor runs before OpenSSL's atexit cleanup:
// nothing stays allocated at exit (LeakSanitizer, the fuzzers).
// Thread-safety: constructed once (a function-local static).
class LegacyProviders {
 public:
  LegacyProviders()
      // Keep the default provider available alongside legacy.
      : default_(OSSL_PROVIDER_load(nullptr, "default")),
        legacy_(OSSL_PROVIDER_load(nullptr, "legacy")) {}
  ~LegacyProviders() {
    if (legacy_ != nullptr) OSSL_PROVIDER_unload(legacy_);
    if (default_ != nullptr) OSSL_PROVIDER_unload(default_);
  }
  LegacyProviders(const LegacyProviders&) = delete;
  LegacyProviders& operator=(const LegacyProviders&) = delete;

 private:
  OSSL_PROVIDER* default_;
  OSSL_PROVIDER* legacy_;
};

void LoadLegacyProviderOnce() { static LegacyProviders providers; }

}  // namespace

Result<const EVP_MD*> LookupHash(std::string_view name) {
  for (const Known& k : kKnownHashes) {
    if (name != k.luks_name) continue;
    if (k.legacy) LoadLegacyProviderOnce();
    // EVP_get_digestbyname returns a static, never-freed object.
    const EVP_MD* md = EVP_get_digestbyname(k.openssl_name);
    if (md == nullptr) {
      return Status::NotSupported("hash '" + std::string(name) +
                                  "' is not available in this OpenSSL");
    }
    return md;
  }
  return Status::NotSupported("unsupported hash '" + std::string(name) + "'");
}

Result<size_t> HashSize(std::string_view name) {
  LUKSFS_ASSIGN_OR_RETURN(const EVP_MD* md, LookupHash(name));
  return static_cast<size_t>(EVP_MD_get_size(md));
}

Status HashTwo(const EVP_MD* md, std::span<const uint8_t> a,
               std::span<const uint8_t> b, std::span<uint8_t> out) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(
      EVP_MD_CTX_new(), EVP_MD_CTX_free);
  unsigned int len = 0;
  if (!ctx || out.size() != static_cast<size_t>(EVP_MD_get_size(md)) ||
      EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1) {
    return Status::Internal("OpenSSL digest failed");
  }
  return Status();
}

}  // namespace luksfs::crypto
