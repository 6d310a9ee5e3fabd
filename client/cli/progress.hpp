#pragma once
// Shows a watched study's events: a one-line progress display redrawn in
// place when stdout is a terminal, one line per event otherwise (logs,
// pipes), or one JSON object per line with --json.
//
// Progress counts CANDIDATES, not trials (watch replays the events from the
// start): a candidate is explored when its exploration ended (its flash or
// external trial completed, or it failed, was cancelled or its flash was
// skipped), over a stable denominator: the study's candidate budget
// (max_trials; more only if more were proposed). The baseline is evaluated
// outside the budget and not counted (as report.md counts). Also shown: what
// runs now (trials by kind), the best so far (the Pareto front of the
// candidates with every objective measured and every constraint met, and
// the best value of the first objective), and during finalizing the regular
// distillations done and the running one's reported progress.
// Not thread-safe: one watch, one thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>

#include "autodistill/study.hpp"

namespace autodistill::cli {

class ProgressPrinter {
 public:
  enum class Mode { kBar, kLines, kJson };

  // `study` is the study as fetched before watching (its id, state, budget,
  // objectives and constraints seed the display).
  ProgressPrinter(std::ostream& out, Mode mode, const StudyInfo& study);

  void on_event(const Event& event);
  // Ends the bar's line (other modes print nothing more).
  void finish();

  // "9/15 candidates explored, 3 running (probe 1, flash 2); front 4, best
  // accuracy 0.412 (latency_ms 3.1)", plus "; regular 1/2 done, candidate
  // 5 at 60%" once regular distillation started.
  std::string summary() const;

 private:
  struct Candidate {
    std::string stage;                     // "probe running", "probed", "explored", ...
    std::map<std::string, double> values;  // objectives measured so far
    bool explored = false;                 // its exploration ended
  };
  struct Running {
    uint32_t candidate = 0;
    TrialKind kind = TrialKind::kProbe;
    float fraction = 0;
  };

  // Updates the counts; true when a candidate's exploration or a regular
  // distillation ended with this event.
  bool apply(const Event& event);
  bool baseline(uint32_t candidate) const { return has_baseline_ && candidate == 0; }
  std::string best_so_far() const;
  void draw(bool force);

  std::ostream& out_;
  Mode mode_;
  uint64_t study_id_;
  StudySpec spec_;
  bool has_baseline_;
  bool expects_flash_;  // a completed probe is followed by a flash trial
  std::string state_;
  std::map<uint32_t, Candidate> candidates_;
  std::map<uint64_t, Running> running_;   // by trial
  std::map<uint64_t, uint32_t> regular_;  // Regular trial -> candidate
  uint32_t regular_done_ = 0;
  uint32_t regular_failed_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
};

}  // namespace autodistill::cli
