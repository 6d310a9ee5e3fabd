#pragma once
// Command-line parsing for the autodistill CLI: global flags (anywhere on
// the line), one subcommand, its flags and positional arguments. Flags take
// "--flag VALUE" or "--flag=VALUE". Errors are usage errors (exit code 2).

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
  bool help = false;    // --help / -h / `help`: print the usage and exit 0
  std::string command;  // "submit", "get", ...
  std::vector<std::string> positionals;
  std::map<std::string, std::string> values;  // "--key" -> "K"
  std::set<std::string> switches;             // "--wait"

  std::optional<std::string> value(const std::string& flag) const;
  bool has(const std::string& flag) const { return switches.count(flag) != 0; }
};

// Parses argv[1..]; a usage problem is kInvalidArgument naming the argument.
Result<Invocation> parse_args(int argc, char** argv);

// A decimal id / count; kInvalidArgument naming `what` otherwise.
Result<uint64_t> parse_number(const std::string& text, const std::string& what);

// The full --help text, including the exit codes.
const char* usage_text();

}  // namespace autodistill::cli
