#pragma once
// Honest latency (issue #14 item 3), decided as effects: no I/O, no clock
// (`now_ms` is passed in). A Probe result that did not converge is measured
// again later, as a new Probe trial of the candidate after a backoff
// (config max_reprobes, reprobe_backoff_ms); when the re-probes are spent
// without a converged measurement, the latest one is marked
// (latency_unconverged, autodistill/probe_choice.hpp).

#include <cstdint>
#include <string>
#include <vector>

#include "autodistill/daemon/store.hpp"
#include "study/lifecycle.hpp"

namespace autodistill::daemon::study {

struct ReprobePolicy {
  uint32_t max_reprobes = 0;
  int64_t backoff_ms = 0;
};

// How long re-probe number `reprobe` (1, 2, ...) waits: backoff_ms, doubled
// for each re-probe after the first (at most 2^20 times).
int64_t reprobe_delay_ms(const ReprobePolicy& policy, uint32_t reprobe);

// "12.345 ms (95% CI 12.000-12.700)", "12.345 ms" or "no latency".
std::string latency_text(const TrialRow& row);

// A probe round of the candidate ended without a converged measurement;
// `trials`: the study's stored rows (the candidate's Probe rows, oldest
// first, are its rounds). Nothing when no round completed (the candidate
// failed before any measurement) or one converged; else, while re-probes
// are left, QueueTrial (a Probe, note " reprobe N", not before now_ms + the
// delay) and ReprobeQueued; else MarkUnconverged of the latest completed
// round.
Effects after_probe_round(const std::vector<TrialRow>& trials, uint32_t candidate,
                          const Params& params, const ReprobePolicy& policy, int64_t now_ms);

}  // namespace autodistill::daemon::study
