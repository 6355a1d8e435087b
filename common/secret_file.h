// Reading a secret (passphrase, key file, token, password) from a file, a
// descriptor or standard input: the one reader of the project.
//
// The secret goes straight into locked memory (SecureBuffer); the growing
// buffer is wiped as it is replaced. PATH "-" is standard input. The line
// formats read a terminal, pipe or socket one byte at a time, so nothing
// after the first newline is consumed (the rest of stdin stays for others).
//
// Errors, the same words for every caller (WHAT names the file's role, for
// example "passphrase file"; LABEL below is "WHAT 'PATH'", or "WHAT on
// standard input"):
//   kNotFound          "LABEL does not exist"
//   kIOError           "cannot open LABEL: <strerror>", "cannot read LABEL: <strerror>"
//   kInvalidArgument   "LABEL is longer than N bytes"
//   kResourceExhausted no locked memory
// An empty result is not an error here: callers that refuse an empty
// secret say so in their own words.
// Thread-safety: the functions share no state.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/secure_buffer.h"

namespace luksfs {

enum class SecretFormat {
  kFirstLine,      // the first line, without its '\n' (cryptsetup's
                   // passphrase-file rule: nothing else is stripped)
  kFirstLineCrlf,  // the first line without "\n" or "\r\n"
  kWhole,          // every byte, newlines included (a key file)
};

// Reads PATH ("-": standard input). MAX_BYTES bounds the result.
Result<SecureBuffer> ReadSecretFile(const std::string& path,
                                    std::string_view what,
                                    SecretFormat format, size_t max_bytes);

// Reads from an open descriptor (not closed); LABEL names it in errors.
Result<SecureBuffer> ReadSecretFd(int fd, const std::string& label,
                                  SecretFormat format, size_t max_bytes);

}  // namespace luksfs
