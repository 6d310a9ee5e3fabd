// autodistill: the command-line client of autodistilld (docs/cli.md).

#include <cstdlib>
#include <iostream>
#include <string_view>

#include "args.hpp"
#include "autodistill/client.hpp"
#include "autodistill/version.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"

namespace {

int run(int argc, char** argv) {
  using namespace autodistill;
  // Before the arguments parse: a usage error in --json mode is JSON too.
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--json") cli::set_json_errors(true);
  }
  auto invocation = cli::parse_args(argc, argv);
  if (!invocation) return cli::usage_error(invocation.status());
  if (invocation->help) {
    std::cout << (invocation->command.empty() ? cli::usage_text()
                                              : cli::command_usage_text(invocation->command));
    return cli::kExitOk;
  }
  if (invocation->version) {
    std::cout << version_line("autodistill");
    return cli::kExitOk;
  }
  ClientOptions options;
  if (!invocation->global.endpoint.empty()) options.endpoint = invocation->global.endpoint;
  if (invocation->global.timeout_ms > 0) options.request_timeout_ms = invocation->global.timeout_ms;
  auto from_env = [](const std::string& flag, const char* name) {
    const char* env = std::getenv(name);
    return !flag.empty() ? flag : env ? std::string(env) : std::string();
  };
  options.server_key_file = from_env(invocation->global.server_key_file, "AUTODISTILL_SERVER_KEY");
  options.key_file = from_env(invocation->global.key_file, "AUTODISTILL_KEY_FILE");
  Client client(options);
  return cli::run_command(*invocation, client);
}

}  // namespace

int main(int argc, char** argv) {
  // Every input error is a Status with a documented exit code; this is the
  // last line of defence, so that nothing ever ends in abort() (exit 134).
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    return autodistill::cli::unexpected(e);
  }
}
