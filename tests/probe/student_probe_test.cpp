// Probing the real LibTorch student on the CPU: complete results, a student
// 4x larger in every dimension measures slower, devices this build cannot
// serve are refused, and the hardware description names LibTorch.

#include <catch2/catch.hpp>

#include "autodistill/probe/cpu_set.hpp"
#include "autodistill/probe/probe_hardware.hpp"
#include "autodistill/probe/prober.hpp"
#include "autodistill/probe/student_model.hpp"
#include "autodistill/worker/hardware.hpp"
#include "probe_test_support.hpp"
#include "worker_test_support.hpp"

namespace {

using namespace autodistill;
using namespace autodistill::probe;
using test::TempDir;

// Sizes x `scale` in every dimension: blocks, hidden, bottleneck, heads,
// intermediate, stacked FFNs.
ProbeRequest scaled_request(int64_t scale) {
  ProbeRequest r;
  r.arch.num_blocks = 1 * scale;
  r.arch.hidden_size = 32 * scale;
  r.arch.bottleneck_size = 16 * scale;
  r.arch.num_heads = 1 * scale;
  r.arch.intermediate_size = 32 * scale;
  r.arch.num_stacked_ffn = 1 * scale;
  r.arch.vocab_size = 512;
  r.arch.max_positions = 64;
  r.serving.seq_len = 32;
  return r;
}

}  // namespace

TEST_CASE("the real student probes to a complete report", "[probe][student]") {
  TempDir dir;
  ProbeRequest request = scaled_request(2);
  request.serving.throughput_batch_sizes = {4};
  auto report =
      run_probe(request, test::quick_options(dir.path() / "probe.lock"), student_model_factory());
  REQUIRE(report.is_ok());
  const LatencySummary& s = report->latency.summary;
  CHECK(s.runs >= 1);
  CHECK(s.runs + s.outliers <= static_cast<size_t>(report->latency.timed_runs));
  CHECK(s.median > 0);
  CHECK(s.min <= s.median);
  CHECK(s.median <= s.p90);
  CHECK(s.p90 <= s.p99);
  CHECK(s.p99 <= s.max);
  CHECK(s.median_ci.low <= s.median);
  CHECK(s.median <= s.median_ci.high);
  CHECK(report->params == parameter_count(request.arch));
  CHECK(report->flops == forward_flops(request.arch, 32));
  REQUIRE(report->throughput.size() == 2);
  CHECK(report->throughput.at(1) == Approx(1000.0 / s.median));
  CHECK(report->throughput.at(4) > 0);
  // At least the weights (4 bytes per parameter) became resident.
  CHECK(report->peak_memory_bytes >= 4 * static_cast<uint64_t>(report->params) / 2);
  CHECK(report->build_ms > 0);
  CHECK(report->wall_ms >= report->build_ms);
}

TEST_CASE("a student 4x larger in every dimension measures slower", "[probe][student]") {
  TempDir dir;
  const ProbeOptions options = test::quick_options(dir.path() / "probe.lock");
  auto small = run_probe(scaled_request(1), options, student_model_factory());
  auto large = run_probe(scaled_request(4), options, student_model_factory());
  REQUIRE(small.is_ok());
  REQUIRE(large.is_ok());
  INFO("small " << small->latency.summary.median << " ms, large " << large->latency.summary.median
                << " ms");
  CHECK(large->latency.summary.median > 1.5 * small->latency.summary.median);
  CHECK(large->params > small->params);
  CHECK(large->flops > small->flops);
}

TEST_CASE("a device this LibTorch cannot serve is refused", "[probe][student]") {
  if (cuda_compiled()) return;  // there "cuda" may exist: checked on GPU hosts
  TempDir dir;
  ProbeRequest request = scaled_request(1);
  request.serving.device = "cuda";
  auto report =
      run_probe(request, test::quick_options(dir.path() / "probe.lock"), student_model_factory());
  CHECK(report.status().code() == Code::kFailedPrecondition);
  CHECK(report.status().field() == "settings.serving.device");
  CHECK(report.status().message().find("without CUDA") != std::string::npos);
}

TEST_CASE("the probe's hardware names LibTorch and the CPUs it uses", "[probe][student]") {
  const std::vector<int> cpus = {allowed_cpus().front()};
  const wire::HardwareT hw = describe_probe_host("tag-1", cpus);
  CHECK(hw.tag == "tag-1");
  CHECK_FALSE(hw.torch_version.empty());
  CHECK(hw.threads == 1);
  CHECK(hw.cores == 1);
  CHECK(hw.fingerprint == worker::hardware_fingerprint(hw));
  CHECK(hw.fingerprint != worker::describe_host("tag-1").fingerprint);      // LibTorch is in it
  CHECK(describe_probe_host("other", cpus).fingerprint == hw.fingerprint);  // stable
  if (!cuda_compiled()) CHECK(hw.accelerator.empty());
}
