#pragma once
// The seam between the pull loop and the code that evaluates a trial (a
// LibTorch distillation, a latency probe, an external command).
//
// Failures. An evaluator fails a trial by returning a Status; its code
// decides the wire Failure's `retryable` flag (see is_retryable): the
// candidate itself is bad -> kInvalidArgument or kFailedPrecondition
// (permanent: the daemon fails the trial at once); anything else (a crash, a
// lost blob, out of memory) is retryable and the daemon re-queues the trial
// with the next attempt while attempts remain.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autodistill/status.hpp"
#include "autodistill/worker/trial_context.hpp"

namespace autodistill::worker {

// A file the trial produced. The pull loop uploads it as a blob before the
// Result naming it is sent, under `name` (e.g. "model.safetensors").
struct ArtifactFile {
  std::string name;
  std::filesystem::path path;
};

struct TrialOutcome {
  // Objective name -> value; must hold every name in TrialSpec::objectives,
  // each finite (the pull loop turns a missing or non-finite one into a
  // permanent Failure). Names beyond those are reported as metrics.
  std::map<std::string, double> objectives;
  // Extra measurements recorded with the result (loss, steps, ...).
  std::map<std::string, double> metrics;
  std::vector<ArtifactFile> artifacts;
  // Identity of the exact hardware that measured this outcome; when unset the
  // worker's Hardware.fingerprint is reported.
  std::optional<std::string> hardware_fingerprint;
};

// Evaluates trials. With slots > 1 the pull loop calls evaluate() from
// several threads at once, so implementations must be thread-safe.
// Exceptions thrown by evaluate() are caught and reported as retryable
// failures, but should not be relied on.
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  virtual autodistill::Result<TrialOutcome> evaluate(TrialContext& ctx) = 0;
};

// False for kInvalidArgument and kFailedPrecondition (the candidate cannot be
// evaluated, retrying will not help), true for every other error code.
bool is_retryable(const Status& status);

// A failure that retrying cannot fix (code kInvalidArgument).
inline Status permanent_failure(std::string message, std::string field = {}) {
  return Status(Code::kInvalidArgument, std::move(message), std::move(field));
}
// A failure another attempt may not hit (code kTrialError).
inline Status retryable_failure(std::string message) {
  return Status(Code::kTrialError, std::move(message));
}

}  // namespace autodistill::worker
