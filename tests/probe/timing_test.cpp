// The timing harness on scripted durations (no clock involved except where
// the test says so): the stop rule, the caps, trimming, re-probing,
// cancellation and errors.

#include <sched.h>

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "autodistill/probe/cpu_set.hpp"
#include "autodistill/probe/timing.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::probe;
using namespace std::chrono_literals;

TimingOptions scripted_options() {
  TimingOptions o;
  o.warmup_runs = 3;
  o.warmup_time = 0ms;
  o.min_runs = 20;
  o.max_runs = 50;
  o.max_time = 60s;
  o.precision = 0.01;
  o.max_spread = 0.10;
  o.max_reprobes = 2;
  return o;
}

// Returns durations from `script(call index)`, none preempted.
TimedRun scripted(std::function<double(int)> script) {
  auto calls = std::make_shared<int>(0);
  return [script = std::move(script), calls]() -> Result<RunTime> {
    return RunTime{script((*calls)++), false};
  };
}

}  // namespace

TEST_CASE("a steady forward pass converges after min_runs", "[probe][timing]") {
  auto m = measure_latency(scripted([](int) { return 2.0; }), scripted_options());
  REQUIRE(m.is_ok());
  CHECK(m->converged);
  CHECK(m->attempts == 1);
  CHECK(m->warmup_runs == 3);
  CHECK(m->timed_runs == 20);
  CHECK(m->summary.runs == 20);
  CHECK(m->summary.median == 2.0);
  CHECK(m->summary.relative_ci_halfwidth() == 0.0);
}

TEST_CASE("a noisy forward pass stops at max_runs and is re-probed", "[probe][timing]") {
  // Alternating 1 and 3 ms: the median's interval never narrows and the
  // spread (IQR / median = 1) is far above max_spread.
  auto noisy = [](int i) { return i % 2 ? 1.0 : 3.0; };
  auto m = measure_latency(scripted(noisy), scripted_options());
  REQUIRE(m.is_ok());
  CHECK_FALSE(m->converged);
  CHECK(m->attempts == 3);  // 1 + max_reprobes
  CHECK(m->timed_runs == 150);
  CHECK(m->warmup_runs == 9);

  TimingOptions tolerant = scripted_options();
  tolerant.max_spread = 5;  // that spread is acceptable: no re-probe
  auto once = measure_latency(scripted(noisy), tolerant);
  REQUIRE(once.is_ok());
  CHECK(once->attempts == 1);
  CHECK(once->timed_runs == 50);
}

TEST_CASE("a re-probe after a disturbed attempt reports the quiet one", "[probe][timing]") {
  // The first attempt (3 warm-up + 50 timed calls) is slowed down by
  // interference half of the time, then the host is quiet.
  auto m = measure_latency(scripted([](int i) { return i < 53 && i % 2 ? 4.5 : 1.5; }),
                           scripted_options());
  REQUIRE(m.is_ok());
  CHECK(m->attempts == 2);
  CHECK(m->converged);
  CHECK(m->summary.median == 1.5);
  CHECK(m->summary.relative_iqr == 0.0);

  // Every attempt disturbed: the fastest one is reported.
  auto worst =
      measure_latency(scripted([](int i) { return (i % 2 ? 4.0 : 1.0) + (i < 53 ? 1.0 : 0.0); }),
                      scripted_options());
  REQUIRE(worst.is_ok());
  CHECK(worst->attempts == 3);
  CHECK_FALSE(worst->converged);
  CHECK(worst->summary.median == Approx(2.5));
}

TEST_CASE("an interruption is trimmed, not reported", "[probe][timing]") {
  auto m =
      measure_latency(scripted([](int i) { return i == 10 ? 50.0 : 2.0; }), scripted_options());
  REQUIRE(m.is_ok());
  CHECK(m->summary.outliers == 1);
  CHECK(m->summary.max == 2.0);
  CHECK(m->summary.p99 == 2.0);
  CHECK(m->timed_runs == 20);
}

TEST_CASE("preempted runs are set aside", "[probe][timing]") {
  // Every third timed run was switched out and took 10 ms instead of 2.
  int calls = 0;
  TimedRun run = [&]() -> Result<RunTime> {
    const bool preempted = ++calls > 3 && calls % 3 == 0;
    return RunTime{preempted ? 10.0 : 2.0, preempted};
  };
  auto m = measure_latency(run, scripted_options());
  REQUIRE(m.is_ok());
  CHECK(m->converged);
  CHECK(m->summary.runs == 20);  // min_runs left alone
  CHECK(m->summary.max == 2.0);
  // The 20th clean run is call 32 (3 warm-ups, then 29 timed, 9 of them preempted).
  CHECK(m->preempted_runs == 9);
  CHECK(m->timed_runs == 29);

  // A host so busy that every run is preempted: re-probed, and still a
  // result, from the preempted runs.
  TimedRun always = []() -> Result<RunTime> { return RunTime{3.0, true}; };
  auto busy = measure_latency(always, scripted_options());
  REQUIRE(busy.is_ok());
  CHECK(busy->attempts == 3);
  CHECK(busy->preempted_runs == 150);  // max_runs counts preempted runs too
  CHECK(busy->summary.runs == 50);
  CHECK(busy->summary.median == 3.0);
  CHECK_FALSE(busy->converged);  // from preempted runs only: not a precise median

  // Most runs of the first attempt preempted (and slow), then a quiet host:
  // the re-probe is reported.
  int n = 0;
  TimedRun busy_then_quiet = [&n]() -> Result<RunTime> {
    const bool busy = ++n <= 53 && n % 4 != 0;
    return RunTime{busy ? 6.0 : 2.0, busy};
  };
  auto settled = measure_latency(busy_then_quiet, scripted_options());
  REQUIRE(settled.is_ok());
  CHECK(settled->attempts == 2);
  CHECK(settled->summary.median == 2.0);
}

TEST_CASE("wall_clock_run flags a run the OS switched out", "[probe][timing]") {
  // This thread and a rival both spin on one CPU: the scheduler must switch
  // this one out during a 100 ms run.
  cpu_set_t before;
  sched_getaffinity(0, sizeof before, &before);
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(allowed_cpus().front(), &one);
  REQUIRE(sched_setaffinity(0, sizeof one, &one) == 0);
  std::atomic<bool> stop{false};
  std::thread rival([&] {
    sched_setaffinity(0, sizeof one, &one);
    while (!stop) {
    }
  });
  auto spin = [] {
    const auto end = std::chrono::steady_clock::now() + 100ms;
    while (std::chrono::steady_clock::now() < end) {
    }
  };
  const int64_t process_before = involuntary_switches(true);
  auto t = wall_clock_run(spin)();
  stop = true;
  rival.join();
  sched_setaffinity(0, sizeof before, &before);
  REQUIRE(t.is_ok());
  CHECK(t->ms >= 100.0);
  CHECK(t->preempted);
  CHECK(involuntary_switches(true) > process_before);
}

TEST_CASE("is_preempted: off-CPU time or an involuntary switch", "[probe][timing]") {
  // One intra-op thread: wall - cpu is time the thread waited.
  CHECK_FALSE(is_preempted(2.0, 2.0, false));
  CHECK_FALSE(is_preempted(2.0, 1.95, false));      // 2.5 % off CPU
  CHECK(is_preempted(2.0, 1.85, false));            // 7.5 % off CPU: runnable but waiting
  CHECK(is_preempted(16.0, 2.0, false));            // the 8x case no switch was counted for
  CHECK(is_preempted(2.0, 2.0, true));              // a counted switch always counts
  CHECK_FALSE(is_preempted(2.0, 1.0, false, 0.6));  // the threshold is a parameter
  CHECK(is_preempted(2.0, 1.0, false, 0.4));
  // Unknown CPU time (several intra-op threads): only the switch count decides.
  CHECK_FALSE(is_preempted(16.0, -1, false));
  CHECK(is_preempted(16.0, -1, true));
  // The clock of the calling thread advances while it works.
  const double before = thread_cpu_ms();
  volatile double sink = 0;
  for (int i = 0; i < 1000000; ++i) sink = sink + i;
  CHECK(thread_cpu_ms() > before);
}

TEST_CASE("a precise median from clean runs is not re-probed", "[probe][timing]") {
  // Two of every three timed runs preempted (share 0.67 > max_preempted_share),
  // the clean ones steady: the median is known, no re-probe.
  int calls = 0;
  TimedRun run = [&]() -> Result<RunTime> {
    const bool preempted = ++calls > 3 && calls % 3 != 0;
    return RunTime{preempted ? 9.0 : 2.0, preempted};
  };
  TimingOptions o = scripted_options();
  o.max_runs = 100;  // room for min_runs clean runs
  auto m = measure_latency(run, o);
  REQUIRE(m.is_ok());
  CHECK(m->attempts == 1);
  CHECK(m->converged);
  CHECK(m->summary.median == 2.0);
  CHECK(m->summary.runs == 20);

  // Capped at 50 runs, only 16 of them clean: too few, so re-probed.
  calls = 0;
  auto few = measure_latency(run, scripted_options());
  REQUIRE(few.is_ok());
  CHECK(few->attempts == 3);
}

TEST_CASE("max_total_time caps the timed runs of all attempts", "[probe][timing]") {
  // Every run preempted, each >= 1 ms: the first attempt spends the whole
  // 30 ms budget, so no re-probe follows (max_time alone would allow 3 x 60 s).
  TimingOptions o = scripted_options();
  o.max_runs = 1000000;
  o.max_total_time = 30ms;
  o.target_runs = 0;  // the configured budget, not one grown to the forward pass
  TimedRun slow = []() -> Result<RunTime> {
    std::this_thread::sleep_for(1ms);
    return RunTime{1.0, true};
  };
  auto m = measure_latency(slow, o);
  REQUIRE(m.is_ok());
  CHECK(m->attempts == 1);
  CHECK(m->timed_runs <= 31);
  CHECK_FALSE(m->converged);
}

TEST_CASE("the timed budget scales with the forward pass measured in the warm-up",
          "[probe][timing]") {
  // A 10 ms forward pass (slept, reported as exactly 10 ms: steady, so it
  // converges once it has min_runs runs) against a 50 ms budget: five runs,
  // fewer than min_runs, could never converge (issue #14: a 24-block student
  // at 77 ms got 16 runs in 1.2 s). The warm-up's estimate grows the budget
  // to the runs the stop rule needs, up to the cap.
  TimingOptions o = scripted_options();
  o.max_runs = 1000000;
  o.max_time = 50ms;
  o.max_total_time = 50ms;
  o.max_reprobes = 0;
  TimedRun ten_ms = []() -> Result<RunTime> {
    std::this_thread::sleep_for(10ms);
    return RunTime{10.0, false};
  };
  auto m = measure_latency(ten_ms, o);
  REQUIRE(m.is_ok());
  CHECK(m->converged);
  CHECK(m->timed_runs == 20);  // min_runs, then the stop rule
  CHECK(m->summary.median == 10.0);
  CHECK(m->budget_ms >= 20 * 10.0);

  // The cap bounds the scaled budget: 120 ms allow about 12 runs.
  o.max_scaled_total_time = 120ms;
  auto capped = measure_latency(ten_ms, o);
  REQUIRE(capped.is_ok());
  CHECK(capped->budget_ms == 120.0);
  CHECK(capped->timed_runs >= 3);
  CHECK(capped->timed_runs <= 13);

  // target_runs = 0: no scaling, the configured budget as before.
  o.max_scaled_total_time = 20s;
  o.target_runs = 0;
  auto fixed = measure_latency(ten_ms, o);
  REQUIRE(fixed.is_ok());
  CHECK(fixed->budget_ms == 50.0);
  CHECK(fixed->timed_runs <= 6);

  // A forward pass fast enough for the configured budget keeps it.
  o.target_runs = 60;
  o.max_total_time = 1200ms;
  o.max_time = 1500ms;
  auto fast = measure_latency(scripted([](int) { return 2.0; }), o);
  REQUIRE(fast.is_ok());
  CHECK(fast->budget_ms == 1200.0);
}

TEST_CASE("timing stops at max_time", "[probe][timing]") {
  TimingOptions o = scripted_options();
  o.max_runs = 1000000;
  o.max_time = 100ms;
  o.max_reprobes = 0;
  o.precision = 1e-9;  // never reached by real sleeps
  const auto start = std::chrono::steady_clock::now();
  auto m = measure_latency(wall_clock_run([] { std::this_thread::sleep_for(1ms); }), o);
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE(m.is_ok());
  CHECK_FALSE(m->converged);
  CHECK(took >= 100ms);
  CHECK(took < 2s);
  CHECK(m->timed_runs < 101);
  CHECK(m->summary.median >= 1.0);  // wall_clock_run measured the sleeps
}

TEST_CASE("errors and cancellation end the measurement", "[probe][timing]") {
  int calls = 0;
  TimedRun oom = [&]() -> Result<RunTime> {
    if (++calls == 5) return Status(Code::kResourceExhausted, "out of memory");
    return RunTime{1.0, false};
  };
  auto m = measure_latency(oom, scripted_options());
  CHECK(m.status().code() == Code::kResourceExhausted);
  CHECK(calls == 5);

  int runs = 0;
  auto cancelled = measure_latency(scripted([&runs](int) {
                                     ++runs;
                                     return 1.0;
                                   }),
                                   scripted_options(), [&runs] { return runs >= 7; });
  CHECK(cancelled.status().code() == Code::kCancelled);
  CHECK(runs == 7);
}

TEST_CASE("bad timing options are refused naming the field", "[probe][timing]") {
  CHECK(validate(TimingOptions{}).is_ok());
  auto field_of = [](auto change) {
    TimingOptions o;
    change(o);
    Status s = validate(o);
    CHECK(s.code() == Code::kInvalidArgument);
    return s.field();
  };
  CHECK(field_of([](TimingOptions& o) { o.warmup_runs = -1; }) == "warmup_runs");
  CHECK(field_of([](TimingOptions& o) { o.min_runs = 0; }) == "min_runs");
  CHECK(field_of([](TimingOptions& o) { o.max_runs = o.min_runs - 1; }) == "max_runs");
  CHECK(field_of([](TimingOptions& o) { o.max_time = 0ms; }) == "max_time");
  CHECK(field_of([](TimingOptions& o) { o.max_total_time = 0ms; }) == "max_total_time");
  CHECK(field_of([](TimingOptions& o) { o.target_runs = -1; }) == "target_runs");
  CHECK(field_of([](TimingOptions& o) { o.max_scaled_total_time = 0ms; }) ==
        "max_scaled_total_time");
  CHECK(field_of([](TimingOptions& o) { o.precision = 0; }) == "precision");
  CHECK(field_of([](TimingOptions& o) { o.confidence = 1; }) == "confidence");
  CHECK(field_of([](TimingOptions& o) { o.fence_k = 0; }) == "fence_k");
  CHECK(field_of([](TimingOptions& o) { o.max_spread = -1; }) == "max_spread");
  CHECK(field_of([](TimingOptions& o) { o.max_preempted_share = 0; }) == "max_preempted_share");
  CHECK(field_of([](TimingOptions& o) { o.max_preempted_share = 1.5; }) == "max_preempted_share");
  CHECK(field_of([](TimingOptions& o) { o.max_reprobes = -1; }) == "max_reprobes");
  auto refused = measure_latency(scripted([](int) { return 1.0; }), [] {
    TimingOptions o;
    o.precision = -1;
    return o;
  }());
  CHECK(refused.status().field() == "precision");
}
