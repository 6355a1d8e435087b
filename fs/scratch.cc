#include "fs/scratch.h"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "common/secure_buffer.h"

namespace luksfs::fs {

namespace {

struct Buffer {
  uint8_t* data = nullptr;
  size_t size = 0;
};

struct ThreadBuffers;

// g_mu guards g_threads and the data/size of every registered buffer
// against concurrent wiping and freeing; held only for bookkeeping and
// wiping, never during I/O or crypto.
std::mutex g_mu;
std::vector<ThreadBuffers*>* g_threads = new std::vector<ThreadBuffers*>;

struct ThreadBuffers {
  Buffer slots[2];
  ThreadBuffers() {
    std::lock_guard<std::mutex> lock(g_mu);
    g_threads->push_back(this);
  }
  ~ThreadBuffers() {
    std::lock_guard<std::mutex> lock(g_mu);
    g_threads->erase(std::find(g_threads->begin(), g_threads->end(), this));
    for (Buffer& b : slots) {
      SecureWipe(b.data, b.size);
      std::free(b.data);
    }
  }
};

}  // namespace

std::span<uint8_t> ThreadScratch(ScratchSlot slot, size_t bytes) {
  thread_local ThreadBuffers mine;
  Buffer& b = mine.slots[static_cast<int>(slot)];
  if (b.size < bytes) {
    const size_t size = (bytes + 4095) / 4096 * 4096;
    void* p = std::aligned_alloc(4096, size);
    if (p == nullptr) throw std::bad_alloc();
    std::lock_guard<std::mutex> lock(g_mu);
    SecureWipe(b.data, b.size);
    std::free(b.data);
    b.data = static_cast<uint8_t*>(p);
    b.size = size;
  }
  return {b.data, bytes};
}

void WipeAllScratch() {
  std::lock_guard<std::mutex> lock(g_mu);
  for (ThreadBuffers* t : *g_threads) {
    for (Buffer& b : t->slots) SecureWipe(b.data, b.size);
  }
}

}  // namespace luksfs::fs
