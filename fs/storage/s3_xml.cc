#include "fs/storage/s3_xml.h"

namespace luksfs::fs {

namespace {

std::optional<std::string> Unescape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '<') return std::nullopt;  // nested markup: not a text value
    if (v[i] != '&') {
      out.push_back(v[i]);
      continue;
    }
    static const struct { std::string_view ent; char c; } kEnt[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
        {"&apos;", '\''}};
    bool matched = false;
    for (const auto& e : kEnt) {
      if (v.substr(i, e.ent.size()) == e.ent) {
        out.push_back(e.c);
        i += e.ent.size() - 1;
        matched = true;
        break;
      }
    }
    if (!matched) return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<std::string> XmlText(std::string_view xml, std::string_view tag) {
  if (tag.empty()) return std::nullopt;
  xml = xml.substr(0, std::min(xml.size(), kMaxXmlBytes));
  size_t pos = 0;
  while (true) {
    const size_t lt = xml.find('<', pos);
    if (lt == std::string_view::npos) return std::nullopt;
    pos = lt + 1;
    if (xml.substr(pos, tag.size()) != tag) continue;
    const size_t after = pos + tag.size();
    if (after >= xml.size()) return std::nullopt;
    const char c = xml[after];
    if (c != '>' && c != ' ' && c != '/' && c != '\t' && c != '\n') continue;
    const size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) return std::nullopt;
    if (xml[gt - 1] == '/') return std::string();  // <Tag/>
    const std::string close = "</" + std::string(tag) + ">";
    const size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view v = xml.substr(gt + 1, end - gt - 1);
    if (v.size() > kMaxXmlValue) return std::nullopt;
    return Unescape(v);
  }
}

std::string XmlErrorSummary(std::string_view xml) {
  auto code = XmlText(xml, "Code");
  if (!code) return "";
  std::string out = *code;
  auto msg = XmlText(xml, "Message");
  if (msg && !msg->empty()) out += ": " + msg->substr(0, 300);
  for (char& ch : out) {
    if (static_cast<unsigned char>(ch) < 0x20) ch = ' ';
  }
  return out;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

}  // namespace luksfs::fs
