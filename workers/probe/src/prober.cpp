#include "autodistill/probe/prober.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>

#include "autodistill/probe/host_lock.hpp"

namespace autodistill::probe {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Sequences per second at one forward of `batch` sequences taking `median_ms`
// (0 for a zero median: a stand-in model that does nothing).
double sequences_per_second(int64_t batch, double median_ms) {
  return median_ms > 0 ? static_cast<double>(batch) * 1000.0 / median_ms : 0.0;
}

}  // namespace

Result<ProbeReport> run_probe(const ProbeRequest& request, const ProbeOptions& options,
                              const ModelFactory& factory, const std::function<bool()>& cancelled,
                              const ProbeProgress& progress) {
  auto report_progress = [&](double fraction, const std::string& message) {
    if (progress) progress(fraction, message);
  };
  if (Status s = validate(options.timing); !s) {
    return Status(Code::kInvalidArgument, "timing options: " + s.message(), s.field());
  }
  const ServingSetting& serving = request.serving;
  if (options.max_threads > 0 && serving.threads > options.max_threads) {
    return Status(Code::kFailedPrecondition,
                  "the serving setting asks for " + std::to_string(serving.threads) +
                      " threads but this probe worker is pinned to " +
                      std::to_string(options.max_threads) + " CPUs",
                  "settings.serving.threads");
  }

  const auto start = Clock::now();
  ProbeReport report;
  report.params = parameter_count(request.arch);
  report.flops =
      static_cast<double>(serving.batch_size) * forward_flops(request.arch, serving.seq_len);

  report_progress(0.0, "waiting for the host probe lock " + options.lock_path.string());
  auto lock = HostLock::acquire(options.lock_path, HostLock::Mode::kExclusive, cancelled);
  if (!lock) return lock.status();
  report.lock_wait_ms = ms_since(start);

  report_progress(0.05, "building the student");
  const auto build_start = Clock::now();
  auto model = factory(request);
  if (!model) return model.status();
  report.build_ms = ms_since(build_start);

  report_progress(0.1, "timing batch size " + std::to_string(serving.batch_size));
  ProbeModel& m = *model.value();
  auto latency =
      measure_latency([&] { return m.run_once(serving.batch_size); }, options.timing, cancelled);
  if (!latency) return latency.status();
  report.latency = latency.value();
  report.throughput[serving.batch_size] =
      sequences_per_second(serving.batch_size, report.latency.summary.median);

  TimingOptions throughput_timing = options.timing;
  throughput_timing.max_reprobes = 0;
  // Throughput needs a median, not a tight one: a budget scaled to the stop
  // rule's first check, not to the latency's target.
  throughput_timing.target_runs =
      std::min(throughput_timing.target_runs, throughput_timing.min_runs);
  const size_t extra = serving.throughput_batch_sizes.size();
  for (size_t i = 0; i < extra; ++i) {
    const int64_t batch = serving.throughput_batch_sizes[i];
    if (report.throughput.count(batch)) continue;
    report_progress(0.5 + 0.5 * static_cast<double>(i) / static_cast<double>(extra),
                    "timing batch size " + std::to_string(batch));
    auto timed = measure_latency([&] { return m.run_once(batch); }, throughput_timing, cancelled);
    if (!timed) return timed.status();
    report.throughput[batch] = sequences_per_second(batch, timed->summary.median);
  }
  report.peak_memory_bytes = m.peak_memory_bytes();
  report.wall_ms = ms_since(start);
  report_progress(1.0, "done");
  return report;
}

}  // namespace autodistill::probe
