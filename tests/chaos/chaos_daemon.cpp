#include "chaos_daemon.hpp"

#include <signal.h>

#include <thread>

#include "../support/wire_peer.hpp"

namespace autodistill::chaos {

using Clock = std::chrono::steady_clock;

ChaosDaemon::ChaosDaemon(DaemonSettings settings)
    : settings_(std::move(settings)),
      worker_endpoint_(testing::loopback(testing::free_tcp_port())),
      client_endpoint_(testing::loopback(testing::free_tcp_port())),
      http_listen_("127.0.0.1:" + std::to_string(testing::free_tcp_port())) {}

Result<double> ChaosDaemon::start(std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = settings_.wrapper;
  argv.insert(argv.end(),
              {settings_.binary, "--data_dir", settings_.data_dir, "--worker_endpoint",
               worker_endpoint_, "--client_endpoint", client_endpoint_, "--heartbeat_interval_ms",
               std::to_string(settings_.heartbeat_interval_ms), "--liveness",
               std::to_string(settings_.liveness), "--lease_ms", std::to_string(settings_.lease_ms),
               "--tick_ms", std::to_string(settings_.tick_ms), "--http_listen", http_listen_});
  argv.insert(argv.end(), settings_.extra_args.begin(), settings_.extra_args.end());
  const auto spawned = Clock::now();
  process_ = testing::Process::spawn(argv, settings_.log_path);
  testing::WirePeer probe(ctx_, client_endpoint_);
  const auto deadline = spawned + timeout;
  while (Clock::now() < deadline) {
    if (!process_.running()) break;
    if (probe.call(wire::ListStudiesT{}, std::chrono::milliseconds(100))) {
      return std::chrono::duration<double, std::milli>(Clock::now() - spawned).count();
    }
  }
  return Status(Code::kUnavailable, std::string("autodistilld ") +
                                        (process_.running() ? "did not answer" : "exited") +
                                        " (see " + settings_.log_path + ")");
}

int ChaosDaemon::stop(int signal, std::chrono::milliseconds timeout) {
  process_.signal(signal);
  return process_.wait(timeout);
}

}  // namespace autodistill::chaos
