// KMIP 1.x tags and enumeration values used by the luksfs KMIP driver.
//
// Values from the OASIS KMIP Specification 1.0-1.4, section 9.1.3 "Defined
// Values", as PyKMIP 0.10 `kmip/core/enums.py` spells them. Only what the
// driver sends or reads is listed.
#pragma once

#include <cstdint>

namespace luksfs::kms::kmip {

// ---- Tags (24-bit) --------------------------------------------------------
namespace tag {
inline constexpr uint32_t kActivationDate = 0x420001;   // Date-Time
inline constexpr uint32_t kAttribute = 0x420008;        // Structure
inline constexpr uint32_t kAttributeIndex = 0x420009;   // Integer
inline constexpr uint32_t kAttributeName = 0x42000A;    // Text String
inline constexpr uint32_t kAttributeValue = 0x42000B;   // type per name
inline constexpr uint32_t kAuthentication = 0x42000C;   // Structure
inline constexpr uint32_t kBatchCount = 0x42000D;       // Integer
inline constexpr uint32_t kBatchItem = 0x42000F;        // Structure
inline constexpr uint32_t kBlockCipherMode = 0x420011;  // Enumeration
inline constexpr uint32_t kCompromiseOccurrenceDate = 0x420021;  // Date-Time
inline constexpr uint32_t kCredential = 0x420023;                // Structure
inline constexpr uint32_t kCredentialType = 0x420024;            // Enumeration
inline constexpr uint32_t kCredentialValue = 0x420025;           // Structure
inline constexpr uint32_t kCryptographicAlgorithm = 0x420028;    // Enumeration
inline constexpr uint32_t kCryptographicLength = 0x42002A;       // Integer
inline constexpr uint32_t kCryptographicParameters = 0x42002B;   // Structure
inline constexpr uint32_t kCryptographicUsageMask = 0x42002C;    // Integer
inline constexpr uint32_t kIvCounterNonce = 0x42003D;            // Byte String
inline constexpr uint32_t kKeyBlock = 0x420040;                  // Structure
inline constexpr uint32_t kKeyFormatType = 0x420042;             // Enumeration
inline constexpr uint32_t kKeyMaterial = 0x420043;      // Byte String (Raw)
inline constexpr uint32_t kKeyValue = 0x420045;         // Structure
inline constexpr uint32_t kName = 0x420053;             // Structure
inline constexpr uint32_t kNameType = 0x420054;         // Enumeration
inline constexpr uint32_t kNameValue = 0x420055;        // Text String
inline constexpr uint32_t kObjectType = 0x420057;       // Enumeration
inline constexpr uint32_t kOperation = 0x42005C;        // Enumeration
inline constexpr uint32_t kPaddingMethod = 0x42005F;    // Enumeration
inline constexpr uint32_t kProtocolVersion = 0x420069;  // Structure
inline constexpr uint32_t kProtocolVersionMajor = 0x42006A;  // Integer
inline constexpr uint32_t kProtocolVersionMinor = 0x42006B;  // Integer
inline constexpr uint32_t kRequestHeader = 0x420077;         // Structure
inline constexpr uint32_t kRequestMessage = 0x420078;        // Structure
inline constexpr uint32_t kRequestPayload = 0x420079;        // Structure
inline constexpr uint32_t kResponseHeader = 0x42007A;        // Structure
inline constexpr uint32_t kResponseMessage = 0x42007B;       // Structure
inline constexpr uint32_t kResponsePayload = 0x42007C;       // Structure
inline constexpr uint32_t kResultMessage = 0x42007D;         // Text String
inline constexpr uint32_t kResultReason = 0x42007E;          // Enumeration
inline constexpr uint32_t kResultStatus = 0x42007F;          // Enumeration
inline constexpr uint32_t kRevocationMessage = 0x420080;     // Text String
inline constexpr uint32_t kRevocationReason = 0x420081;      // Structure
inline constexpr uint32_t kRevocationReasonCode = 0x420082;  // Enumeration
inline constexpr uint32_t kState = 0x42008D;                 // Enumeration
inline constexpr uint32_t kSymmetricKey = 0x42008F;          // Structure
inline constexpr uint32_t kTemplateAttribute = 0x420091;     // Structure
inline constexpr uint32_t kTimeStamp = 0x420092;             // Date-Time
inline constexpr uint32_t kUniqueBatchItemId = 0x420093;     // Byte String
inline constexpr uint32_t kUniqueIdentifier = 0x420094;      // Text String
inline constexpr uint32_t kUsername = 0x420099;              // Text String
inline constexpr uint32_t kPassword = 0x4200A1;              // Text String
inline constexpr uint32_t kData = 0x4200C2;                  // Byte String
inline constexpr uint32_t kTagLength = 0x4200CE;             // Integer
inline constexpr uint32_t kAeadData = 0x4200FE;  // AE Additional Data (1.4)
inline constexpr uint32_t kAeadTag = 0x4200FF;   // AE Tag (1.4)
}  // namespace tag

// ---- Operation ------------------------------------------------------------
namespace op {
inline constexpr uint32_t kCreate = 0x01;
inline constexpr uint32_t kGet = 0x0A;
inline constexpr uint32_t kGetAttributes = 0x0B;
inline constexpr uint32_t kAddAttribute = 0x0D;
inline constexpr uint32_t kActivate = 0x12;
inline constexpr uint32_t kRevoke = 0x13;
inline constexpr uint32_t kDestroy = 0x14;
inline constexpr uint32_t kDiscoverVersions = 0x1E;  // KMIP 1.1
inline constexpr uint32_t kEncrypt = 0x1F;           // KMIP 1.2
inline constexpr uint32_t kDecrypt = 0x20;           // KMIP 1.2
}  // namespace op

// ---- Object Type ----------------------------------------------------------
inline constexpr uint32_t kObjectTypeSymmetricKey = 2;

// ---- Cryptographic Algorithm ----------------------------------------------
inline constexpr uint32_t kAlgorithmAes = 3;

// ---- Cryptographic Usage Mask (bits of an Integer) ------------------------
inline constexpr int32_t kUsageEncrypt = 0x04;
inline constexpr int32_t kUsageDecrypt = 0x08;

// ---- Block Cipher Mode ----------------------------------------------------
inline constexpr uint32_t kModeGcm = 9;

// ---- Key Format Type ------------------------------------------------------
inline constexpr uint32_t kKeyFormatRaw = 1;

// ---- Name Type ------------------------------------------------------------
inline constexpr uint32_t kNameTypeText = 1;  // Uninterpreted Text String

// ---- Credential Type ------------------------------------------------------
inline constexpr uint32_t kCredentialUsernamePassword = 1;

// ---- State ----------------------------------------------------------------
namespace state {
inline constexpr uint32_t kPreActive = 1;
inline constexpr uint32_t kActive = 2;
inline constexpr uint32_t kDeactivated = 3;
inline constexpr uint32_t kCompromised = 4;
inline constexpr uint32_t kDestroyed = 5;
inline constexpr uint32_t kDestroyedCompromised = 6;
}  // namespace state

// ---- Revocation Reason Code -----------------------------------------------
inline constexpr uint32_t kRevokeKeyCompromise = 2;
inline constexpr uint32_t kRevokeCessationOfOperation = 6;

// ---- Result Status --------------------------------------------------------
namespace status {
inline constexpr uint32_t kSuccess = 0;
inline constexpr uint32_t kOperationFailed = 1;
inline constexpr uint32_t kOperationPending = 2;
inline constexpr uint32_t kOperationUndone = 3;
}  // namespace status

// ---- Result Reason --------------------------------------------------------
namespace reason {
inline constexpr uint32_t kNone = 0;  // not on the wire: no Result Reason
inline constexpr uint32_t kItemNotFound = 0x01;
inline constexpr uint32_t kResponseTooLarge = 0x02;
inline constexpr uint32_t kAuthenticationNotSuccessful = 0x03;
inline constexpr uint32_t kInvalidMessage = 0x04;
inline constexpr uint32_t kOperationNotSupported = 0x05;
inline constexpr uint32_t kMissingData = 0x06;
inline constexpr uint32_t kInvalidField = 0x07;
inline constexpr uint32_t kFeatureNotSupported = 0x08;
inline constexpr uint32_t kOperationCanceled = 0x09;
inline constexpr uint32_t kCryptographicFailure = 0x0A;
inline constexpr uint32_t kIllegalOperation = 0x0B;
inline constexpr uint32_t kPermissionDenied = 0x0C;
inline constexpr uint32_t kObjectArchived = 0x0D;
inline constexpr uint32_t kIndexOutOfBounds = 0x0E;
inline constexpr uint32_t kKeyFormatTypeNotSupported = 0x10;
inline constexpr uint32_t kKeyValueNotPresent = 0x13;
inline constexpr uint32_t kSensitive = 0x16;
inline constexpr uint32_t kNotExtractable = 0x17;
inline constexpr uint32_t kObjectAlreadyExists = 0x18;
inline constexpr uint32_t kGeneralFailure = 0x100;
}  // namespace reason

}  // namespace luksfs::kms::kmip
