#include "autodistill/daemon/probe_handoff.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "autodistill/daemon/study_spec.hpp"
#include "autodistill/probe_choice.hpp"
#include "autodistill/study_settings.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon {

std::optional<TrialRow> completed_probe(const std::vector<TrialRow>& trials, uint32_t candidate) {
  std::vector<const TrialRow*> probes;
  for (const TrialRow& t : trials) {
    if (t.candidate == candidate && t.kind == wire::TrialKind::Probe &&
        t.state == wire::TrialState::Completed) {
      probes.push_back(&t);
    }
  }
  std::stable_sort(probes.begin(), probes.end(),
                   [](const TrialRow* a, const TrialRow* b) { return a->id < b->id; });
  std::vector<bool> converged;
  for (const TrialRow* t : probes) converged.push_back(probe_converged(t->metrics));
  auto counted = counted_measurement(converged);
  if (!counted) return std::nullopt;
  return *probes[*counted];
}

std::string settings_with_probe(const std::string& settings_json, const TrialRow& probe) {
  auto parsed = parse_json(settings_json.empty() ? "{}" : settings_json, "settings_json");
  if (!parsed || !parsed->is_object()) return settings_json;
  parsed->erase("probe");  // replaced below
  auto settings = parse_study_settings(parsed.value(), "settings_json");
  if (!settings) return settings_json;
  ProbeHandoff handoff;
  handoff.trial_id = probe.id;
  handoff.hardware_fingerprint = probe.fingerprint;
  handoff.objectives = {probe.objectives.begin(), probe.objectives.end()};
  handoff.metrics = {probe.metrics.begin(), probe.metrics.end()};
  settings->probe = std::move(handoff);
  return to_json(settings.value()).dump();
}

}  // namespace autodistill::daemon
