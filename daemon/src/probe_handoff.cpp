#include "autodistill/daemon/probe_handoff.hpp"

#include <nlohmann/json.hpp>

#include "autodistill/bounded_json.hpp"
#include "autodistill/wire/codec.hpp"

namespace autodistill::daemon {

namespace {

nlohmann::ordered_json object_or_empty(const std::string& text) {
  auto json = parse_json<nlohmann::ordered_json>(text, "stored metrics");
  return json && json->is_object() ? json.value() : nlohmann::ordered_json::object();
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
  auto parsed = parse_json<nlohmann::ordered_json>(settings_json.empty() ? "{}" : settings_json,
                                                   "settings_json");
  if (!parsed || !parsed->is_object()) return settings_json;
  nlohmann::ordered_json settings = std::move(parsed.value());
  settings["probe"] = {{"trial_id", probe.id},
                       {"hardware_fingerprint", probe.fingerprint},
                       {"objectives", object_or_empty(probe.objectives_json)},
                       {"metrics", object_or_empty(probe.metrics_json)}};
  return settings.dump();
}

}  // namespace autodistill::daemon
