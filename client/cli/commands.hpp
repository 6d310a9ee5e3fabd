#pragma once
// The autodistill subcommands. Each writes its result to stdout (a table, or
// JSON with --json), reports a failed request as
// "autodistill: CODE: message (field: f)" on stderr, and returns the exit
// code (cli/exit_codes.hpp).

#include <exception>
#include <string>

#include "args.hpp"
#include "autodistill/client.hpp"

namespace autodistill::cli {

int run_command(const Invocation& invocation, Client& client);

// With --json, errors are also written to stdout as one JSON line,
// {"error": {"code", "message", "field"}, "exit_code": n} (docs/cli.md), so
// a pipeline reading stdout always gets JSON. Set before any command runs.
void set_json_errors(bool on);

// A request failed: reports it on stderr (and stdout with --json), returns
// its exit code.
int fail(const Status& status);

// The command line is wrong: reports it (with --json as JSON naming the
// `field` at fault, e.g. "--budget" or "ID"), returns 2.
int usage_error(const std::string& message, const std::string& field = {});
int usage_error(const Status& status);

// Anything thrown out of a command (a bug: every input error is a Status):
// reported as INTERNAL, exit 1, never an abort.
int unexpected(const std::exception& e);

// The contents of the file at `path` (at most 16 MiB: it is JSON to parse);
// kNotFound or kInvalidArgument naming `flag` otherwise.
Result<std::string> read_text(const std::string& path, const std::string& flag);

// `value` as one line of --json output; bytes that are not UTF-8 (a path, a
// daemon's string) become U+FFFD instead of throwing.
template <class Json>
std::string json_line(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace autodistill::cli
