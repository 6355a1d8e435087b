#include "fs/storage/s3_xml.h"

#include <gtest/gtest.h>

namespace luksfs::fs {
namespace {

TEST(S3Xml, InitiateMultipartUpload) {
  const char xml[] =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult "
      "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket>"
      "<Key>k</Key><UploadId>2~abc&amp;def</UploadId></InitiateMultipartUploadResult>";
  EXPECT_EQ(XmlText(xml, "UploadId"), "2~abc&def");
  EXPECT_EQ(XmlText(xml, "Bucket"), "b");
  EXPECT_EQ(XmlText(xml, "Upload"), std::nullopt);  // prefix of a tag name
}

TEST(S3Xml, CopyPartResultEtagQuotes) {
  const char xml[] =
      "<CopyPartResult><LastModified>2024</LastModified>"
      "<ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag></CopyPartResult>";
  EXPECT_EQ(XmlText(xml, "ETag"), "\"9b2cf535f27731c974343645a3985328\"");
}

TEST(S3Xml, ErrorSummary) {
  const char xml[] =
      "<Error><Code>NoSuchKey</Code><Message>The specified key does not "
      "exist.</Message><Key>k</Key></Error>";
  EXPECT_EQ(XmlErrorSummary(xml), "NoSuchKey: The specified key does not exist.");
  EXPECT_EQ(XmlErrorSummary("<Error><Code>AccessDenied</Code></Error>"), "AccessDenied");
  EXPECT_EQ(XmlErrorSummary(""), "");
  EXPECT_EQ(XmlErrorSummary("<html>503 Service Unavailable</html>"), "");
}

TEST(S3Xml, HostileAndTruncated) {
  EXPECT_EQ(XmlText("<UploadId>abc", "UploadId"), std::nullopt);
  EXPECT_EQ(XmlText("<UploadId", "UploadId"), std::nullopt);
  EXPECT_EQ(XmlText("<", "UploadId"), std::nullopt);
  EXPECT_EQ(XmlText("<UploadId><x>1</x></UploadId>", "UploadId"), std::nullopt);
  EXPECT_EQ(XmlText("<UploadId>a&bogus;b</UploadId>", "UploadId"), std::nullopt);
  EXPECT_EQ(XmlText("<UploadId/>", "UploadId"), "");
  EXPECT_EQ(XmlText("<ETag></ETag>", "ETag"), "");  // RGW 16's empty ETag
  EXPECT_EQ(XmlText("<Code>" + std::string(kMaxXmlValue + 1, 'a') + "</Code>", "Code"),
            std::nullopt);
  // Beyond the scan limit: not found, and no overread.
  std::string big(kMaxXmlBytes, ' ');
  big += "<Code>X</Code>";
  EXPECT_EQ(XmlText(big, "Code"), std::nullopt);
  std::string nul("<Code>a\0b</Code>", 16);
  EXPECT_EQ(XmlText(nul, "Code")->size(), 3u);
  EXPECT_EQ(XmlErrorSummary("<Code>a\nb</Code>"), "a b");
  EXPECT_EQ(XmlText("<a>1</a>", ""), std::nullopt);
}

TEST(S3Xml, Escape) {
  EXPECT_EQ(XmlEscape("\"e&t<>\""), "&quot;e&amp;t&lt;&gt;&quot;");
}

}  // namespace
}  // namespace luksfs::fs
