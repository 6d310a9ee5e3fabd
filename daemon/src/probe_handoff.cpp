#include "autodistill/daemon/probe_handoff.hpp"

#include <nlohmann/json.hpp>

#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon {

namespace {

nlohmann::ordered_json object_or_empty(const std::string& text) {
  nlohmann::ordered_json json = nlohmann::ordered_json::parse(text, nullptr, false);
  return json.is_object() ? json : nlohmann::ordered_json::object();
}

}  // namespace

std::optional<TrialRow> completed_probe(const std::vector<TrialRow>& trials, uint32_t candidate) {
  std::optional<TrialRow> found;
  for (const TrialRow& t : trials) {
    if (t.candidate == candidate && t.kind == static_cast<int>(wire::TrialKind::Probe) &&
        t.state == static_cast<int>(wire::TrialState::Completed) && (!found || t.id > found->id)) {
      found = t;
    }
  }
  return found;
}

std::string settings_with_probe(const std::string& settings_json, const TrialRow& probe) {
  nlohmann::ordered_json settings =
      nlohmann::ordered_json::parse(settings_json.empty() ? "{}" : settings_json, nullptr, false);
  if (!settings.is_object()) return settings_json;
  settings["probe"] = {{"trial_id", probe.id},
                       {"hardware_fingerprint", probe.fingerprint},
                       {"objectives", object_or_empty(probe.objectives_json)},
                       {"metrics", object_or_empty(probe.metrics_json)}};
  return settings.dump();
}

}  // namespace autodistill::daemon
