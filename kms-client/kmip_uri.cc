// kmip:// URI parsing and printing (see kmip_client.h).

#include <cctype>

#include "kms-client/kmip_client.h"

namespace luksfs::kms {
namespace {

constexpr std::string_view kScheme = "kmip://";

Status BadUri(const std::string& what) {
  return Status::InvalidArgument(what +
                                 " (expected kmip://HOST[:PORT][,HOST[:PORT]"
                                 "...]/KEY-UID[?mode=server|local])");
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) {
      return BadUri("bad percent-escape in the key id");
    }
    out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
    i += 2;
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<Endpoint> ParseEndpoint(std::string_view s) {
  Endpoint ep;
  ep.port = kKmipDefaultPort;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    const size_t close = s.find(']');
    if (close == std::string_view::npos) return BadUri("unclosed '[' in host");
    ep.host = std::string(s.substr(1, close - 1));
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return BadUri("junk after ']' in host");
      port = rest.substr(1);
      if (port.empty()) return BadUri("empty port");
    }
  } else {
    const size_t colon = s.rfind(':');
    if (colon != std::string_view::npos) {
      if (s.find(':') != colon) {
        return BadUri("IPv6 address must be in brackets");
      }
      port = s.substr(colon + 1);
      if (port.empty()) return BadUri("empty port");
      s = s.substr(0, colon);
    }
    ep.host = std::string(s);
  }
  if (ep.host.empty()) return BadUri("empty host");
  for (unsigned char c : ep.host) {
    if (!(std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == ':' ||
          c == '%')) {
      return BadUri("bad character in host '" + ep.host + "'");
    }
  }
  if (!port.empty()) {
    unsigned long v = 0;
    for (char c : port) {
      if (c < '0' || c > '9' || v > 65535) return BadUri("bad port");
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    if (v == 0 || v > 65535) return BadUri("port out of range");
    ep.port = static_cast<uint16_t>(v);
  }
  return ep;
}

}  // namespace

Result<KmipUri> ParseKmipUri(std::string_view uri) {
  if (uri.substr(0, kScheme.size()) != kScheme) {
    return BadUri("must start with kmip://");
  }
  std::string_view rest = uri.substr(kScheme.size());
  if (rest.find('#') != std::string_view::npos) {
    return BadUri("a fragment ('#') is not allowed");
  }
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  std::string_view path;
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  KmipUri out;
  if (authority.empty()) return BadUri("no server");
  size_t start = 0;
  while (start <= authority.size()) {
    size_t comma = authority.find(',', start);
    if (comma == std::string_view::npos) comma = authority.size();
    LUKSFS_ASSIGN_OR_RETURN(
        Endpoint ep, ParseEndpoint(authority.substr(start, comma - start)));
    out.endpoints.push_back(std::move(ep));
    if (out.endpoints.size() > 16) return BadUri("more than 16 servers");
    start = comma + 1;
  }
  LUKSFS_ASSIGN_OR_RETURN(out.key_id, PercentDecode(path));
  if (out.key_id.size() > 256) return BadUri("key id longer than 256 bytes");
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view()
                                          : query.substr(amp + 1);
    if (kv == "mode=server") {
      out.mode = KmipMode::kServer;
    } else if (kv == "mode=local") {
      out.mode = KmipMode::kLocal;
    } else {
      return BadUri("unknown query parameter '" + std::string(kv) + "'");
    }
    out.mode_given = true;
  }
  return out;
}

std::string KmipUri::WithKey(std::string_view key) const {
  std::string out(kScheme);
  for (size_t i = 0; i < endpoints.size(); ++i) {
    if (i > 0) out += ',';
    out += endpoints[i].ToString();
  }
  out += '/';
  out += PercentEncode(key);
  if (mode_given) {
    out += mode == KmipMode::kLocal ? "?mode=local" : "?mode=server";
  }
  return out;
}

}  // namespace luksfs::kms
