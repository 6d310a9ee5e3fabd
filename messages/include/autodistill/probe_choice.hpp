#pragma once
// Which of a candidate's latency measurements counts (issue #14 item 3).
//
// A probe worker reports `converged` = 1 when the 95 % confidence interval
// of its median reached the requested precision, 0 when a cap or its time
// budget was hit first (a loaded host). The daemon probes a candidate whose
// measurement did not converge again, later (docs/probe.md, "Re-probes"),
// so a candidate may have several completed Probe trials. The daemon's
// selection for regular distillation, the probe measurement handed to the
// Regular trial and the client's report all use the same one: the latest
// converged measurement, else the latest. When the re-probes are spent and
// none converged, the daemon marks the candidate's latest measurement with
// the metric `latency_unconverged` = 1.
//
// Lives in messages/ because the daemon and the client both link it. No I/O.
// Thread-safety: pure functions.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace autodistill {

// Metric a probe worker reports: 1 converged, 0 not.
inline constexpr const char* kProbeConvergedMetric = "converged";
// Metric the daemon sets on a candidate's latest measurement when no
// measurement of it converged within the re-probes.
inline constexpr const char* kLatencyUnconvergedMetric = "latency_unconverged";

// Whether a probe's metrics say it converged. A measurement without the
// metric (a cached one, a probe worker that does not report it) counts as
// converged: nothing says otherwise.
bool probe_converged(const std::map<std::string, double>& metrics);

// The measurement that counts among a candidate's completed probes, given
// whether each converged (oldest first): the index of the latest converged
// one, else of the latest; nullopt when there is none.
std::optional<size_t> counted_measurement(const std::vector<bool>& converged);

}  // namespace autodistill
