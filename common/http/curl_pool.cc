#include "common/http/curl_pool.h"

namespace luksfs::http {

Status CurlGlobalInit() {
  static std::once_flag once;
  static CURLcode rc = CURLE_OK;
  std::call_once(once, [] { rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (rc != CURLE_OK) return Status::Internal("curl_global_init failed");
  return Status::Ok();
}

CurlPool::CurlPool(size_t max_idle) : max_idle_(max_idle) {}

CurlPool::~CurlPool() {
  for (CURL* h : idle_) curl_easy_cleanup(h);
}

Result<CurlPool::Lease> CurlPool::Acquire() {
  LUKSFS_RETURN_IF_ERROR(CurlGlobalInit());
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!idle_.empty()) {
      CURL* h = idle_.back();
      idle_.pop_back();
      return Lease(this, h);
    }
  }
  CURL* h = curl_easy_init();
  if (h == nullptr) return Status::ResourceExhausted("curl_easy_init failed");
  return Lease(this, h);
}

void CurlPool::Return(CURL* h) {
  curl_easy_reset(h);
  std::lock_guard<std::mutex> l(mu_);
  if (idle_.size() < max_idle_) {
    idle_.push_back(h);
    return;
  }
  curl_easy_cleanup(h);
}

CurlPool::Lease::~Lease() {
  if (h_ != nullptr) pool_->Return(h_);
}

void CurlPool::Lease::Discard() {
  if (h_ != nullptr) curl_easy_cleanup(h_);
  h_ = nullptr;
}

}  // namespace luksfs::http
