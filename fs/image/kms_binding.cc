#include "fs/image/kms_binding.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "crypto/base64.h"

namespace luksfs::fs {

using Json = nlohmann::ordered_json;

std::string BindingToJson(const KmsBinding& b) {
  Json j;
  j["type"] = kKmsTokenType;
  j["keyslots"] = Json::array({std::to_string(b.keyslot)});
  j["version"] = 1;
  j["kms"] = b.kms;
  j["key_id"] = b.key_id;
  j["wrapped"] = crypto::Base64Encode(b.wrapped);
  j["created"] = b.created;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<KmsBinding> BindingFromJson(const std::string& text) {
  Json j = Json::parse(text, nullptr, false);
  auto bad = [](const std::string& what) {
    return Status::Corruption("luksfs-kms binding: " + what);
  };
  if (j.is_discarded() || !j.is_object()) return bad("not a JSON object");
  auto str = [&](const char* k) -> std::optional<std::string> {
    if (!j.contains(k) || !j[k].is_string()) return std::nullopt;
    return j[k].get<std::string>();
  };
  if (str("type") != std::string(kKmsTokenType)) return bad("wrong type");
  if (!j.contains("version") || !j["version"].is_number_integer() ||
      j["version"].get<int>() != 1) {
    return bad("unsupported version");
  }
  KmsBinding b;
  if (!j.contains("keyslots") || !j["keyslots"].is_array() ||
      j["keyslots"].size() != 1 || !j["keyslots"][0].is_string()) {
    return bad("needs exactly one keyslot");
  }
  const std::string slot = j["keyslots"][0].get<std::string>();
  if (slot.empty() || slot.size() > 2 ||
      slot.find_first_not_of("0123456789") != std::string::npos) {
    return bad("bad keyslot '" + slot + "'");
  }
  b.keyslot = std::stoi(slot);
  auto kms = str("kms");
  auto wrapped = str("wrapped");
  if (!kms || kms->empty()) return bad("no kms URI");
  if (!wrapped) return bad("no wrapped passphrase");
  b.kms = *kms;
  b.key_id = str("key_id").value_or("");
  b.created = str("created").value_or("");
  auto blob = crypto::Base64Decode(*wrapped);
  if (!blob.ok()) return bad("wrapped passphrase is not base64");
  b.wrapped = std::move(blob).value();
  return b;
}

std::string SidecarPath(const std::string& image) {
  return image + ".luksfs-kms";
}

std::string NowRfc3339() {
  char buf[32];
  std::time_t now = std::time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace luksfs::fs
