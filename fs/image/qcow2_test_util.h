// Helpers for the qcow2 unit tests: images made by qemu-img/qemu-io at test
// time, the qemu-img convert oracle, and a small reader/writer that drives
// a BlockMap the way Volume does (decrypt/encrypt each extent with the
// engine, one storage call per extent).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/crypt_engine.h"
#include "crypto/keyslot_unlock.h"
#include "crypto/luks_header.h"
#include "fs/image/container.h"
#include "fs/image/qcow2_container.h"
#include "fs/storage/file_storage.h"

namespace luksfs::fs::testing {

inline const char* kSecretObj = "--object secret,id=sec0,data=PASS";

// Runs a shell command; returns its exit status (stdout/stderr discarded
// unless `out` is given).
inline int Sh(const std::string& cmd, std::string* out = nullptr) {
  std::string full = cmd + (out ? " 2>&1" : " >/dev/null 2>&1");
  FILE* p = popen(full.c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
    if (out) out->append(buf, n);
  }
  const int rc = pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/luksfs-qcow2-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { Sh("rm -rf '" + path_ + "'"); }
  std::string operator/(const std::string& n) const { return path_ + "/" + n; }

 private:
  std::string path_;
};

inline std::string ImageOpts(const std::string& img) {
  return "driver=qcow2,file.filename=" + img + ",encrypt.key-secret=sec0";
}

// qemu-img create -f qcow2 with LUKS and extra -o options ("" or
// "cluster_size=512,refcount_bits=1"). qemu benchmarks PBKDF2 for every
// create (seconds on a loaded machine), so each (size, options) is created
// once per test process and copied.
inline void MakeImage(const std::string& img, const std::string& size,
                      const std::string& opts) {
  static TempDir templates;  // removed at exit
  static std::map<std::string, std::string> made;
  static std::mutex mu;
  std::lock_guard<std::mutex> l(mu);
  const std::string key = size + "," + opts;
  auto it = made.find(key);
  if (it == made.end()) {
    const std::string tmpl = templates / ("t" + std::to_string(made.size()));
    const std::string cmd =
        std::string("qemu-img create -q -f qcow2 ") + kSecretObj +
        " -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10" +
        (opts.empty() ? "" : "," + opts) + " " + tmpl + " " + size;
    // qemu's iter-time benchmark fails now and then on a loaded machine
    // ("Unable to get accurate CPU usage"): retry.
    std::string out;
    int rc = -1;
    for (int i = 0; i < 30 && rc != 0; ++i) {
      out.clear();
      rc = Sh(cmd, &out);
    }
    ASSERT_EQ(0, rc) << cmd << "\n" << out;
    it = made.emplace(key, tmpl).first;
  }
  ASSERT_EQ(0, Sh("cp --sparse=always '" + it->second + "' '" + img + "'"));
}

// qemu-io commands, e.g. {"write -P 0x41 0 4k", "write -z 1M 64k"}.
inline void QemuIo(const std::string& img,
                   const std::vector<std::string>& cmds) {
  std::string cmd = std::string("qemu-io ") + kSecretObj + " --image-opts " +
                    ImageOpts(img);
  for (const std::string& c : cmds) cmd += " -c '" + c + "'";
  std::string out;
  ASSERT_EQ(0, Sh(cmd, &out)) << cmd << "\n" << out;
}

// qemu-img convert -O raw (the oracle).
inline std::vector<uint8_t> ConvertToRaw(const std::string& img,
                                         const std::string& raw) {
  const std::string cmd = std::string("qemu-img convert ") + kSecretObj +
                          " --image-opts " + ImageOpts(img) + " -O raw " + raw;
  std::string out;
  EXPECT_EQ(0, Sh(cmd, &out)) << cmd << "\n" << out;
  std::ifstream f(raw, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// qemu-img check exit code: 0 clean, 2 corruption, 3 leaks.
inline int QemuCheck(const std::string& img, std::string* out) {
  return Sh(std::string("qemu-img check ") + kSecretObj + " --image-opts " +
                ImageOpts(img),
            out);
}

inline std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// An opened qcow2+LUKS image: storage, container, header, engine, map.
struct Opened {
  std::unique_ptr<FileStorage> storage;
  std::unique_ptr<Container> container;
  crypto::LuksHeader header;
  std::unique_ptr<crypto::CryptEngine> engine;
  std::unique_ptr<BlockMap> map;

  // The map (which flushes when destroyed) before the storage it borrows.
  void Reset() {
    map.reset();
    engine.reset();
    container.reset();
    storage.reset();
  }
  ~Opened() { Reset(); }
};

inline Status OpenImage(const std::string& img, bool writable, Opened* o,
                        uint64_t cache_bytes = 0) {
  LUKSFS_ASSIGN_OR_RETURN(o->storage, FileStorage::Open(img, writable));
  ContainerOptions copts;
  copts.metadata_cache_bytes = cache_bytes;
  LUKSFS_ASSIGN_OR_RETURN(o->container,
                          OpenQcow2(o->storage.get(), writable, copts));
  Container* c = o->container.get();
  crypto::ReadFn read = [c](uint64_t off, std::span<uint8_t> dst) {
    return c->ReadLuks(off, dst);
  };
  LUKSFS_ASSIGN_OR_RETURN(o->header,
                          crypto::ReadLuksHeader(read, c->luks_region_size()));
  const std::string pass = "PASS";
  LUKSFS_ASSIGN_OR_RETURN(
      crypto::UnlockedKey key,
      crypto::UnlockKeyslot(
          o->header, read,
          std::span<const uint8_t>(
              reinterpret_cast<const uint8_t*>(pass.data()), pass.size()),
          std::nullopt, crypto::UnlockLimits()));
  crypto::EngineOptions eo;
  eo.threads = 1;
  LUKSFS_ASSIGN_OR_RETURN(
      o->engine,
      crypto::CryptEngine::Create(o->header.segments[0].encryption,
                                  key.volume_key.span(),
                                  o->header.segments[0].sector_size, eo));
  LUKSFS_ASSIGN_OR_RETURN(o->map, c->OpenMap(o->header, writable));
  return Status();
}

// Plaintext of [off, off+len) through the map (off, len unit-aligned).
inline Status ReadView(Opened& o, uint64_t off, uint64_t len,
                       std::vector<uint8_t>* out) {
  out->assign(len, 0);
  std::vector<Extent> ex;
  LUKSFS_RETURN_IF_ERROR(o.map->Map(off, len, &ex));
  for (const Extent& e : ex) {
    if (e.kind != Extent::Kind::kData) continue;
    std::vector<uint8_t> buf(e.length);
    LUKSFS_RETURN_IF_ERROR(o.storage->ReadAt(e.host_offset, buf));
    LUKSFS_RETURN_IF_ERROR(o.engine->Decrypt(e.iv_sector, buf, buf));
    const uint64_t a = std::max(e.guest_offset, off);
    const uint64_t b = std::min(e.guest_offset + e.length, off + len);
    std::copy(buf.begin() + (a - e.guest_offset),
              buf.begin() + (b - e.guest_offset), out->begin() + (a - off));
  }
  return Status();
}

// Writes `data` at `off` (any alignment) as Volume does: PrepareWrite,
// fresh extents written whole (request bytes, encrypted zeros elsewhere),
// in-place extents read-modify-written per extent, CommitWrite.
inline Status WriteView(Opened& o, uint64_t off,
                        std::span<const uint8_t> data) {
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<WritePlan> plan,
                          o.map->PrepareWrite(off, data.size()));
  for (const Extent& e : plan->extents) {
    std::vector<uint8_t> buf(e.length, 0);
    if (!e.fresh) {
      LUKSFS_RETURN_IF_ERROR(o.storage->ReadAt(e.host_offset, buf));
      LUKSFS_RETURN_IF_ERROR(o.engine->Decrypt(e.iv_sector, buf, buf));
    }
    const uint64_t a = std::max(e.guest_offset, off);
    const uint64_t b = std::min(e.guest_offset + e.length, off + data.size());
    if (a < b) {
      std::copy(data.begin() + (a - off), data.begin() + (b - off),
                buf.begin() + (a - e.guest_offset));
    }
    LUKSFS_RETURN_IF_ERROR(o.engine->Encrypt(e.iv_sector, buf, buf));
    LUKSFS_RETURN_IF_ERROR(o.storage->WriteAt(e.host_offset, buf));
  }
  return o.map->CommitWrite(std::move(plan));
}

}  // namespace luksfs::fs::testing
