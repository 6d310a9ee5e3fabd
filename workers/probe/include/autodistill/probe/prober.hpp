#pragma once
// One latency probe: take the host lock, build the student, time its forward
// pass at the serving setting, measure throughput at the requested batch
// sizes and peak memory, and add the analytic parameter and FLOP counts.
// Used by the probe worker for each trial and by the landscape export for
// each point of a design space.
//
// Thread-safety: run_probe may be called from any thread; calls that share a
// lock_path (the host's probes) run one at a time.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "autodistill/probe/probe_model.hpp"
#include "autodistill/probe/probe_request.hpp"
#include "autodistill/probe/timing.hpp"
#include "autodistill/status.hpp"

namespace autodistill::probe {

struct ProbeOptions {
  // Warm-up, stop rule, outlier trimming and re-probing of the latency at the
  // serving batch size. Throughput at other batch sizes uses the same
  // options without re-probes.
  TimingOptions timing;
  // The host-wide lock (HostLock), held exclusively for the whole probe:
  // build, warm-up and timed runs.
  std::filesystem::path lock_path = "/tmp/autodistill-probe.lock";
  // The CPUs the probe worker is pinned to: a request for more threads than
  // this fails (kFailedPrecondition). 0 = no limit.
  int max_threads = 0;
};

struct ProbeReport {
  LatencyMeasurement latency;  // one forward at serving.batch_size
  // Batch size -> sequences per second (batch size / median latency), for
  // serving.batch_size and every serving.throughput_batch_sizes entry.
  std::map<int64_t, double> throughput;
  uint64_t peak_memory_bytes = 0;  // ProbeModel::peak_memory_bytes() at the end
  int64_t params = 0;              // parameter_count(arch)
  // One forward at the serving setting: batch_size * forward_flops(arch, seq_len).
  double flops = 0;
  double lock_wait_ms = 0;  // waiting for the host lock
  double build_ms = 0;      // building the student
  double wall_ms = 0;       // everything, lock wait included
};

// fraction in [0, 1] and what the probe is doing ("waiting for the host lock", ...).
using ProbeProgress = std::function<void(double fraction, const std::string& message)>;

// Probes `request` with a model from `factory`. `cancelled` and `progress`
// may be empty. Errors: the options' validation (kInvalidArgument), too many
// threads (kFailedPrecondition, field "settings.serving.threads"), the host
// lock's and the factory's and the model's errors, kCancelled.
Result<ProbeReport> run_probe(const ProbeRequest& request, const ProbeOptions& options,
                              const ModelFactory& factory,
                              const std::function<bool()>& cancelled = {},
                              const ProbeProgress& progress = {});

}  // namespace autodistill::probe
