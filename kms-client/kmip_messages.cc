#include "kms-client/kmip_messages.h"

#include <cstdio>

#include "kms-client/kmip_tags.h"

namespace luksfs::kms::kmip {
namespace {

Status Malformed(const std::string& what) {
  return Status::Corruption("malformed KMIP response: " + what);
}

// The child `t` of `parent` with type `type`, or an error naming `name`.
Result<const TtlvItem*> Need(const TtlvItem& parent, uint32_t t, TtlvType type,
                             const char* name) {
  const TtlvItem* item = parent.Find(t);
  if (item == nullptr) return Malformed(std::string("no ") + name);
  if (item->type != type) {
    return Malformed(std::string(name) + " is a " + TtlvTypeName(item->type) +
                     ", expected " + TtlvTypeName(type));
  }
  return item;
}

// The payload of a successful response, or an error.
Result<const TtlvItem*> Payload(const Response& r) {
  if (!r.payload.has_value()) return Malformed("no Response Payload");
  return &*r.payload;
}

TtlvItem Attribute(std::string_view name, TtlvItem value) {
  value.tag = tag::kAttributeValue;
  return TtlvItem::Structure(
      tag::kAttribute,
      {TtlvItem::Text(tag::kAttributeName, name), std::move(value)});
}

TtlvItem GcmParameters(int tag_length) {
  return TtlvItem::Structure(
      tag::kCryptographicParameters,
      {TtlvItem::Enumeration(tag::kBlockCipherMode, kModeGcm),
       TtlvItem::Enumeration(tag::kCryptographicAlgorithm, kAlgorithmAes),
       TtlvItem::Integer(tag::kTagLength, tag_length)});
}

std::string HexName(const char* kind, uint32_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s 0x%x", kind, v);
  return buf;
}

}  // namespace

TtlvItem BuildRequest(ProtocolVersion version, uint32_t operation,
                      TtlvItem payload, const Credential* credential) {
  TtlvItem header = TtlvItem::Structure(
      tag::kRequestHeader,
      {TtlvItem::Structure(
          tag::kProtocolVersion,
          {TtlvItem::Integer(tag::kProtocolVersionMajor, version.major),
           TtlvItem::Integer(tag::kProtocolVersionMinor, version.minor)})});
  if (credential != nullptr) {
    TtlvItem value = TtlvItem::Structure(
        tag::kCredentialValue,
        {TtlvItem::Text(tag::kUsername, credential->username)});
    if (!credential->password.empty()) {
      value.Add(TtlvItem::Text(
          tag::kPassword, std::string_view(reinterpret_cast<const char*>(
                                               credential->password.data()),
                                           credential->password.size())));
    }
    header.Add(TtlvItem::Structure(
        tag::kAuthentication,
        {TtlvItem::Structure(
            tag::kCredential,
            {TtlvItem::Enumeration(tag::kCredentialType,
                                   kCredentialUsernamePassword),
             std::move(value)})}));
  }
  header.Add(TtlvItem::Integer(tag::kBatchCount, 1));
  payload.tag = tag::kRequestPayload;
  payload.type = TtlvType::kStructure;
  TtlvItem item = TtlvItem::Structure(
      tag::kBatchItem,
      {TtlvItem::Enumeration(tag::kOperation, operation), std::move(payload)});
  return TtlvItem::Structure(tag::kRequestMessage,
                             {std::move(header), std::move(item)});
}

Result<Response> ParseResponse(const TtlvItem& m, uint32_t expected_op) {
  if (m.tag != tag::kResponseMessage || m.type != TtlvType::kStructure) {
    return Malformed("not a Response Message");
  }
  LUKSFS_ASSIGN_OR_RETURN(
      const TtlvItem* header,
      Need(m, tag::kResponseHeader, TtlvType::kStructure, "Response Header"));
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* pv,
                          Need(*header, tag::kProtocolVersion,
                               TtlvType::kStructure, "Protocol Version"));
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* major,
                          Need(*pv, tag::kProtocolVersionMajor,
                               TtlvType::kInteger, "Protocol Version Major"));
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* minor,
                          Need(*pv, tag::kProtocolVersionMinor,
                               TtlvType::kInteger, "Protocol Version Minor"));
  LUKSFS_ASSIGN_OR_RETURN(
      const TtlvItem* count,
      Need(*header, tag::kBatchCount, TtlvType::kInteger, "Batch Count"));
  std::vector<const TtlvItem*> items = m.FindAll(tag::kBatchItem);
  if (count->integer != 1 || items.size() != 1) {
    return Malformed("expected one Batch Item, got " +
                     std::to_string(items.size()) + " (Batch Count " +
                     std::to_string(count->integer) + ")");
  }
  const TtlvItem& item = *items[0];
  if (item.type != TtlvType::kStructure) return Malformed("bad Batch Item");

  Response r;
  r.version = {static_cast<int>(major->integer),
               static_cast<int>(minor->integer)};
  if (const TtlvItem* op = item.Find(tag::kOperation)) {
    if (op->type != TtlvType::kEnumeration) return Malformed("bad Operation");
    r.operation = static_cast<uint32_t>(op->integer);
    if (r.operation != expected_op) {
      return Malformed("answer to " + OperationName(r.operation) +
                       ", expected " + OperationName(expected_op));
    }
  }
  LUKSFS_ASSIGN_OR_RETURN(
      const TtlvItem* rs,
      Need(item, tag::kResultStatus, TtlvType::kEnumeration, "Result Status"));
  r.result_status = static_cast<uint32_t>(rs->integer);
  if (const TtlvItem* reason = item.Find(tag::kResultReason)) {
    if (reason->type != TtlvType::kEnumeration) {
      return Malformed("bad Result Reason");
    }
    r.result_reason = static_cast<uint32_t>(reason->integer);
  }
  if (const TtlvItem* msg = item.Find(tag::kResultMessage)) {
    if (msg->type != TtlvType::kTextString) {
      return Malformed("bad Result Message");
    }
    // Server text goes into operator messages: keep it short and printable.
    for (char c : msg->text().substr(0, 200)) {
      r.result_message += (c >= 0x20 && c < 0x7f) ? c : '?';
    }
  }
  if (const TtlvItem* p = item.Find(tag::kResponsePayload)) {
    if (p->type != TtlvType::kStructure) {
      return Malformed("Response Payload is not a Structure");
    }
    r.payload = *p;
  }
  return r;
}

TtlvItem CreatePayload(const CreateParams& params) {
  TtlvItem attrs = TtlvItem::Structure(
      tag::kTemplateAttribute,
      {Attribute("Cryptographic Algorithm",
                 TtlvItem::Enumeration(0, kAlgorithmAes)),
       Attribute("Cryptographic Length", TtlvItem::Integer(0, 256)),
       Attribute("Cryptographic Usage Mask",
                 TtlvItem::Integer(0, kUsageEncrypt | kUsageDecrypt))});
  if (!params.name.empty()) {
    attrs.Add(Attribute(
        "Name",
        TtlvItem::Structure(
            0, {TtlvItem::Text(tag::kNameValue, params.name),
                TtlvItem::Enumeration(tag::kNameType, kNameTypeText)})));
  }
  for (const auto& [name, value] : params.custom_attributes) {
    if (value.empty()) continue;
    attrs.Add(Attribute(name, TtlvItem::Text(0, value)));
  }
  return TtlvItem::Structure(
      tag::kRequestPayload,
      {TtlvItem::Enumeration(tag::kObjectType, kObjectTypeSymmetricKey),
       std::move(attrs)});
}

TtlvItem UidPayload(std::string_view uid) {
  return TtlvItem::Structure(tag::kRequestPayload,
                             {TtlvItem::Text(tag::kUniqueIdentifier, uid)});
}

TtlvItem GetAttributesPayload(std::string_view uid,
                              const std::vector<std::string>& names) {
  TtlvItem p = UidPayload(uid);
  for (const std::string& n : names) {
    p.Add(TtlvItem::Text(tag::kAttributeName, n));
  }
  return p;
}

TtlvItem AddTextAttributePayload(std::string_view uid, std::string_view name,
                                 std::string_view value) {
  TtlvItem p = UidPayload(uid);
  p.Add(Attribute(name, TtlvItem::Text(0, value)));
  return p;
}

TtlvItem RevokePayload(std::string_view uid, uint32_t reason_code,
                       std::string_view message, int64_t now) {
  TtlvItem reason = TtlvItem::Structure(
      tag::kRevocationReason,
      {TtlvItem::Enumeration(tag::kRevocationReasonCode, reason_code)});
  if (!message.empty()) {
    reason.Add(TtlvItem::Text(tag::kRevocationMessage, message));
  }
  TtlvItem p = UidPayload(uid);
  p.Add(std::move(reason));
  if (reason_code == kRevokeKeyCompromise) {
    p.Add(TtlvItem::DateTime(tag::kCompromiseOccurrenceDate, now));
  }
  return p;
}

TtlvItem EncryptGcmPayload(std::string_view uid,
                           std::span<const uint8_t> plaintext,
                           std::span<const uint8_t> iv,
                           std::span<const uint8_t> aad, int tag_length) {
  TtlvItem p = UidPayload(uid);
  p.Add(GcmParameters(tag_length));
  p.Add(TtlvItem::Bytes(tag::kData, plaintext));
  p.Add(TtlvItem::Bytes(tag::kIvCounterNonce, iv));
  p.Add(TtlvItem::Bytes(tag::kAeadData, aad));
  return p;
}

TtlvItem DecryptGcmPayload(std::string_view uid,
                           std::span<const uint8_t> ciphertext,
                           std::span<const uint8_t> iv,
                           std::span<const uint8_t> aad,
                           std::span<const uint8_t> auth_tag) {
  TtlvItem p = UidPayload(uid);
  p.Add(GcmParameters(static_cast<int>(auth_tag.size())));
  p.Add(TtlvItem::Bytes(tag::kData, ciphertext));
  p.Add(TtlvItem::Bytes(tag::kIvCounterNonce, iv));
  p.Add(TtlvItem::Bytes(tag::kAeadData, aad));
  p.Add(TtlvItem::Bytes(tag::kAeadTag, auth_tag));
  return p;
}

Result<std::string> ParseUid(const Response& r) {
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* p, Payload(r));
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* uid,
                          Need(*p, tag::kUniqueIdentifier,
                               TtlvType::kTextString, "Unique Identifier"));
  if (uid->bytes.empty() || uid->bytes.size() > 256) {
    return Malformed("Unique Identifier of " +
                     std::to_string(uid->bytes.size()) + " bytes");
  }
  return std::string(uid->text());
}

Result<uint32_t> ParseStateAttribute(const Response& r) {
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* p, Payload(r));
  for (const TtlvItem* a : p->FindAll(tag::kAttribute)) {
    const TtlvItem* name = a->Find(tag::kAttributeName);
    if (name == nullptr || name->type != TtlvType::kTextString ||
        name->text() != "State") {
      continue;
    }
    const TtlvItem* value = a->Find(tag::kAttributeValue);
    if (value == nullptr || value->type != TtlvType::kEnumeration) {
      return Malformed("State attribute without an Enumeration value");
    }
    return static_cast<uint32_t>(value->integer);
  }
  return Status::NotFound("the KMIP server returned no State attribute");
}

Result<SecureBuffer> ParseSymmetricKey(const Response& r) {
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* p, Payload(r));
  LUKSFS_ASSIGN_OR_RETURN(
      const TtlvItem* type,
      Need(*p, tag::kObjectType, TtlvType::kEnumeration, "Object Type"));
  if (type->integer != kObjectTypeSymmetricKey) {
    return Status::NotSupported("KMIP object is not a symmetric key (type " +
                                std::to_string(type->integer) + ")");
  }
  LUKSFS_ASSIGN_OR_RETURN(
      const TtlvItem* key,
      Need(*p, tag::kSymmetricKey, TtlvType::kStructure, "Symmetric Key"));
  LUKSFS_ASSIGN_OR_RETURN(
      const TtlvItem* block,
      Need(*key, tag::kKeyBlock, TtlvType::kStructure, "Key Block"));
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* format,
                          Need(*block, tag::kKeyFormatType,
                               TtlvType::kEnumeration, "Key Format Type"));
  if (format->integer != kKeyFormatRaw) {
    return Status::NotSupported("KMIP key format " +
                                std::to_string(format->integer) +
                                " is not supported (need Raw)");
  }
  if (const TtlvItem* alg = block->Find(tag::kCryptographicAlgorithm)) {
    if (alg->type != TtlvType::kEnumeration || alg->integer != kAlgorithmAes) {
      return Status::NotSupported("KMIP key is not an AES key");
    }
  }
  LUKSFS_ASSIGN_OR_RETURN(
      const TtlvItem* value,
      Need(*block, tag::kKeyValue, TtlvType::kStructure, "Key Value"));
  LUKSFS_ASSIGN_OR_RETURN(
      const TtlvItem* material,
      Need(*value, tag::kKeyMaterial, TtlvType::kByteString, "Key Material"));
  return SecureBuffer::CopyOf(material->bytes);
}

Result<EncryptResult> ParseEncrypt(const Response& r) {
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* p, Payload(r));
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* data,
                          Need(*p, tag::kData, TtlvType::kByteString, "Data"));
  EncryptResult out;
  out.data = data->bytes;
  if (const TtlvItem* t = p->Find(tag::kAeadTag)) {
    if (t->type != TtlvType::kByteString) return Malformed("bad AE Tag");
    out.tag = t->bytes;
  }
  return out;
}

Result<SecureBuffer> ParseDecrypt(const Response& r) {
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* p, Payload(r));
  LUKSFS_ASSIGN_OR_RETURN(const TtlvItem* data,
                          Need(*p, tag::kData, TtlvType::kByteString, "Data"));
  return SecureBuffer::CopyOf(data->bytes);
}

std::string OperationName(uint32_t operation) {
  switch (operation) {
    case op::kCreate:
      return "Create";
    case op::kGet:
      return "Get";
    case op::kGetAttributes:
      return "Get Attributes";
    case op::kAddAttribute:
      return "Add Attribute";
    case op::kActivate:
      return "Activate";
    case op::kRevoke:
      return "Revoke";
    case op::kDestroy:
      return "Destroy";
    case op::kDiscoverVersions:
      return "Discover Versions";
    case op::kEncrypt:
      return "Encrypt";
    case op::kDecrypt:
      return "Decrypt";
  }
  return HexName("operation", operation);
}

std::string ReasonName(uint32_t r) {
  switch (r) {
    case reason::kNone:
      return "no reason given";
    case reason::kItemNotFound:
      return "Item Not Found";
    case reason::kResponseTooLarge:
      return "Response Too Large";
    case reason::kAuthenticationNotSuccessful:
      return "Authentication Not Successful";
    case reason::kInvalidMessage:
      return "Invalid Message";
    case reason::kOperationNotSupported:
      return "Operation Not Supported";
    case reason::kMissingData:
      return "Missing Data";
    case reason::kInvalidField:
      return "Invalid Field";
    case reason::kFeatureNotSupported:
      return "Feature Not Supported";
    case reason::kOperationCanceled:
      return "Operation Canceled";
    case reason::kCryptographicFailure:
      return "Cryptographic Failure";
    case reason::kIllegalOperation:
      return "Illegal Operation";
    case reason::kPermissionDenied:
      return "Permission Denied";
    case reason::kObjectArchived:
      return "Object Archived";
    case reason::kIndexOutOfBounds:
      return "Index Out Of Bounds";
    case reason::kKeyFormatTypeNotSupported:
      return "Key Format Type Not Supported";
    case reason::kKeyValueNotPresent:
      return "Key Value Not Present";
    case reason::kSensitive:
      return "Sensitive";
    case reason::kNotExtractable:
      return "Not Extractable";
    case reason::kObjectAlreadyExists:
      return "Object Already Exists";
    case reason::kGeneralFailure:
      return "General Failure";
  }
  return HexName("reason", r);
}

std::string StateName(uint32_t s) {
  switch (s) {
    case state::kPreActive:
      return "Pre-Active";
    case state::kActive:
      return "Active";
    case state::kDeactivated:
      return "Deactivated";
    case state::kCompromised:
      return "Compromised";
    case state::kDestroyed:
      return "Destroyed";
    case state::kDestroyedCompromised:
      return "Destroyed Compromised";
  }
  return HexName("state", s);
}

}  // namespace luksfs::kms::kmip
