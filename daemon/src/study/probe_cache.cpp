#include "study/probe_cache.hpp"

#include <nlohmann/json.hpp>

#include "autodistill/daemon/row_codec.hpp"
#include "autodistill/probe_choice.hpp"

namespace autodistill::daemon::study {

std::string arch_key(const Params& params) {
  return params_object(params).dump();
}

void ProbeCache::saw_hardware(const std::string& tag, const std::string& fingerprint) {
  if (!fingerprint.empty()) fingerprints_by_tag_[tag].insert(fingerprint);
}

std::optional<ProbeCache::Hit> ProbeCache::lookup(const std::string& tag, const Params& params,
                                                  const std::string& serving,
                                                  const std::vector<std::string>& wanted) {
  auto known = fingerprints_by_tag_.find(tag);
  if (known == fingerprints_by_tag_.end()) return std::nullopt;
  const std::string arch = arch_key(params);
  for (const std::string& fingerprint : known->second) {
    auto found = rows_.find(arch, serving, fingerprint);
    if (!found || !found.value()) continue;
    const ProbeRow& row = *found.value();
    Hit hit;
    for (const std::string& name : wanted) {
      auto value = row.objectives.find(name);
      if (value == row.objectives.end()) break;
      hit.objectives[name] = value->second;
    }
    if (hit.objectives.size() != wanted.size()) continue;
    hit.metrics = row.metrics;
    hit.metrics["cached_from_trial"] = static_cast<double>(row.trial_id);
    hit.fingerprint = fingerprint;
    hit.trial_id = row.trial_id;
    return hit;
  }
  return std::nullopt;
}

bool ProbeCache::record(const TrialRow& row, const std::string& serving, int64_t now_ms) {
  if (row.kind != wire::TrialKind::Probe || row.fingerprint.empty() ||
      !probe_converged(row.metrics)) {
    return false;
  }
  ProbeRow probe;
  probe.arch = arch_key(row.params);
  probe.serving = serving;
  probe.fingerprint = row.fingerprint;
  probe.objectives = row.objectives;
  probe.metrics = row.metrics;
  probe.trial_id = row.id;
  probe.created_ms = now_ms;
  rows_.put(probe);
  return true;
}

}  // namespace autodistill::daemon::study
