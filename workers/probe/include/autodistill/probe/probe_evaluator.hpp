#pragma once
// ProbeEvaluator: the latency-probe worker's Evaluator (worker/evaluator.hpp).
// For each Probe trial it reads the architecture and serving setting
// (parse_probe_request), probes it (run_probe) and reports:
//
//   objectives  latency_ms (median), params, flops: every one of them, so a
//               study constraining one it does not optimize still gets it
//               (the pull loop reports those beyond Assign.objectives as metrics)
//   metrics     p90_ms, p99_ms, mean_ms, std_ms, min_ms, max_ms,
//               median_ci_low_ms, median_ci_high_ms, relative_iqr, runs,
//               outliers, warmup_runs, preempted_runs, probe_attempts,
//               converged (1 or 0),
//               throughput_bs<N> (sequences/s at batch size N),
//               peak_memory_bytes, lock_wait_ms, build_ms, probe_wall_ms,
//               batch_size, seq_len, threads
//   fingerprint the worker's hardware fingerprint
//
// A trial that cannot be probed as asked fails for good (permanent_failure):
// a kind other than Probe, an objective it does not measure, a bad
// architecture or setting (the field names the factor, e.g. params.num_heads).
//
// Thread-safe (no mutable state); probes sharing a lock path run one at a time.

#include <string>
#include <vector>

#include "autodistill/probe/probe_model.hpp"
#include "autodistill/probe/prober.hpp"
#include "autodistill/worker/evaluator.hpp"

namespace autodistill::probe {

// latency_ms, params, flops.
const std::vector<std::string>& probe_objective_names();

// The objectives and metrics above, from a report.
worker::TrialOutcome outcome_from_report(const ProbeReport& report, const ProbeRequest& request,
                                         const std::string& hardware_fingerprint);

class ProbeEvaluator : public worker::Evaluator {
 public:
  // `hardware_fingerprint` is recorded with every result (Hello's, normally).
  ProbeEvaluator(ProbeOptions options, ModelFactory factory, std::string hardware_fingerprint);

  Result<worker::TrialOutcome> evaluate(worker::TrialContext& ctx) override;

 private:
  const ProbeOptions options_;
  const ModelFactory factory_;
  const std::string hardware_fingerprint_;
};

}  // namespace autodistill::probe
