#pragma once
// The probe measurement a Regular trial carries to the distillation worker.
// The worker never sees the latency probe's Result, yet the student it
// delivers must state its measured latency (manifest.json, "latency"); so
// the daemon adds the candidate's completed Probe trial to the Regular
// trial's settings (wire Assign.settings_json) under "probe":
//
//   {"probe": {"trial_id": 12, "hardware_fingerprint": "…",
//              "objectives": {"latency_ms": 3.1, …}, "metrics": {"median_ci_low_ms": …, …}}}
//
// Thread-safety: pure functions.

#include <optional>
#include <string>
#include <vector>

#include "autodistill/daemon/store.hpp"

namespace autodistill::daemon {

// The completed Probe trial of `candidate` among `trials` that counts (when
// there are several, re-probes: the latest converged one, else the latest;
// autodistill/probe_choice.hpp), or nullopt.
std::optional<TrialRow> completed_probe(const std::vector<TrialRow>& trials, uint32_t candidate);

// `settings_json` (a JSON object, "" meaning {}) with "probe" set from
// `probe`'s id, fingerprint, objectives and metrics (replacing any "probe"
// the study had), through the one settings codec (study_settings.hpp:
// ProbeHandoff). Settings that are not a JSON object, or that the codec
// refuses (a study that passed submit never is), are returned as they are.
std::string settings_with_probe(const std::string& settings_json, const TrialRow& probe);

}  // namespace autodistill::daemon
