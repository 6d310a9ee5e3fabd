#pragma once
// Many simulated External workers on one thread: raw DEALER sockets that
// speak the worker protocol (Hello, Pull, Heartbeat, Result with an outbox,
// Bye) and churn: each leaves now and then (with a Bye or by vanishing, idle
// or holding a lease) and a fresh worker with a new worker_id takes its place
// after a short delay. Every Ack is recorded, so a test can check that
// nothing acknowledged was lost.
// Not thread-safe: run() drives everything on the calling thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "store_probe.hpp"

namespace autodistill::chaos {

struct FleetOptions {
  // The daemon's worker endpoint (required).
  std::string endpoint;
  // The External study the workers evaluate (required).
  uint64_t study_id = 0;
  // Simulated workers; each slot is refilled after its worker leaves (default 256).
  size_t workers = 256;
  // Simulated evaluation time, uniform in [min_work, max_work] (default 0..20 ms).
  std::chrono::milliseconds min_work{0};
  std::chrono::milliseconds max_work{20};
  // After an Ack, an idle worker leaves with a Bye with this probability (default 0.05).
  double bye_when_idle = 0.05;
  // After an Ack, an idle worker closes its socket without a Bye (default 0.05).
  double vanish_when_idle = 0.05;
  // On an Assign, the worker says Bye at once, holding the lease (default 0.01).
  double bye_holding_lease = 0.01;
  // On an Assign, the worker vanishes holding the lease; it expires (default 0.01).
  double vanish_holding_lease = 0.01;
  // A replacement joins after a delay uniform in [0, max_rejoin_delay] (default 50 ms).
  std::chrono::milliseconds max_rejoin_delay{50};
  // Seed of every random choice (default 1).
  uint64_t seed = 1;
};

struct FleetReport {
  size_t joins = 0;               // Hellos with a fresh worker_id
  size_t byes_idle = 0;           // left with a Bye, nothing leased
  size_t vanished_idle = 0;       // closed without a Bye, nothing leased
  size_t byes_holding_lease = 0;  // left with a Bye while holding a lease
  size_t vanished_holding_lease = 0;
  size_t results_sent = 0;     // Result messages, resends included
  size_t max_connected = 0;    // most workers with a session at once
  std::vector<TrialKey> acks;  // every Ack received
  double seconds = 0;
  bool finished = false;  // done() returned true before the deadline
};

class SimFleet {
 public:
  SimFleet(zmq::context_t& ctx, FleetOptions options);
  // Runs the fleet until `done()` (polled every 200 ms) returns true or
  // `deadline` passes.
  FleetReport run(const std::function<bool()>& done, std::chrono::milliseconds deadline);

 private:
  zmq::context_t& ctx_;
  FleetOptions options_;
};

}  // namespace autodistill::chaos
