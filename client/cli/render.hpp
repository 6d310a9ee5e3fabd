#pragma once
// Human-readable output of the CLI: aligned tables and key/value blocks.
// (--json output comes from autodistill/study_json.hpp.) The print
// functions are thread-safe given distinct streams.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "autodistill/study.hpp"

namespace autodistill::cli {

// Left-aligned columns separated by two spaces, widths fitted to the cells.
// A plain value; not thread-safe.
class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void add(std::vector<std::string> row);
  void print(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// "2024-05-01 12:00:03" in local time; "-" for 0.
std::string format_time(int64_t epoch_ms);
// "850 ms", "42.0 s", "12m 05s", "3h 04m"; "-" for a negative duration.
std::string format_duration(int64_t ms);
// The shortest of %g-style renderings: 128, 0.25, 1e-05.
std::string format_number(double value);

void print_study(std::ostream& out, const StudyInfo& study);
// One row per trial; STARTED is when its current attempt was leased, TOOK its
// run time (finished - started; "running" while it runs).
void print_trials(std::ostream& out, const std::vector<TrialInfo>& trials);
void print_studies(std::ostream& out, const std::vector<StudyInfo>& studies);
void print_workers(std::ostream& out, const std::vector<WorkerInfo>& workers);

}  // namespace autodistill::cli
