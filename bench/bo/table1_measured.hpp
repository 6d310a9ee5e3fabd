#pragma once
// The Table 1 latency landscape MEASURED by the project's probe code:
// data/table1_latency_cpu.csv, written by
// `autodistill-probe-worker --landscape data/table1_space_4blocks.json` (the
// exact command, host, load and date are in the file's '#' header lines).
// Read by the BO benchmarks; accuracy still comes from the synthetic
// surrogate (table1_landscape.hpp), which does not depend on the block count.
// Thread-safety: a loaded table is immutable and safe to share.

#include <map>
#include <string>
#include <vector>

#include "autodistill/bo/design_space.hpp"
#include "autodistill/status.hpp"

namespace autodistill::bo::measured {

struct LatencyTable {
  int num_blocks = 0;                  // the single block count the file was measured at
  std::string hardware_fingerprint;    // the probe's fingerprint (equal on every row)
  std::vector<std::string> header;     // the file's '#' lines, without the '#'
  std::map<Point, double> latency_ms;  // table1_space(num_blocks) point -> median latency

  // The space the table covers: table1_space(num_blocks).
  DesignSpace space() const { return table1_space(num_blocks); }
  // Median latency of a point of space(); NaN when the file lacks it.
  double at(const Point& p) const;
};

// Reads a landscape CSV (comment lines start with '#'; the header row names
// the columns num_blocks, hidden_size, bottleneck_size, num_heads,
// intermediate_size, num_stacked_ffn, latency_ms, hardware_fingerprint,
// error). kNotFound when the file cannot be read; kInvalidArgument (field =
// "line N") for a missing column, a row with an error or no latency, a second
// block count, or a file that does not cover every point of space().
Result<LatencyTable> load_latency_table(const std::string& path);

// The default file: bench/bo/data/table1_latency_cpu.csv in the source tree.
std::string default_latency_csv();

}  // namespace autodistill::bo::measured
