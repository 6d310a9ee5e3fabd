// Honest latency (issue #14 item 3): a Probe result that did not converge is
// measured again later, as a new Probe trial of the candidate after a
// backoff (config max_reprobes, reprobe_backoff_ms); meanwhile the
// candidate's flash goes on with the provisional latency and the candidate
// stays open, so selection waits for the series to end. When the re-probes
// are spent without a converged measurement, the latest one is marked
// (latency_unconverged, autodistill/probe_choice.hpp). Which measurement
// counts: the latest converged, else the latest (selection, hand-off, report).
// The decision is study::after_probe_round() (study/reprobe.hpp, pure); here
// the rows it reads and the policy from the config.

#include "study/reprobe.hpp"
#include "autodistill/daemon/controller.hpp"
#include "controller_state.hpp"

namespace autodistill::daemon {

int64_t Controller::reprobe_delay_ms(uint32_t reprobe) const {
  return study::reprobe_delay_ms(reprobe_policy(), reprobe);
}

study::ReprobePolicy Controller::reprobe_policy() const {
  return study::ReprobePolicy{config_.max_reprobes,
                              static_cast<int64_t>(config_.reprobe_backoff_ms)};
}

bool Controller::review_probes(Study& s, uint32_t candidate, const Params& params) {
  auto trials = store_.trials_of_study(s.row.id);
  if (!trials) return true;  // as before: the next round looks again
  return apply(
      s, study::after_probe_round(trials.value(), candidate, params, reprobe_policy(), now_()));
}

}  // namespace autodistill::daemon
