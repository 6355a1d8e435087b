// KMIP 1.x request and response messages for the operations luksfs uses:
// building request payloads, wrapping them in a Request Message, and
// checking and picking apart a Response Message. No I/O here.
//
// Shapes follow the KMIP 1.2 Specification (OASIS), section 4 "Client-to-
// Server Operations" and section 6 "Message Contents"; doc/kmip.md lists the
// payloads luksfs sends (tested against PyKMIP 0.10). Every request carries one Batch Item; responses must carry
// exactly one.
//
// Thread-safety: pure functions and values.
// Secrets: the Credential password and Get/Decrypt results pass through
// TtlvItems (which wipe their bytes when destroyed) and SecureBuffers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "kms-client/kmip_tags.h"
#include "kms-client/ttlv.h"

namespace luksfs::kms::kmip {

struct ProtocolVersion {
  int major = 1;
  int minor = 4;
  bool operator==(const ProtocolVersion&) const = default;
};

// The optional Username/Password credential of the request header.
// `password` is borrowed and must outlive the call.
struct Credential {
  std::string username;
  std::span<const uint8_t> password;
};

// A Request Message with one Batch Item: header {Protocol Version,
// [Authentication{Credential}], Batch Count 1}, item {Operation, Request
// Payload}. For (1.2, Discover Versions, empty payload, no credential)
// this is the 104-byte message shown in doc/kmip.md.
TtlvItem BuildRequest(ProtocolVersion version, uint32_t operation,
                      TtlvItem payload, const Credential* credential);

// One decoded response batch item.
struct Response {
  ProtocolVersion version;          // from the Response Header
  uint32_t operation = 0;           // 0 when the server left it out
  uint32_t result_status = 0;       // kmip::status::*
  uint32_t result_reason = 0;       // kmip::reason::*, kNone if absent
  std::string result_message;       // server text, may be empty
  std::optional<TtlvItem> payload;  // Response Payload, if present
  bool ok() const { return result_status == status::kSuccess; }
};

// Checks the shape of a Response Message (header, one batch item, result
// fields, operation echo). Errors: kCorruption naming what is missing.
Result<Response> ParseResponse(const TtlvItem& message,
                               uint32_t expected_operation);

// ---- Request payloads -----------------------------------------------------

struct CreateParams {
  std::string name;  // Name attribute; omitted when empty
  // Text String custom attributes ("x-Vendor", ...); values may be empty
  // (then omitted).
  std::vector<std::pair<std::string, std::string>> custom_attributes;
};
// Create Symmetric Key: AES, 256 bits, usage Encrypt|Decrypt, Name, x-*.
TtlvItem CreatePayload(const CreateParams& params);
// Unique Identifier only: Activate, Destroy, Get.
TtlvItem UidPayload(std::string_view uid);
// Get Attributes with the given attribute names.
TtlvItem GetAttributesPayload(std::string_view uid,
                              const std::vector<std::string>& names);
// Add Attribute of one Text String attribute.
TtlvItem AddTextAttributePayload(std::string_view uid, std::string_view name,
                                 std::string_view value);
// Revoke with Revocation Reason {code, [message]} and, for Key Compromise,
// a Compromise Occurrence Date of `now`.
TtlvItem RevokePayload(std::string_view uid, uint32_t reason_code,
                       std::string_view message, int64_t now);
// Encrypt / Decrypt with AES-GCM, a caller IV, AAD and a tag length (and,
// for Decrypt, the tag). Needs a 1.4 header for the AE fields.
TtlvItem EncryptGcmPayload(std::string_view uid,
                           std::span<const uint8_t> plaintext,
                           std::span<const uint8_t> iv,
                           std::span<const uint8_t> aad, int tag_length);
TtlvItem DecryptGcmPayload(std::string_view uid,
                           std::span<const uint8_t> ciphertext,
                           std::span<const uint8_t> iv,
                           std::span<const uint8_t> aad,
                           std::span<const uint8_t> tag);

// ---- Response payloads (all errors kCorruption unless noted) --------------

// Unique Identifier of a Create/Activate/Destroy/Revoke response.
Result<std::string> ParseUid(const Response& r);
// State from a Get Attributes response (kmip::state::*). kNotFound when the
// server returned no State attribute.
Result<uint32_t> ParseStateAttribute(const Response& r);
// Raw key material of a Get response for a Symmetric Key. kNotSupported for
// other object types or key formats.
Result<SecureBuffer> ParseSymmetricKey(const Response& r);
struct EncryptResult {
  std::vector<uint8_t> data;
  std::vector<uint8_t> tag;  // empty when the server returned none
};
Result<EncryptResult> ParseEncrypt(const Response& r);
Result<SecureBuffer> ParseDecrypt(const Response& r);

// ---- Names for messages ---------------------------------------------------
std::string OperationName(uint32_t operation);  // "Decrypt", "op 0x99"
std::string ReasonName(uint32_t reason);        // "Item Not Found", ...
std::string StateName(uint32_t state);          // "Deactivated", ...

}  // namespace luksfs::kms::kmip
