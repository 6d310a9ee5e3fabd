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
  // confidence interval of the (trimmed) median of its clean (not preempted)
  // runs is within +-precision of it, or after max_runs runs or max_time of
  // timed runs, or when the measurement's max_total_time of timed runs (all
  // attempts together) is spent, whichever comes first.
  int min_runs = 20;
  int max_runs = 2000;
  std::chrono::milliseconds max_time{1500};
  // The timed-run budget of the whole measurement, re-probes included: with
  // the build and a 100 ms warm-up it keeps a probe of a small architecture
  // under 2 s even on a loaded host. A measurement that spends it without
  // reaching `precision` reports converged = false.
  std::chrono::milliseconds max_total_time{1200};
  // The budget scales with the forward pass (issue #14: a 77 ms student got
  // 16 runs in 1.2 s, fewer than min_runs, so it could never converge). The
  // first warm-up estimates one run's time t (the median of its runs after
  // the first); when max_total_time allows fewer than target_runs runs, the
  // measurement's budget becomes target_runs x t instead, and each
  // attempt's max_time at least as much, but never more than
  // max_scaled_total_time. target_runs = 0 (or no warm-up run) turns
  // scaling off. 60 runs are three times min_runs: room for the stop rule
  // to narrow the median's interval to `precision` on a steady host.
  int target_runs = 60;
  std::chrono::milliseconds max_scaled_total_time{20000};
  double precision = 0.01;   // 1 %: relative half-width of the median's CI
  double confidence = 0.95;  // of that interval
  // Tukey fence factor for outlier trimming (trim_outliers).
  double fence_k = 3.0;
  // An attempt with fewer than min_runs clean runs, or one that did not
  // reach `precision` and whose relative IQR ((p75 - p25) / median) exceeds
  // max_spread or more than max_preempted_share of whose timed runs were
  // preempted, was disturbed: it is measured again, up to max_reprobes more
  // times while at least a quarter of max_total_time is left, and the
  // attempt with the lowest median is reported (interference only slows a
  // forward pass down; ties go to the smaller spread, then to fewer
  // preempted runs). An attempt that reached `precision` on its clean runs
  // is never re-probed.
  double max_spread = 0.10;
  double max_preempted_share = 0.5;
  int max_reprobes = 2;
};

// kInvalidArgument naming the bad field ("warmup_runs", "precision", ...) for
// negative counts, min_runs < 1 or > max_runs, precision or max_spread <= 0,
// a non-positive max_total_time or max_scaled_total_time,
// max_preempted_share outside (0, 1],
// confidence outside (0, 1), fence_k <= 0, a non-positive max_time.
Status validate(const TimingOptions& options);

// One timed forward pass.
struct RunTime {
  double ms = 0;  // until the device finished
  // The forward pass did not have its CPU for the whole run (see
  // is_preempted): the duration includes someone else's work.
  bool preempted = false;
};

// A CPU run whose thread was off its CPU for more than this fraction of the
// wall time is preempted: 5 % is far above the clocks' own cost (< 1 us per
// reading against forward passes of a millisecond or more) and far below
// the slowdowns that spoil a median.
inline constexpr double kMaxOffCpuFraction = 0.05;

// Contention detection for one CPU run of wall time `wall_ms`, during which
// the measuring thread used `thread_cpu_ms` of CPU (CLOCK_THREAD_CPUTIME_ID)
// and `involuntary_switched` tells whether ru_nivcsw grew. With one intra-op
// thread the forward pass runs on the measuring thread, so wall - cpu is the
// time it waited (runnable on the run queue across a tick, another
// autogroup's turn, a page-in) without necessarily counting an involuntary
// switch: the run is preempted when the switch count grew or
// wall - cpu > max_off_cpu_fraction * wall. A negative `thread_cpu_ms`
// means unknown (several intra-op threads: the measuring thread sleeps while
// the pool works, so its CPU time says nothing): then only the switch count
// decides. Pure; thread-safe.
bool is_preempted(double wall_ms, double thread_cpu_ms, bool involuntary_switched,
                  double max_off_cpu_fraction = kMaxOffCpuFraction);

// CPU time of the calling thread so far, in ms (CLOCK_THREAD_CPUTIME_ID).
double thread_cpu_ms();

// Runs the forward pass once and times it. An error ends the measurement
// with that error.
using TimedRun = std::function<Result<RunTime>()>;

// Involuntary context switches so far of the calling thread, or of every
// thread of the process (getrusage ru_nivcsw). A run during which the count
// grew was preempted.
int64_t involuntary_switches(bool whole_process);

// Times one call of `forward` with the steady clock (the CPU path) and
// classifies it with is_preempted: by the calling thread's CPU time and
// involuntary switches, or, with `whole_process` (a forward pass on several
// intra-op threads), by the involuntary switches of every thread of the
// process alone.
RunTime time_cpu_run(const std::function<void()>& forward, bool whole_process);

// A TimedRun calling time_cpu_run(forward, whole_process).
TimedRun wall_clock_run(std::function<void()> forward, bool whole_process = false);

struct LatencyMeasurement {
  LatencySummary summary;  // of the reported attempt
  // The reported attempt reached `precision` on clean runs (false when it
  // had to fall back to preempted runs or ran out of budget first).
  bool converged = false;
  int attempts = 0;        // 1 + re-probes
  int warmup_runs = 0;     // untimed runs, all attempts
  int timed_runs = 0;      // timed runs, all attempts (preempted ones included)
  int preempted_runs = 0;  // timed runs set aside as preempted, all attempts
  double wall_ms = 0;      // the whole measurement, warm-ups and re-probes included
  // One run's time as the first warm-up estimated it (0: no warm-up run),
  // and the timed-run budget that followed from it: max_total_time, or the
  // scaled budget when that is larger.
  double run_estimate_ms = 0;
  double budget_ms = 0;
};

// Measures `run` under `options` (validated first). Preempted runs are set
// aside: the stop rule and the summary use the others (the preempted ones
// only when no run at all was left alone, so that a saturated host gets a
// result rather than none, with converged = false); they still count
// towards max_runs, max_time and max_total_time.
// Checks `cancelled` (may be empty) between runs and returns kCancelled once
// it is true.
Result<LatencyMeasurement> measure_latency(const TimedRun& run, const TimingOptions& options,
                                           const std::function<bool()>& cancelled = {});

}  // namespace autodistill::probe
