#pragma once
// Runs one trial on its thread: evaluate, check the outcome against the
// assignment, upload the artifacts, and build the wire report (a Result, or
// a Failure whose `retryable` follows is_retryable()). Called by the pull
// loop; separate so the rules for turning an outcome into a report read in
// one place.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "autodistill/worker/evaluator.hpp"
#include "autodistill_generated.h"

namespace autodistill::worker {

struct TrialEnvironment {
  Evaluator& evaluator;
  // Reported as Result.hardware_fingerprint when the outcome names none.
  std::string hardware_fingerprint;
  // Uploads a file as a blob and returns its digest; gives up with
  // kCancelled once `cancelled()` is true.
  std::function<Result<std::string>(const std::filesystem::path& file,
                                    const std::function<bool()>& cancelled)>
      upload;
};

// The Result or Failure to report for `ctx`'s trial, or nullopt when the
// trial was cancelled (nothing is reported for it). Never throws: an
// exception escaping the evaluator becomes a retryable Failure.
//
// A Result carries the requested objectives in TrialSpec order; objectives
// the evaluator reported beyond those are sent as metrics. A missing or
// non-finite requested objective is a permanent Failure; an artifact that
// cannot be uploaded is a retryable one. A gang rank > 0 reports a Result
// with its `rank` and metrics only (no objectives, no artifacts).
std::optional<wire::MessageUnion> run_trial(TrialContext& ctx, const TrialEnvironment& env);

// A Failure report for the trial (trial_id, attempt) with `status`.
wire::MessageUnion make_failure(uint64_t trial_id, uint32_t attempt, const Status& status);

}  // namespace autodistill::worker
