#include "fs/cli/created_key.h"

#include <iostream>

namespace luksfs::cli {

void CreatedKeyGuard::Cleanup() {
  armed_ = false;
  auto client = kms::OpenKms(uri_, options_);
  Status s = client.ok() ? (*client)->Destroy() : client.status();
  if (s.ok()) {
    std::cerr << "luksfs: " << verb_ << " failed; the root key it created (" << uri_
              << ") was destroyed again\n";
  } else {
    std::cerr << "luksfs: " << verb_ << " failed, and the root key it created ("
              << uri_ << ") could not be destroyed: " << s.message() << "\n";
  }
}

}  // namespace luksfs::cli
