// The image preparation part of the command line: the verbs create,
// convert and compare. Used only by options.cc.
#pragma once

#include <boost/program_options.hpp>
#include <string>

#include "fs/cli/options.h"

namespace luksfs::cli {

bool IsPrepVerb(const std::string& verb);

// Declares the verb's options and operands.
void AddPrepVerbOptions(const std::string& verb,
                        boost::program_options::options_description* visible,
                        boost::program_options::options_description* hidden,
                        boost::program_options::positional_options_description* pos);

// Fills cmd (kind, prep, secret, kms) from vm; "" or a usage error.
std::string ReadPrepVerb(const std::string& verb,
                         const boost::program_options::variables_map& vm,
                         Command* cmd);

}  // namespace luksfs::cli
