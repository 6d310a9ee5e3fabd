#pragma once
// The autodistill subcommands. Each writes its result to stdout (a table, or
// JSON with --json), reports a failed request as
// "autodistill: CODE: message (field: f)" on stderr, and returns the exit
// code (cli/exit_codes.hpp).

#include "args.hpp"
#include "autodistill/client.hpp"

namespace autodistill::cli {

int run_command(const Invocation& invocation, Client& client);

}  // namespace autodistill::cli
