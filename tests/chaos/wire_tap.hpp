#pragma once
// A transparent tap on the worker protocol. Worker processes connect to
// endpoint() instead of the daemon; every frame is forwarded unchanged to
// the daemon's worker endpoint over one DEALER per worker connection, and
// back. On the way the tap records the Results workers sent and every Ack
// the daemon sent, so a test can hold the daemon to "acknowledged means
// durable" without changing the workers. The daemon may die and restart
// behind the tap: its DEALERs reconnect just as a worker's socket would.
//
// Thread-safety: a background thread owns every socket; the accessors may
// be called from any thread.

#include <atomic>
#include <cstdint>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store_probe.hpp"

namespace autodistill::chaos {

class WireTap {
 public:
  // Binds a loopback port and starts forwarding to `daemon_endpoint`.
  explicit WireTap(std::string daemon_endpoint);
  ~WireTap();
  WireTap(const WireTap&) = delete;
  WireTap& operator=(const WireTap&) = delete;

  // Where workers connect (tcp://127.0.0.1:<port>).
  const std::string& endpoint() const { return endpoint_; }

  // Every Ack the daemon sent, in the order the tap saw them (repeats kept).
  std::vector<TrialKey> acks() const;
  // The objectives of the last Result a worker sent for each attempt.
  std::map<TrialKey, std::map<std::string, double>> results() const;

 private:
  void run(std::string daemon_endpoint, std::promise<std::string> bound);
  void record_from_worker(const void* data, size_t size);
  void record_from_daemon(const void* data, size_t size);

  std::string endpoint_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<TrialKey> acks_;
  std::map<TrialKey, std::map<std::string, double>> results_;
  std::thread thread_;
};

}  // namespace autodistill::chaos
