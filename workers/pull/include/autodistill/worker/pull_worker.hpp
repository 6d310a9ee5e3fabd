#pragma once
// PullWorker: the pull loop every autodistill worker runs (docs/protocol.md,
// "Worker protocol"). It connects a DEALER socket to the daemon's worker
// endpoint, says Hello, pulls trials with credits, runs each trial on its
// own thread through an Evaluator while heartbeating progress, and keeps
// every Result / Failure in an outbox until the daemon acknowledges it. The
// outbox survives reconnects: when the daemon goes silent the worker
// reconnects with exponential backoff and re-sends what is unacknowledged.
// Blobs (inputs and artifacts) move over short-lived connections of their own
// on the trial threads, so a big transfer never delays a heartbeat.
//
// Thread-safety: run() is called once, from one thread; stop() may be called
// from any thread, including a signal-handling thread (it only sets a flag
// and writes one byte to a pipe, so it is also async-signal-safe).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "autodistill/status.hpp"
#include "autodistill/worker/evaluator.hpp"
#include "autodistill_generated.h"

namespace autodistill::worker {

struct PullWorkerOptions {
  // The daemon's worker endpoint (ROUTER).
  std::string endpoint = "tcp://127.0.0.1:5555";
  // Stable identity, unique per host and slot group, kept across restarts
  // (e.g. "gpu-host-3-distill-0"). Required.
  std::string worker_id;
  // Which trials this worker runs. External workers must list `studies`;
  // Distill and Probe workers must not.
  wire::Role role = wire::Role::External;
  // What the worker runs on; `tag` routes probe trials. Default (empty tag):
  // run() uses describe_host("cpu").
  wire::HardwareT hardware;
  // Trials evaluated at once (each on its own thread). At least 1.
  uint32_t slots = 1;
  // External role: the ids of the studies whose trials this worker evaluates.
  std::vector<uint64_t> studies;
  // Digest-keyed blob cache; may be shared by workers on one host. Created if
  // missing. Default (empty): <temp dir>/autodistill-blobs.
  std::filesystem::path cache_dir;
  // Per-trial scratch directories live under it (removed after each trial).
  // Created if missing. Default (empty): <temp dir>/autodistill-scratch/<worker_id>.
  std::filesystem::path scratch_dir;
  // Reconnect backoff after the daemon went silent: starts here, doubles per
  // failed attempt up to reconnect_max, each delay drawn in [d/2, d] (jitter).
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{5000};
  // Reported in Hello.
  std::string software_version = "autodistill-worker";
  // CURVE: the daemon's public key file and this worker's secret key file
  // (`autodistill keygen`); both empty = no CURVE. run() fails at once with
  // the key files' error when they cannot be used.
  std::string server_key_file;
  std::string key_file;
  // A blob request (BlobGet/BlobStat/BlobPut) unanswered for this long is
  // retried on a fresh connection; after blob_attempts tries it fails with
  // kUnavailable.
  std::chrono::milliseconds blob_timeout{10000};
  uint32_t blob_attempts = 3;
  // On stop(), how long to wait for the Acks of results already in the
  // outbox before saying Bye (running trials are cancelled at once).
  std::chrono::milliseconds drain_timeout{2000};
  // Receives one line per notable event (session, trial start/end, errors).
  // Default (empty): the shared logger (autodistill/log.hpp), with the
  // level of the event, as "... info PROGRAM: [<worker id>] ...".
  std::function<void(const std::string& line)> log;
};

class PullWorker {
 public:
  // `evaluator` must outlive the worker and be safe to call from `slots`
  // threads at once.
  PullWorker(PullWorkerOptions options, Evaluator& evaluator);
  ~PullWorker();
  PullWorker(const PullWorker&) = delete;
  PullWorker& operator=(const PullWorker&) = delete;

  // Runs the loop until stop(). Returns ok after a clean stop (trials
  // cancelled, outbox drained for up to drain_timeout, Bye sent), or an error:
  // kInvalidArgument for bad options (field names the option), kInternal when
  // a directory or socket cannot be set up, or the daemon's Reject error
  // (a rejected worker stops: fix the configuration, do not retry blindly).
  // Call at most once.
  Status run();

  // Asks run() to return. Thread-safe and async-signal-safe; idempotent; may
  // be called before run().
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill::worker
