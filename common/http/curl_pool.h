// CurlPool: reusable libcurl easy handles, so that requests reuse kept-alive
// connections. A Lease returns its handle to the pool when destroyed (RAII);
// the handle is curl_easy_reset() before reuse, which keeps its connection.
// Used only by the transport (common/http/http_transport.h).
//
// Thread-safety: Acquire() may be called from any thread; a Lease belongs to
// one thread at a time.
// Errors: Acquire() fails with kInternal if libcurl cannot be initialised,
// kResourceExhausted if curl_easy_init fails.
#pragma once

#include <curl/curl.h>

#include <mutex>
#include <vector>

#include "common/result.h"

namespace luksfs::http {

// curl_global_init, once per process. Errors: kInternal.
Status CurlGlobalInit();

class CurlPool {
 public:
  // Keeps at most `max_idle` idle handles; more are freed when returned.
  explicit CurlPool(size_t max_idle = 16);
  ~CurlPool();
  CurlPool(const CurlPool&) = delete;
  CurlPool& operator=(const CurlPool&) = delete;

  class Lease {
   public:
    Lease(CurlPool* pool, CURL* h) : pool_(pool), h_(h) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), h_(o.h_) { o.h_ = nullptr; }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();
    CURL* get() const { return h_; }
    // The connection may be broken: free the handle instead of pooling it.
    void Discard();

   private:
    CurlPool* pool_;
    CURL* h_;
  };

  Result<Lease> Acquire();

 private:
  void Return(CURL* h);

  const size_t max_idle_;
  // mu_ guards idle_. Leaf lock; never held across curl calls except reset.
  std::mutex mu_;
  std::vector<CURL*> idle_;
};

}  // namespace luksfs::http
