#pragma once
// Command-line parsing for the autodistill CLI: global flags (anywhere on
// the line), one subcommand, its flags and positional arguments. Flags take
// "--flag VALUE" or "--flag=VALUE". Errors are usage errors (exit code 2).
// The parsing is autodistill::FlagParser's, as in every other binary.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::cli {

struct GlobalOptions {
  std::string endpoint;         // --endpoint; empty = $AUTODISTILL_ENDPOINT or the client default
  bool json = false;            // --json
  int timeout_ms = 0;           // --timeout-ms; 0 = the client default
  std::string server_key_file;  // --server-key; empty = $AUTODISTILL_SERVER_KEY or no CURVE
  std::string key_file;         // --key-file; empty = $AUTODISTILL_KEY_FILE
};

struct Invocation {
  GlobalOptions global;
  bool help = false;     // --help / -h / `help [COMMAND]`: print the usage and exit 0
  bool version = false;  // --version: print the version and exit 0
  std::string command;   // "submit", "get", ...
  std::vector<std::string> positionals;
  std::map<std::string, std::string> values;  // "--key" -> "K"
  std::set<std::string> switches;             // "--wait"

  std::optional<std::string> value(const std::string& flag) const;
  bool has(const std::string& flag) const { return switches.count(flag) != 0; }
};

// Parses argv[1..] with the shared FlagParser: the global flags anywhere,
// the subcommand's own flags and exactly its positional arguments. A usage
// problem is kInvalidArgument naming the flag or argument at fault (an
// unknown `--budgett`, a missing `ID`).
Result<Invocation> parse_args(int argc, char** argv);

// A decimal id / count; kInvalidArgument naming `what` otherwise.
Result<uint64_t> parse_number(const std::string& text, const std::string& what);

// The full --help text, including the exit codes.
std::string usage_text();
// One command's --help text (`autodistill distill --help`): its synopsis,
// what it does, the global options and the exit codes.
std::string command_usage_text(const std::string& command);

}  // namespace autodistill::cli
