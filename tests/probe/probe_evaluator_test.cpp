// The probe worker's Evaluator with a stand-in model: complete, well-formed
// results, and permanent failures that name what is wrong.

#include <cmath>
#include <thread>

#include <catch2/catch.hpp>

#include "autodistill/probe/host_lock.hpp"
#include "autodistill/probe/probe_evaluator.hpp"
#include "probe_test_support.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::probe;
using test::TempDir;
using worker::TrialContext;
using worker::TrialSpec;

const std::string kFingerprint(64, 'f');

TrialSpec probe_spec() {
  TrialSpec s;
  s.trial_id = 9;
  s.attempt = 1;
  s.kind = wire::TrialKind::Probe;
  s.params = {{"num_blocks", 2.0}, {"hidden_size", 64.0},       {"bottleneck_size", 32.0},
              {"num_heads", 2.0},  {"intermediate_size", 64.0}, {"num_stacked_ffn", 1.0}};
  s.objectives = {"latency_ms", "params"};
  s.settings_json = R"({"student": {"vocab_size": 1000, "max_positions": 64},
                        "serving": {"seq_len": 32, "throughput_batch_sizes": [4]}})";
  return s;
}

Result<worker::TrialOutcome> evaluate(const TrialSpec& spec, const TempDir& dir) {
  ProbeEvaluator evaluator(test::quick_options(dir.path() / "probe.lock"), test::spin_factory(),
                           kFingerprint);
  TrialContext ctx(spec, dir.path());
  return evaluator.evaluate(ctx);
}

}  // namespace

TEST_CASE("a probe reports every objective and metric, well-formed", "[probe][evaluator]") {
  TempDir dir;
  const TrialSpec spec = probe_spec();
  TrialContext ctx(spec, dir.path());
  ProbeEvaluator evaluator(test::quick_options(dir.path() / "probe.lock"), test::spin_factory(),
                           kFingerprint);
  auto outcome = evaluator.evaluate(ctx);
  REQUIRE(outcome.is_ok());
  CHECK(ctx.progress().fraction == 1.0);

  StudentArch arch = test::small_request().arch;
  const auto& o = outcome->objectives;
  REQUIRE(o.size() == 3);  // latency_ms, params, flops: flops goes out as a metric
  CHECK(o.at("params") == static_cast<double>(parameter_count(arch)));
  CHECK(o.at("flops") == forward_flops(arch, 32));
  const double median = o.at("latency_ms");
  CHECK(median > 0);

  const auto& m = outcome->metrics;
  for (const char* name : {"p90_ms",           "p99_ms",
                           "mean_ms",          "std_ms",
                           "min_ms",           "max_ms",
                           "median_ci_low_ms", "median_ci_high_ms",
                           "relative_iqr",     "runs",
                           "outliers",         "warmup_runs",
                           "preempted_runs",   "probe_attempts",
                           "converged",        "throughput_bs1",
                           "throughput_bs4",   "peak_memory_bytes",
                           "lock_wait_ms",     "build_ms",
                           "probe_wall_ms",    "batch_size",
                           "seq_len",          "threads",
                           "run_estimate_ms",  "probe_budget_ms"}) {
    INFO(name);
    REQUIRE(m.count(name) == 1);
    CHECK(std::isfinite(m.at(name)));
    CHECK(m.at(name) >= 0);
  }
  CHECK(m.at("run_estimate_ms") > 0);
  CHECK(m.at("probe_budget_ms") > 0);
  CHECK(m.at("min_ms") <= median);
  CHECK(median <= m.at("p90_ms"));
  CHECK(m.at("p90_ms") <= m.at("p99_ms"));
  CHECK(m.at("p99_ms") <= m.at("max_ms"));
  CHECK(m.at("median_ci_low_ms") <= median);
  CHECK(median <= m.at("median_ci_high_ms"));
  CHECK(m.at("runs") >= 1);
  CHECK(m.at("probe_attempts") >= 1);
  CHECK(m.at("throughput_bs1") == Approx(1000.0 / median));
  CHECK(m.at("throughput_bs4") > 0);
  CHECK(m.at("peak_memory_bytes") == 4096);
  CHECK(m.at("batch_size") == 1);
  CHECK(m.at("seq_len") == 32);
  CHECK(m.at("threads") == 1);
  CHECK(outcome->hardware_fingerprint == kFingerprint);
}

TEST_CASE("a bad architecture fails for good, naming the factor", "[probe][evaluator]") {
  TempDir dir;
  TrialSpec heads = probe_spec();
  heads.params["num_heads"] = 3.0;  // does not divide the bottleneck 32
  auto outcome = evaluate(heads, dir);
  REQUIRE_FALSE(outcome.is_ok());
  CHECK_FALSE(worker::is_retryable(outcome.status()));
  CHECK(outcome.status().field() == "params.num_heads");
  CHECK(outcome.status().message().find("num_heads (3) must divide bottleneck_size (32)") !=
        std::string::npos);

  TrialSpec zero = probe_spec();
  zero.params["bottleneck_size"] = 0.0;
  outcome = evaluate(zero, dir);
  REQUIRE_FALSE(outcome.is_ok());
  CHECK_FALSE(worker::is_retryable(outcome.status()));
  CHECK(outcome.status().field() == "params.bottleneck_size");

  TrialSpec label = probe_spec();
  label.params["num_blocks"] = std::string("deep");
  outcome = evaluate(label, dir);
  CHECK_FALSE(worker::is_retryable(outcome.status()));
  CHECK(outcome.status().field() == "params.num_blocks");
}

TEST_CASE("trials a probe cannot serve fail for good", "[probe][evaluator]") {
  TempDir dir;
  TrialSpec flash = probe_spec();
  flash.kind = wire::TrialKind::Flash;
  auto outcome = evaluate(flash, dir);
  CHECK_FALSE(worker::is_retryable(outcome.status()));
  CHECK(outcome.status().field() == "kind");

  TrialSpec accuracy = probe_spec();
  accuracy.objectives = {"latency_ms", "accuracy"};
  outcome = evaluate(accuracy, dir);
  CHECK_FALSE(worker::is_retryable(outcome.status()));
  CHECK(outcome.status().field() == "objectives.accuracy");

  TrialSpec threads = probe_spec();
  threads.settings_json = R"({"serving": {"threads": 4}})";
  ProbeOptions pinned = test::quick_options(dir.path() / "probe.lock");
  pinned.max_threads = 2;
  ProbeEvaluator evaluator(pinned, test::spin_factory(), kFingerprint);
  TrialContext ctx(threads, dir.path());
  outcome = evaluator.evaluate(ctx);
  CHECK(outcome.status().code() == Code::kFailedPrecondition);
  CHECK_FALSE(worker::is_retryable(outcome.status()));
  CHECK(outcome.status().field() == "settings.serving.threads");
}

TEST_CASE("a cancelled probe stops while waiting for the lock", "[probe][evaluator]") {
  TempDir dir;
  auto held = HostLock::acquire(dir.path() / "probe.lock", HostLock::Mode::kShared);
  REQUIRE(held.is_ok());
  ProbeEvaluator evaluator(test::quick_options(dir.path() / "probe.lock"), test::spin_factory(),
                           kFingerprint);
  TrialContext ctx(probe_spec(), dir.path());
  std::thread canceller([&ctx] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ctx.cancel();
  });
  auto outcome = evaluator.evaluate(ctx);
  canceller.join();
  CHECK(outcome.status().code() == Code::kCancelled);
  CHECK(ctx.progress().message.find("waiting for the host probe lock") != std::string::npos);
}
