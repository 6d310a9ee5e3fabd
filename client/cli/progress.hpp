#pragma once
// Shows a watched study's events: a one-line progress bar redrawn in place
// when stdout is a terminal, one line per event otherwise (logs, pipes), or
// one JSON object per line with --json.
//
// The bar counts trials from the event stream (watch replays it from the
// start): finished = completed + failed + cancelled trials, plus the
// reported fraction of running ones, over the trials queued so far (at least
// the study's candidate budget). Not thread-safe: one watch, one thread.

#include <chrono>
#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>

#include "autodistill/study.hpp"

namespace autodistill::cli {

class ProgressPrinter {
 public:
  enum class Mode { kBar, kLines, kJson };

  // `study` is the study as fetched before watching (its id, state and
  // budget seed the display).
  ProgressPrinter(std::ostream& out, Mode mode, const StudyInfo& study);

  void on_event(const Event& event);
  // Ends the bar's line (other modes print nothing more).
  void finish();

 private:
  void draw(bool force);

  std::ostream& out_;
  Mode mode_;
  uint64_t study_id_;
  uint32_t budget_;
  std::string state_;
  std::set<uint64_t> queued_;
  std::map<uint64_t, float> running_;  // trial -> reported fraction
  uint32_t completed_ = 0;
  uint32_t failed_ = 0;
  uint32_t cancelled_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
};

}  // namespace autodistill::cli
