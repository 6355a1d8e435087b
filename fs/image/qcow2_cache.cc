#include "fs/image/qcow2_cache.h"

#include <algorithm>

namespace luksfs::fs::qcow2 {

MetadataCache::MetadataCache(uint64_t table_bytes, uint64_t capacity_bytes)
    : table_bytes_(table_bytes),
      capacity_(std::max(capacity_bytes, 2 * table_bytes)) {}

Result<MetadataCache::Table*> MetadataCache::Get(uint64_t offset,
                                                 const LoadFn& load) {
  auto it = tables_.find(offset);
  if (it != tables_.end()) {
    it->second->last_use = ++clock_;
    return it->second.get();
  }
  auto t = std::make_unique<Table>();
  t->offset = offset;
  t->bytes.resize(table_bytes_);
  LUKSFS_RETURN_IF_ERROR(load(offset, t->bytes));
  t->last_use = ++clock_;
  Table* raw = t.get();
  tables_.emplace(offset, std::move(t));
  return raw;
}

MetadataCache::Table* MetadataCache::Insert(uint64_t offset) {
  auto& slot = tables_[offset];
  if (!slot) slot = std::make_unique<Table>();
  slot->offset = offset;
  slot->bytes.assign(table_bytes_, 0);
  slot->last_use = ++clock_;
  MarkDirty(slot.get());
  return slot.get();
}

void MetadataCache::MarkDirty(Table* t) {
  if (!t->dirty) {
    t->dirty = true;
    ++dirty_count_;
  }
}

Status MetadataCache::WriteDirty(const StoreFn& store, size_t* written) {
  std::vector<Table*> dirty;
  for (auto& [off, t] : tables_) {
    if (t->dirty) dirty.push_back(t.get());
  }
  std::sort(dirty.begin(), dirty.end(),
            [](const Table* a, const Table* b) { return a->offset < b->offset; });
  for (Table* t : dirty) {
    LUKSFS_RETURN_IF_ERROR(store(t->offset, t->bytes));
    t->dirty = false;
    --dirty_count_;
  }
  if (written) *written = dirty.size();
  return Status();
}

void MetadataCache::Trim() {
  if (tables_.size() * table_bytes_ <= capacity_) return;
  std::vector<Table*> clean;
  for (auto& [off, t] : tables_) {
    if (!t->dirty) clean.push_back(t.get());
  }
  std::sort(clean.begin(), clean.end(), [](const Table* a, const Table* b) {
    return a->last_use < b->last_use;
  });
  for (Table* t : clean) {
    if (tables_.size() * table_bytes_ <= capacity_) break;
    tables_.erase(t->offset);
  }
}

}  // namespace luksfs::fs::qcow2
