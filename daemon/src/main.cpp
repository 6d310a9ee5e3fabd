// autodistilld: defaults -> config file -> command line -> start (lock the
// data directory, migrate, recover) -> READY -> serve -> SIGTERM -> flush -> 0.
#include <cstdio>
#include <string>
#include <vector>

#include "autodistill/daemon/daemon.hpp"
#include "autodistill/log.hpp"
#include "autodistill/version.hpp"

int main(int argc, char** argv) {
  using namespace autodistill::daemon;
  autodistill::set_log_program("autodistilld");
  std::vector<std::string> args(argv + 1, argv + argc);
  auto cl = parse_command_line(args);
  if (!cl) {
    std::fprintf(stderr, "autodistilld: %s\n", cl.status().to_string().c_str());
    return 2;
  }
  if (cl->help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (cl->version) {
    std::fputs(autodistill::version_line("autodistilld").c_str(), stdout);
    return 0;
  }
  if (cl->print_config) {
    std::fputs(cl->config.render().c_str(), stdout);
    return 0;
  }
  if (cl->reload_pid > 0) {
    auto s = request_reload(cl->reload_pid, cl->config.data_dir);
    if (!s) {
      std::fprintf(stderr, "autodistilld: %s\n", s.to_string().c_str());
      return 1;
    }
    return 0;
  }
  // Before the first thread (the Daemon's ZeroMQ context) starts: every
  // thread inherits the mask and run() reads the signals from a signalfd.
  if (auto s = block_daemon_signals(); !s) {
    std::fprintf(stderr, "autodistilld: %s\n", s.to_string().c_str());
    return 1;
  }
  DaemonOptions options;
  options.handle_signals = true;
  options.notify_systemd = true;
  // SIGHUP re-parses the same command line, which re-reads the config file.
  options.reload = [args]() -> autodistill::Result<Config> {
    auto again = parse_command_line(args);
    if (!again) return again.status();
    return again->config;
  };
  Daemon daemon(cl->config, options);
  if (auto s = daemon.start(); !s) {
    std::fprintf(stderr, "autodistilld: %s\n", s.to_string().c_str());
    return 1;
  }
  auto s = daemon.run();
  if (!s) {
    std::fprintf(stderr, "autodistilld: %s\n", s.to_string().c_str());
    return 1;
  }
  return 0;
}
