#include "study/reprobe.hpp"

#include <algorithm>
#include <cstdio>

#include "autodistill/probe_choice.hpp"

namespace autodistill::daemon::study {

using wire::TrialKind;
using wire::TrialState;

int64_t reprobe_delay_ms(const ReprobePolicy& policy, uint32_t reprobe) {
  const uint32_t doublings = std::min<uint32_t>(reprobe > 0 ? reprobe - 1 : 0, 20);
  return policy.backoff_ms << doublings;
}

std::string latency_text(const TrialRow& row) {
  const Values& objectives = row.objectives;
  const Values& metrics = row.metrics;
  auto latency = objectives.find("latency_ms");
  if (latency == objectives.end()) return "no latency";
  char text[128];
  auto low = metrics.find("median_ci_low_ms"), high = metrics.find("median_ci_high_ms");
  if (low != metrics.end() && high != metrics.end()) {
    std::snprintf(text, sizeof text, "%.3f ms (95%% CI %.3f-%.3f)", latency->second, low->second,
                  high->second);
  } else {
    std::snprintf(text, sizeof text, "%.3f ms", latency->second);
  }
  return text;
}

Effects after_probe_round(const std::vector<TrialRow>& trials, uint32_t candidate,
                          const Params& params, const ReprobePolicy& policy, int64_t now_ms) {
  uint32_t rounds = 0;
  bool any_converged = false;
  const TrialRow* latest = nullptr;  // the latest completed measurement
  for (const TrialRow& t : trials) {
    if (t.candidate != candidate || t.kind != TrialKind::Probe) continue;
    ++rounds;
    if (t.state != TrialState::Completed) continue;
    latest = &t;
    any_converged = any_converged || probe_converged(t.metrics);
  }
  // Failed before any measurement (the candidate failed), or one converged.
  if (latest == nullptr || any_converged) return {};
  const uint32_t reprobes = rounds - 1;
  if (reprobes < policy.max_reprobes) {
    const int64_t delay = reprobe_delay_ms(policy, reprobes + 1);
    char wait[32];
    std::snprintf(wait, sizeof wait, "%.1f s", static_cast<double>(delay) / 1000);
    return {QueueTrial{candidate, TrialKind::Probe, params,
                       " reprobe " + std::to_string(reprobes + 1), now_ms + delay},
            ReprobeQueued{
                "candidate " + std::to_string(candidate) + ": latency " + latency_text(*latest) +
                " did not converge; re-probe " + std::to_string(reprobes + 1) + " of " +
                std::to_string(policy.max_reprobes) + " in " + wait + " (provisional until then)"}};
  }
  TrialRow marked = *latest;
  marked.metrics[kLatencyUnconvergedMetric] = 1;
  std::string message = "candidate " + std::to_string(candidate) +
                        ": latency did not converge in " + std::to_string(rounds) +
                        (rounds == 1 ? " probe" : " probes") + "; counted: the latest, " +
                        latency_text(marked);
  return {MarkUnconverged{std::move(marked), std::move(message)}};
}

}  // namespace autodistill::daemon::study
