#pragma once
// The timing harness: warm up a forward pass, then time it until its median
// latency is known to a set precision (or a run/time cap is hit), trimming
// outliers and re-probing when the spread is too wide. It knows nothing about
// models: it times any callable. Not thread-safe per call; independent calls
// may run on different threads (but measurements on one host should not
// overlap: see HostLock).

#include <chrono>
#include <cstdint>
#include <functional>

#include "autodistill/probe/latency_stats.hpp"
#include "autodistill/status.hpp"

namespace autodistill::probe {

struct TimingOptions {
  // Untimed runs first (caches, allocator pools, lazy initialization, CPU
  // frequency ramp-up): at least warmup_runs runs and at least warmup_time.
  int warmup_runs = 3;
  std::chrono::milliseconds warmup_time{100};
  // Timed runs: at least min_runs; then the attempt stops as soon as the
  // confidence interval of the (trimmed) median is within +-precision of it,
  // or after max_runs runs or max_time of timed runs, whichever comes first.
  int min_runs = 20;
  int max_runs = 2000;
  std::chrono::milliseconds max_time{1500};
  double precision = 0.01;   // 1 %: relative half-width of the median's CI
  double confidence = 0.95;  // of that interval
  // Tukey fence factor for outlier trimming (trim_outliers).
  double fence_k = 3.0;
  // An attempt whose relative IQR ((p75 - p25) / median) exceeds max_spread,
  // or more than max_preempted_share of whose timed runs were preempted, was
  // disturbed: it is measured again, up to max_reprobes more times, and the
  // attempt with the lowest median is reported (interference only slows a
  // forward pass down; ties go to the smaller spread, then to fewer
  // preempted runs).
  double max_spread = 0.10;
  double max_preempted_share = 0.5;
  int max_reprobes = 2;
};

// kInvalidArgument naming the bad field ("warmup_runs", "precision", ...) for
// negative counts, min_runs < 1 or > max_runs, precision or max_spread <= 0,
// max_preempted_share outside (0, 1],
// confidence outside (0, 1), fence_k <= 0, a non-positive max_time.
Status validate(const TimingOptions& options);

// One timed forward pass.
struct RunTime {
  double ms = 0;  // until the device finished
  // The OS switched a thread of the forward pass out during the run (an
  // involuntary context switch): the duration includes someone else's work.
  bool preempted = false;
};

// Runs the forward pass once and times it. An error ends the measurement
// with that error.
using TimedRun = std::function<Result<RunTime>()>;

// Involuntary context switches so far of the calling thread, or of every
// thread of the process (getrusage ru_nivcsw). A run during which the count
// grew was preempted.
int64_t involuntary_switches(bool whole_process);

// A TimedRun that times `forward` with the steady clock (the CPU path) and
// flags it preempted when the calling thread (or, with `whole_process`, any
// thread of the process: a forward pass on several threads) was switched out.
TimedRun wall_clock_run(std::function<void()> forward, bool whole_process = false);

struct LatencyMeasurement {
  LatencySummary summary;  // of the reported attempt
  bool converged = false;  // the reported attempt reached `precision`
  int attempts = 0;        // 1 + re-probes
  int warmup_runs = 0;     // untimed runs, all attempts
  int timed_runs = 0;      // timed runs, all attempts (preempted ones included)
  int preempted_runs = 0;  // timed runs set aside as preempted, all attempts
  double wall_ms = 0;      // the whole measurement, warm-ups and re-probes included
};

// Measures `run` under `options` (validated first). Preempted runs are set
// aside: the stop rule and the summary use the others (the preempted ones
// only when no run at all was left alone, so that a saturated host gets a
// result rather than none); they still count towards max_runs and max_time.
// Checks `cancelled` (may be empty) between runs and returns kCancelled once
// it is true.
Result<LatencyMeasurement> measure_latency(const TimedRun& run, const TimingOptions& options,
                                           const std::function<bool()>& cancelled = {});

}  // namespace autodistill::probe
