// The few S3 XML responses luksfs reads: errors, InitiateMultipartUpload,
// CopyPartResult. A bounded scanner, not an XML parser: it finds the text of
// the first <Tag>...</Tag> and unescapes the five predefined entities.
//
// Untrusted input: the document is looked at only up to kMaxXmlBytes and a
// value is at most kMaxXmlValue bytes; anything else is "not found".
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace luksfs::fs {

inline constexpr size_t kMaxXmlBytes = 64 * 1024;
inline constexpr size_t kMaxXmlValue = 4096;

// Text of the first element named `tag` (no attributes expected; an
// attribute list is tolerated). nullopt when absent, unterminated, too long,
// or containing markup.
std::optional<std::string> XmlText(std::string_view xml, std::string_view tag);

// "Code: Message" of an S3 <Error> document, or "" when it has none.
std::string XmlErrorSummary(std::string_view xml);

// Escapes &, <, >, " for building request bodies.
std::string XmlEscape(std::string_view s);

}  // namespace luksfs::fs
