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

#include <memory>
#include <string>

#include "autodistill/daemon/config.hpp"
#include "autodistill/status.hpp"

namespace autodistill::daemon {

struct DaemonOptions {
  // Handle SIGTERM / SIGINT in run() (the executable); embedded users stop().
  bool handle_signals = false;
  // Tell systemd READY=1 / STOPPING=1 (sd_notify) when NOTIFY_SOCKET is set.
  bool notify_systemd = false;
};

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

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill::daemon
