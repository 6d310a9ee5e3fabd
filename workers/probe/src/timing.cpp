#include "autodistill/probe/timing.hpp"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

namespace autodistill::probe {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

Status invalid(const std::string& message, const std::string& field) {
  return Status(Code::kInvalidArgument, message, field);
}

struct Attempt {
  LatencySummary summary;
  bool converged = false;
  size_t clean_runs = 0;       // timed runs not preempted
  Clock::duration timed{0};    // spent on timed runs (the warm-up excluded)
  double preempted_share = 0;  // of its timed runs
};

// Untimed runs: at least warmup_runs and warmup_time. Returns each run's
// duration.
Result<std::vector<double>> warm_up(const TimedRun& run, const TimingOptions& o,
                                    const std::function<bool()>& cancelled,
                                    LatencyMeasurement& total) {
  std::vector<double> durations;
  const auto start = Clock::now();
  for (int i = 0; i < o.warmup_runs || Clock::now() - start < o.warmup_time; ++i) {
    if (cancelled && cancelled()) return Status(Code::kCancelled, "the probe was cancelled");
    auto r = run();
    if (!r) return r.status();
    durations.push_back(r->ms);
    ++total.warmup_runs;
  }
  return durations;
}

// One run's time from the warm-up: the median of its runs after the first
// (the first pays for cold caches and lazy initialization); 0 without runs.
double estimate_run_ms(std::vector<double> warmup) {
  if (warmup.size() > 1) warmup.erase(warmup.begin());
  if (warmup.empty()) return 0;
  auto mid = warmup.begin() + static_cast<std::ptrdiff_t>(warmup.size() / 2);
  std::nth_element(warmup.begin(), mid, warmup.end());
  return *mid;
}

// The timed budget for runs of about `run_ms`: target_runs of them, at most
// max_scaled_total_time; zero when scaling is off or nothing was measured.
Clock::duration scaled_budget(const TimingOptions& o, double run_ms) {
  if (o.target_runs <= 0 || !(run_ms > 0)) return Clock::duration::zero();
  const std::chrono::duration<double, std::milli> wanted(run_ms * o.target_runs);
  const std::chrono::duration<double, std::milli> cap(o.max_scaled_total_time);
  return std::chrono::duration_cast<Clock::duration>(std::min(wanted, cap));
}

// One series of timed runs: at most `attempt_limit` and `budget` of them.
Result<Attempt> timed_series(const TimedRun& run, const TimingOptions& o,
                             Clock::duration attempt_limit, Clock::duration budget,
                             const std::function<bool()>& cancelled, LatencyMeasurement& total) {
  auto is_cancelled = [&] { return cancelled && cancelled(); };
  std::vector<double> samples;    // runs left alone
  std::vector<double> preempted;  // runs the OS interrupted
  samples.reserve(static_cast<size_t>(std::min(o.max_runs, 4096)));
  Attempt attempt;
  // The stop rule sorts the samples; checking after every 1/16 more runs
  // keeps that cost O(n log n) overall.
  size_t next_check = static_cast<size_t>(o.min_runs);
  const auto timed_start = Clock::now();
  for (int runs = 1;; ++runs) {
    if (is_cancelled()) return Status(Code::kCancelled, "the probe was cancelled");
    auto timed = run();
    if (!timed) return timed.status();
    (timed->preempted ? preempted : samples).push_back(timed->ms);
    ++total.timed_runs;
    total.preempted_runs += timed->preempted ? 1 : 0;
    const auto elapsed = Clock::now() - timed_start;
    const bool capped = runs >= o.max_runs || elapsed >= attempt_limit || elapsed >= budget;
    if (samples.size() < next_check && !capped) continue;
    attempt.clean_runs = samples.size();
    attempt.preempted_share = static_cast<double>(preempted.size()) / runs;
    // No run was left alone (a saturated host): summarize the preempted ones,
    // never reported as converged.
    const bool fallback = samples.empty();
    attempt.summary = summarize_latencies(fallback ? preempted : samples, o.fence_k, o.confidence);
    attempt.converged = !fallback && attempt.summary.relative_ci_halfwidth() <= o.precision;
    attempt.timed = Clock::now() - timed_start;
    if (attempt.converged || capped) return attempt;
    next_check = samples.size() + std::max<size_t>(1, samples.size() / 16);
  }
}

}  // namespace

Status validate(const TimingOptions& o) {
  if (o.warmup_runs < 0) return invalid("warmup_runs must not be negative", "warmup_runs");
  if (o.warmup_time.count() < 0) {
    return invalid("warmup_time must not be negative", "warmup_time");
  }
  if (o.min_runs < 1) return invalid("min_runs must be at least 1", "min_runs");
  if (o.max_runs < o.min_runs) return invalid("max_runs must be at least min_runs", "max_runs");
  if (o.max_time.count() <= 0) return invalid("max_time must be positive", "max_time");
  if (o.max_total_time.count() <= 0) {
    return invalid("max_total_time must be positive", "max_total_time");
  }
  if (o.target_runs < 0) return invalid("target_runs must not be negative", "target_runs");
  if (o.max_scaled_total_time.count() <= 0) {
    return invalid("max_scaled_total_time must be positive", "max_scaled_total_time");
  }
  if (!(o.precision > 0)) return invalid("precision must be positive", "precision");
  if (!(o.confidence > 0 && o.confidence < 1)) {
    return invalid("confidence must be in (0, 1)", "confidence");
  }
  if (!(o.fence_k > 0)) return invalid("fence_k must be positive", "fence_k");
  if (!(o.max_spread > 0)) return invalid("max_spread must be positive", "max_spread");
  if (!(o.max_preempted_share > 0 && o.max_preempted_share <= 1)) {
    return invalid("max_preempted_share must be in (0, 1]", "max_preempted_share");
  }
  if (o.max_reprobes < 0) return invalid("max_reprobes must not be negative", "max_reprobes");
  return Status::ok();
}

int64_t involuntary_switches(bool whole_process) {
  struct rusage usage {};
  ::getrusage(whole_process ? RUSAGE_SELF : RUSAGE_THREAD, &usage);
  return usage.ru_nivcsw;
}

bool is_preempted(double wall_ms, double thread_cpu_ms, bool involuntary_switched,
                  double max_off_cpu_fraction) {
  if (involuntary_switched) return true;
  if (thread_cpu_ms < 0) return false;
  return wall_ms - thread_cpu_ms > max_off_cpu_fraction * wall_ms;
}

double thread_cpu_ms() {
  struct timespec ts {};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

RunTime time_cpu_run(const std::function<void()>& forward, bool whole_process) {
  const int64_t switches = involuntary_switches(whole_process);
  const double cpu_start = whole_process ? 0 : thread_cpu_ms();
  const auto start = Clock::now();
  forward();
  RunTime t;
  t.ms = ms_since(start);
  const double cpu = whole_process ? -1 : thread_cpu_ms() - cpu_start;
  t.preempted = is_preempted(t.ms, cpu, involuntary_switches(whole_process) != switches);
  return t;
}

TimedRun wall_clock_run(std::function<void()> forward, bool whole_process) {
  return [forward = std::move(forward), whole_process]() -> Result<RunTime> {
    return time_cpu_run(forward, whole_process);
  };
}

Result<LatencyMeasurement> measure_latency(const TimedRun& run, const TimingOptions& options,
                                           const std::function<bool()>& cancelled) {
  if (Status s = validate(options); !s) return s;
  const auto start = Clock::now();
  LatencyMeasurement m;
  std::optional<Attempt> best;
  Clock::duration total_budget = options.max_total_time;
  Clock::duration attempt_limit = options.max_time;
  Clock::duration spent{0};  // timed runs so far, all attempts
  for (int i = 0; i <= options.max_reprobes; ++i) {
    auto warmup = warm_up(run, options, cancelled, m);
    if (!warmup) return warmup.status();
    if (i == 0) {
      m.run_estimate_ms = estimate_run_ms(std::move(warmup.value()));
      const Clock::duration scaled = scaled_budget(options, m.run_estimate_ms);
      if (scaled > total_budget) {
        total_budget = scaled;
        attempt_limit = std::max(attempt_limit, scaled);
      }
      m.budget_ms = std::chrono::duration<double, std::milli>(total_budget).count();
    }
    auto attempt = timed_series(run, options, attempt_limit, total_budget - spent, cancelled, m);
    if (!attempt) return attempt.status();
    spent += attempt->timed;
    ++m.attempts;
    // Interference only ever slows a forward pass down, so the fastest
    // attempt is the least disturbed one (timeit's reasoning for its min).
    const auto key = [](const Attempt& a) {
      return std::tuple(a.summary.median, a.summary.relative_iqr, a.preempted_share);
    };
    if (!best || key(attempt.value()) < key(*best)) best = std::move(attempt.value());
    const bool too_few_clean = best->clean_runs < static_cast<size_t>(options.min_runs);
    const bool disturbed =
        !best->converged && (best->summary.relative_iqr > options.max_spread ||
                             best->preempted_share > options.max_preempted_share);
    if (!too_few_clean && !disturbed) break;
    // A re-probe with less than a quarter of the budget left could not do better.
    if (total_budget - spent < total_budget / 4) break;
  }
  m.summary = best->summary;
  m.converged = best->converged;
  m.wall_ms = ms_since(start);
  return m;
}

}  // namespace autodistill::probe
