#pragma once
// The autodistill subcommands. Each writes its result to stdout (a table, or
// JSON with --json), reports a failed request as
// "autodistill: CODE: message (field: f)" on stderr, and returns the exit
// code (cli/exit_codes.hpp).

#include <string>

#include "args.hpp"
#include "autodistill/client.hpp"

namespace autodistill::cli {

int run_command(const Invocation& invocation, Client& client);

// A request failed: reports it on stderr, returns its exit code.
int fail(const Status& status);

// The command line is wrong: reports it, returns 2.
int usage_error(const std::string& message);

// The contents of the file at `path`; kNotFound naming `flag` otherwise.
Result<std::string> read_text(const std::string& path, const std::string& flag);

}  // namespace autodistill::cli
