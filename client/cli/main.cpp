// autodistill: the command-line client of autodistilld (docs/cli.md).

#include <cstdlib>
#include <iostream>

#include "args.hpp"
#include "autodistill/client.hpp"
#include "commands.hpp"
#include "exit_codes.hpp"

int main(int argc, char** argv) {
  using namespace autodistill;
  auto invocation = cli::parse_args(argc, argv);
  if (!invocation) {
    std::cerr << "autodistill: " << invocation.status().message()
              << "\nrun 'autodistill --help' for usage\n";
    return cli::kExitUsage;
  }
  if (invocation->help) {
    std::cout << cli::usage_text();
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
