#pragma once
// The metrics a Distill study measures, by the trial that measures them:
// the latency probe (serving latency and the analytic counts) and flash
// distillation (accuracies). The daemon's spec checks and trial routing and
// the CLI's progress line read these lists (docs/study-spec.md).
//
// Thread-safety: constants and pure functions.

#include <string>
#include <string_view>
#include <vector>

namespace autodistill {

// Measured by a Distill study's Probe trials.
inline const std::vector<std::string>& distill_probe_metrics() {
  static const std::vector<std::string> k = {"latency_ms", "params", "flops"};
  return k;
}

// Measured by a Distill study's Flash trials (and its Regular trials).
inline const std::vector<std::string>& distill_accuracy_metrics() {
  static const std::vector<std::string> k = {"accuracy", "mlm_accuracy", "nsp_accuracy"};
  return k;
}

inline bool is_distill_accuracy_metric(std::string_view name) {
  for (const std::string& k : distill_accuracy_metrics()) {
    if (name == k) return true;
  }
  return false;
}

}  // namespace autodistill
