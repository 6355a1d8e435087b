#include "kms-client/cert_info.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <ctime>

#include "kms-client/tls_connection.h"

namespace luksfs::kms {
namespace {

std::string NameLine(const X509_NAME* name) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return "?";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n > 0 ? static_cast<size_t>(n) : 0);
  BIO_free(bio);
  return out;
}

std::string TimeLine(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::vector<uint8_t>> Digest(X509* cert, const EVP_MD* md) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(cert, md, out, &n) != 1) {
    return Status::Corruption("cannot hash the server certificate");
  }
  return std::vector<uint8_t>(out, out + n);
}

}  // namespace

Result<CertInfo> DescribeCertificate(X509* cert) {
  CertInfo info;
  info.subject = NameLine(X509_get_subject_name(cert));
  info.issuer = NameLine(X509_get_issuer_name(cert));
  info.not_before = TimeLine(X509_get0_notBefore(cert));
  info.not_after = TimeLine(X509_get0_notAfter(cert));
  LUKSFS_ASSIGN_OR_RETURN(info.sha1, Digest(cert, EVP_sha1()));
  LUKSFS_ASSIGN_OR_RETURN(info.sha256, Digest(cert, EVP_sha256()));
  return info;
}

Result<CertInfo> DescribeCertificateDer(std::span<const uint8_t> der) {
  const unsigned char* p = der.data();
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (cert == nullptr) return Status::Corruption("not an X.509 certificate");
  Result<CertInfo> info = DescribeCertificate(cert);
  X509_free(cert);
  return info;
}

std::string FingerprintLine(std::span<const uint8_t> digest) {
  return std::string(digest.size() == 20 ? "SHA1" : "sha256") +
         " Fingerprint=" + FormatFingerprint(digest);
}

Result<bool> PinMatches(X509* cert, std::span<const uint8_t> pin) {
  if (pin.size() != 20 && pin.size() != 32) {
    return Status::InvalidArgument("certificate pin of " +
                                   std::to_string(pin.size()) + " bytes");
  }
  LUKSFS_ASSIGN_OR_RETURN(
      std::vector<uint8_t> got,
      Digest(cert, pin.size() == 20 ? EVP_sha1() : EVP_sha256()));
  return got.size() == pin.size() &&
         CRYPTO_memcmp(got.data(), pin.data(), pin.size()) == 0;
}

Result<bool> PinsMatch(X509* cert,
                       const std::vector<std::vector<uint8_t>>& pins) {
  for (const std::vector<uint8_t>& pin : pins) {
    LUKSFS_ASSIGN_OR_RETURN(bool match, PinMatches(cert, pin));
    if (match) return true;
  }
  return false;
}

std::string FingerprintLines(const std::vector<std::vector<uint8_t>>& pins) {
  std::string out;
  for (const std::vector<uint8_t>& pin : pins) {
    if (!out.empty()) out += ", ";
    out += FingerprintLine(pin);
  }
  return out;
}

std::string PresentedFingerprints(X509* cert) {
  Result<std::vector<uint8_t>> a = Digest(cert, EVP_sha1());
  Result<std::vector<uint8_t>> b = Digest(cert, EVP_sha256());
  if (!a.ok() || !b.ok()) return "(fingerprints unavailable)";
  return FingerprintLine(*a) + ", " + FingerprintLine(*b);
}

}  // namespace luksfs::kms
