#pragma once
// autodistilld as a library: the controller on its own endpoints and data
// directory, driven by a Boost.Asio event loop. main() is a thin wrapper;
// tests and other programs embed it the same way:
//
//   autodistill::daemon::Daemon d(config);
//   if (Status s = d.start(); !s) ...;   // store opened, state recovered, bound
//   std::thread t([&] { d.run(); });
//   ...
//   d.stop(); t.join();
//
// start() and run() are called from one thread; stop() from any thread.

#include <functional>
#include <memory>
#include <string>

#include "autodistill/daemon/config.hpp"
#include "autodistill/status.hpp"

namespace autodistill::daemon {

struct DaemonOptions {
  // Handle SIGTERM / SIGINT / SIGHUP in run() (the executable); embedded
  // users stop(). The signals are read from a signalfd on the event loop, so
  // they never interrupt a system call: call block_daemon_signals() before
  // the first thread of the process starts (before constructing the Daemon,
  // whose ZeroMQ context starts threads), as main() does.
  bool handle_signals = false;
  // Tell systemd READY=1 / STOPPING=1 / STATUS= / WATCHDOG=1 (sd_notify)
  // when NOTIFY_SOCKET is set.
  bool notify_systemd = false;
  // SIGHUP (with handle_signals): produces the new configuration (main
  // re-reads the config file and re-applies its overrides). Unset: SIGHUP is
  // ignored with a log line.
  std::function<Result<Config>()> reload;
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread; threads started
// afterwards inherit the mask. With every thread blocking them, the signals
// stay pending until run() reads them from its signalfd. Returns the errno
// of pthread_sigmask as a Status.
Status block_daemon_signals();

// The file in data_dir where a reload reports "<generation> ok" or
// "<generation> error: <message>".
std::string reload_report_path(const std::string& data_dir);
// Sends SIGHUP to `pid` and waits (up to 30 s) for its next reload report.
Status request_reload(int pid, const std::string& data_dir);

class Daemon {
 public:
  explicit Daemon(Config config, DaemonOptions options = {});
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Locks and opens the data directory, migrates the store, rebuilds state
  // and binds both endpoints.
  Status start();
  // Serves until stop() or a signal; then stops taking work, commits and
  // closes. Returns ok on a clean shutdown.
  Status run();
  // Thread-safe, idempotent.
  void stop();

  // The endpoints actually bound (resolves "tcp://127.0.0.1:*").
  std::string worker_endpoint() const;
  std::string client_endpoint() const;
  // The HTTP listener's port; 0 when disabled.
  uint16_t http_port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill::daemon
