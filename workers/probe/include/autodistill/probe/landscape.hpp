#pragma once
// The latency landscape of a design space: probe every architecture of a
// study's design space on this host and write one CSV row per point, so an
// operator can look at the hardware's landscape (which sizes are cheap,
// where latency jumps) before or after a study.
//
// The space is read from a study spec file (docs/study-spec.md): its
// "factors" (ordinal or integer architecture factors) and "settings" (the
// serving setting and fixed student sizes, probe_request.hpp); other keys are
// ignored, so the file a study was submitted with works as is.
//
// Thread-safety: the functions are thread-safe; write_landscape probes
// through run_probe, one point at a time.

#include <cstddef>
#include <functional>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "autodistill/probe/probe_model.hpp"
#include "autodistill/probe/prober.hpp"
#include "autodistill/status.hpp"

namespace autodistill::probe {

struct DesignSpace {
  struct Factor {
    std::string name;
    std::vector<double> values;  // ordinal values as given; integer: low..high
  };
  std::vector<Factor> factors;
  std::string settings_json;  // the spec's "settings" as JSON text; "" when absent

  // Number of points: the product of the factors' value counts.
  size_t size() const;
  // Point `index` in [0, size()): factor name -> value, the last factor
  // varying fastest.
  std::map<std::string, double> point(size_t index) const;
};

// Limits that keep an accidental huge space from exhausting memory.
inline constexpr size_t kMaxFactorValues = 4096;
inline constexpr size_t kMaxLandscapePoints = 10'000'000;

// Parses the "factors" and "settings" of a study spec file. kInvalidArgument
// with the JSON path at fault ("factors[2].kind", "factors[0].values[1]"):
// not JSON, no factors, a categorical or continuous factor, an empty or
// oversized range, a duplicate factor name, settings that are not an object.
Result<DesignSpace> parse_design_space(const std::string& json_text);

// One progress line per point ("12/576 num_blocks=4 ...: 3.21 ms").
using LandscapeLog = std::function<void(const std::string& line)>;

// Probes every point of `space` in order and writes the CSV to `csv`:
// a header, then one row per point, flushed as it is measured:
//   <factor columns>,params,flops,latency_ms,p90_ms,p99_ms,mean_ms,std_ms,
//   min_ms,runs,median_ci_low_ms,median_ci_high_ms,converged,timed_runs,
//   preempted_runs,attempts,peak_memory_bytes,probe_wall_ms,
//   hardware_fingerprint,error
// (the latency columns over the kept runs; latency_ms well above min_ms, a
// high preempted_runs / timed_runs or converged = 0 flag a contended point.)
// A point that cannot be probed (an invalid architecture such as heads not
// dividing the bottleneck, or a probe error) gets a row with its factors and
// the error, and the export goes on. Returns kCancelled once `cancelled`
// (may be empty) is true, kInternal when `csv` fails.
Status write_landscape(const DesignSpace& space, const ProbeOptions& options,
                       const ModelFactory& factory, const std::string& hardware_fingerprint,
                       std::ostream& csv, const LandscapeLog& log = {},
                       const std::function<bool()>& cancelled = {});

}  // namespace autodistill::probe
