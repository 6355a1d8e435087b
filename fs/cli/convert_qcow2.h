// `luksfs convert SRC DST -O qcow2|qcow2-plain`: the qcow2 destinations of
// convert (fs/cli/cmd_convert.cc opens SRC and hands over). The pipeline
// is fs/prep/convert with a fs/prep/qcow2_target; the metadata is written
// once, after the data.
//
// Exit codes as convert: 0 done, 1 usage, 2 no key, 3 bad image,
// 4 storage, 130 interrupted (no DST left).
#pragma once

#include "common/secure_buffer.h"
#include "fs/cli/options.h"
#include "fs/prep/plain_image.h"

namespace luksfs::cli {

// `src` is open (and unlocked); `src_pass` is SRC's passphrase, if it had
// one (the default DST secret for qcow2+LUKS), wiped before return.
int RunConvertToQcow2(const Command& cmd, fs::prep::PlainImage& src,
                      SecureBuffer& src_pass);

}  // namespace luksfs::cli
