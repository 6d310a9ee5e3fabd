#include "autodistill/probe/probe_evaluator.hpp"

#include <algorithm>
#include <map>
#include <utility>

namespace autodistill::probe {

namespace {

using worker::permanent_failure;

// The trial's factor values as numbers; a label is not an architecture size.
Result<std::map<std::string, double>> numeric_params(const worker::TrialSpec& spec) {
  std::map<std::string, double> out;
  for (const auto& [name, value] : spec.params) {
    if (const auto* label = std::get_if<std::string>(&value)) {
      return permanent_failure(
          "factor " + name + " must be a number, not the label \"" + *label + "\"",
          "params." + name);
    }
    out[name] = std::get<double>(value);
  }
  return out;
}

}  // namespace

const std::vector<std::string>& probe_objective_names() {
  static const std::vector<std::string> names = {"latency_ms", "params", "flops"};
  return names;
}

worker::TrialOutcome outcome_from_report(const ProbeReport& report, const ProbeRequest& request,
                                         const std::string& hardware_fingerprint) {
  const LatencySummary& s = report.latency.summary;
  worker::TrialOutcome outcome;
  outcome.objectives = {{"latency_ms", s.median},
                        {"params", static_cast<double>(report.params)},
                        {"flops", report.flops}};
  auto& m = outcome.metrics;
  m["p90_ms"] = s.p90;
  m["p99_ms"] = s.p99;
  m["mean_ms"] = s.mean;
  m["std_ms"] = s.std_dev;
  m["min_ms"] = s.min;
  m["max_ms"] = s.max;
  m["median_ci_low_ms"] = s.median_ci.low;
  m["median_ci_high_ms"] = s.median_ci.high;
  m["relative_iqr"] = s.relative_iqr;
  m["runs"] = static_cast<double>(s.runs);
  m["outliers"] = static_cast<double>(s.outliers);
  m["warmup_runs"] = report.latency.warmup_runs;
  m["preempted_runs"] = report.latency.preempted_runs;
  m["probe_attempts"] = report.latency.attempts;
  m["converged"] = report.latency.converged ? 1.0 : 0.0;
  m["run_estimate_ms"] = report.latency.run_estimate_ms;
  m["probe_budget_ms"] = report.latency.budget_ms;
  for (const auto& [batch, per_second] : report.throughput) {
    m["throughput_bs" + std::to_string(batch)] = per_second;
  }
  m["peak_memory_bytes"] = static_cast<double>(report.peak_memory_bytes);
  m["lock_wait_ms"] = report.lock_wait_ms;
  m["build_ms"] = report.build_ms;
  m["probe_wall_ms"] = report.wall_ms;
  m["batch_size"] = static_cast<double>(request.serving.batch_size);
  m["seq_len"] = static_cast<double>(request.serving.seq_len);
  m["threads"] = request.serving.threads;
  outcome.hardware_fingerprint = hardware_fingerprint;
  return outcome;
}

ProbeEvaluator::ProbeEvaluator(ProbeOptions options, ModelFactory factory,
                               std::string hardware_fingerprint)
    : options_(std::move(options)),
      factory_(std::move(factory)),
      hardware_fingerprint_(std::move(hardware_fingerprint)) {}

Result<worker::TrialOutcome> ProbeEvaluator::evaluate(worker::TrialContext& ctx) {
  const worker::TrialSpec& spec = ctx.spec();
  if (spec.kind != wire::TrialKind::Probe) {
    return permanent_failure(std::string("a probe worker runs Probe trials, not ") +
                                 wire::EnumNameTrialKind(spec.kind) + " trials",
                             "kind");
  }
  const auto& measured = probe_objective_names();
  for (const std::string& name : spec.objectives) {
    if (std::find(measured.begin(), measured.end(), name) == measured.end()) {
      return permanent_failure(
          "a probe measures latency_ms, params and flops, not \"" + name + "\"",
          "objectives." + name);
    }
  }
  auto params = numeric_params(spec);
  if (!params) return params.status();
  auto request = parse_probe_request(params.value(), spec.settings_json);
  if (!request) return request.status();

  auto report = run_probe(
      request.value(), options_, factory_, [&ctx] { return ctx.cancelled(); },
      [&ctx](double fraction, const std::string& message) {
        ctx.report_progress(fraction, message);
      });
  if (!report) return report.status();
  return outcome_from_report(report.value(), request.value(), hardware_fingerprint_);
}

}  // namespace autodistill::probe
