// Honest latency (issue #14 item 3): a Probe result that did not converge is
// measured again later, as a new Probe trial of the candidate after a
// backoff (config max_reprobes, reprobe_backoff_ms); meanwhile the
// candidate's flash goes on with the provisional latency and the candidate
// stays open, so selection waits for the series to end. When the re-probes
// are spent without a converged measurement, the latest one is marked
// (latency_unconverged, autodistill/probe_choice.hpp). Which measurement
// counts: the latest converged, else the latest (selection, hand-off, report).

#include <algorithm>
#include <cstdio>

#include "autodistill/daemon/controller.hpp"
#include "autodistill/daemon/log.hpp"
#include "autodistill/probe_choice.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

namespace {

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

}  // namespace

int64_t Controller::reprobe_delay_ms(uint32_t reprobe) const {
  const uint32_t doublings = std::min<uint32_t>(reprobe > 0 ? reprobe - 1 : 0, 20);
  return static_cast<int64_t>(config_.reprobe_backoff_ms) << doublings;
}

void Controller::after_probe_round(Study& s, uint32_t candidate, const Params& params,
                                   bool completed, bool converged) {
  if (completed && converged) return;  // the common case: nothing to look up
  if (s.state() != StudyState::Exploring || shutting_down_ || s.book.failed(candidate)) {
    return;
  }
  auto trials = store_.trials_of_study(s.row.id);
  if (!trials) return;
  uint32_t rounds = 0;
  bool any_converged = false;
  const TrialRow* latest = nullptr;  // the latest completed measurement
  for (const TrialRow& t : trials.value()) {
    if (t.candidate != candidate || t.kind != TrialKind::Probe) continue;
    ++rounds;
    if (t.state != TrialState::Completed) continue;
    latest = &t;
    any_converged = any_converged || probe_converged(t.metrics);
  }
  // Failed before any measurement (the candidate failed), or one converged.
  if (latest == nullptr || any_converged) return;
  const uint32_t reprobes = rounds - 1;
  if (reprobes < config_.max_reprobes) {
    const int64_t delay = reprobe_delay_ms(reprobes + 1);
    const std::string note = " reprobe " + std::to_string(reprobes + 1);
    if (!queue_trial(s, candidate, TrialKind::Probe, params, note, now_() + delay)) return;
    metrics_.reprobes++;
    char wait[32];
    std::snprintf(wait, sizeof wait, "%.1f s", static_cast<double>(delay) / 1000);
    // queue_trial() appended the new trial to the probe queue.
    event(s, "reprobe_queued", s.ready[static_cast<int>(Role::Probe)].back(), 1,
          "candidate " + std::to_string(candidate) + ": latency " + latency_text(*latest) +
              " did not converge; re-probe " + std::to_string(reprobes + 1) + " of " +
              std::to_string(config_.max_reprobes) + " in " + wait + " (provisional until then)");
    return;
  }
  TrialRow marked = *latest;
  marked.metrics[kLatencyUnconvergedMetric] = 1;
  store_.update_trial(marked);
  metrics_.latency_unconverged++;
  const std::string message = "candidate " + std::to_string(candidate) +
                              ": latency did not converge in " + std::to_string(rounds) +
                              (rounds == 1 ? " probe" : " probes") + "; counted: the latest, " +
                              latency_text(marked);
  event(s, "latency_unconverged", marked.id, marked.attempt, message);
  LOG_WARN("study " << s.row.id << " " << message);
}

}  // namespace autodistill::daemon
