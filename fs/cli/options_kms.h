// The KMS part of the command line: the options every KMS-using command
// shares, and the verbs bind, unbind, shred, wrap, unwrap, rewrap and kms.
// Used only by options.cc.
#pragma once

#include <boost/program_options.hpp>
#include <string>

#include "fs/cli/options.h"

namespace luksfs::cli {

bool IsKmsVerb(const std::string& verb);

// --kms URI and the credentials/trust options (--kms-ca, --kms-cert, ...).
boost::program_options::options_description KmsDesc();
// mount only: --kms-poll, --kms-grace, --on-revoke, --audit-log.
boost::program_options::options_description KmsMountDesc();

// Declares the verb's own options and operands.
void AddKmsVerbOptions(const std::string& verb,
                       boost::program_options::options_description* visible,
                       boost::program_options::options_description* hidden,
                       boost::program_options::positional_options_description* pos);

// Fills cmd->kms from vm; "" or a usage error.
std::string ReadKms(const boost::program_options::variables_map& vm,
                    KmsConfig* kms);

// Fills the verb-specific fields of cmd (kind, image, files, kms_verb).
std::string ReadKmsVerb(const std::string& verb,
                        const boost::program_options::variables_map& vm,
                        Command* cmd);

}  // namespace luksfs::cli
