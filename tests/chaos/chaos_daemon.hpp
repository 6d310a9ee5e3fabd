#pragma once
// The real autodistilld binary as a child process that a chaos test kills
// and restarts: the same loopback endpoints and data directory every time.
// Not thread-safe: one test thread drives it.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "../support/process.hpp"
#include "autodistill/status.hpp"

namespace autodistill::chaos {

struct DaemonSettings {
  // The autodistilld executable (required).
  std::string binary;
  // --data_dir (required); created by the daemon when missing.
  std::string data_dir;
  // The daemon's stdout and stderr are appended here (required).
  std::string log_path;
  // --heartbeat_interval_ms (default 200: fast liveness for tests).
  uint32_t heartbeat_interval_ms = 200;
  // --liveness (default 3).
  uint32_t liveness = 3;
  // --lease_ms (default 1500).
  uint32_t lease_ms = 1500;
  // --tick_ms (default 50).
  uint32_t tick_ms = 50;
  // Further "--key", "value" arguments (default none).
  std::vector<std::string> extra_args;
  // A command the daemon runs under, e.g. {"/usr/bin/prlimit", "--as=N", "--"}
  // (default none).
  std::vector<std::string> wrapper;
};

class ChaosDaemon {
 public:
  // Picks free loopback ports (worker, client, HTTP); nothing starts yet.
  explicit ChaosDaemon(DaemonSettings settings);
  ChaosDaemon(const ChaosDaemon&) = delete;
  ChaosDaemon& operator=(const ChaosDaemon&) = delete;

  // Spawns the daemon and waits until it answers a ListStudies. Returns the
  // milliseconds from spawn to that answer; kUnavailable (naming the log)
  // when it exited or did not answer within `timeout`.
  Result<double> start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Sends `signal` and reaps the process: its exit code, 128 + the signal
  // that ended it, or -1 when it was still running after `timeout`.
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  bool running() { return process_.running(); }
  testing::Process& process() { return process_; }

  const std::string& worker_endpoint() const { return worker_endpoint_; }
  const std::string& client_endpoint() const { return client_endpoint_; }
  // host:port of the /metrics and /healthz listener (--http_listen).
  const std::string& http_listen() const { return http_listen_; }
  std::string db_path() const { return settings_.data_dir + "/autodistill.db"; }
  const DaemonSettings& settings() const { return settings_; }

 private:
  DaemonSettings settings_;
  std::string worker_endpoint_;
  std::string client_endpoint_;
  std::string http_listen_;
  zmq::context_t ctx_;
  testing::Process process_;
};

}  // namespace autodistill::chaos
