#pragma once
// The latency landscape of a study: every completed probe measurement as
// CSV, one row per measured architecture, so an operator can look at how
// the target hardware responds to the design space.

#include <string>
#include <vector>

#include "autodistill/study.hpp"

namespace autodistill {

// Columns: trial_id, candidate, one per factor (in the order of the first
// probe trial's params), then every objective and metric any probe reported
// (sorted by name; empty where a trial lacks one), then hardware_fingerprint.
// Only completed Probe trials appear. RFC 4180 quoting.
std::string landscape_csv(const std::vector<TrialInfo>& trials);

}  // namespace autodistill
