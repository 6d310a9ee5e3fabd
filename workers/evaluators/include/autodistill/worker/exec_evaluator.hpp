#pragma once
// ExecEvaluator: evaluates each trial by running a shell command — any
// program, in any language, becomes an autodistill evaluator.
//
// Contract (docs/worker.md, "The --exec contract"):
//   stdin   one JSON object:
//           {"trial_id": 12, "attempt": 1, "study_id": 3, "kind": "external",
//            "params": {"lr": 0.01, "layers": 4, "optimizer": "adam"},
//            "objectives": ["loss", "latency_ms"],
//            "settings": {...the study's settings_json, {} when none...},
//            "scratch_dir": "/tmp/.../12-1"}
//           (whole-number params are written as JSON integers)
//   env     AUTODISTILL_TRIAL_ID, AUTODISTILL_ATTEMPT, AUTODISTILL_STUDY_ID,
//           AUTODISTILL_SCRATCH_DIR
//   stdout  exactly one JSON object (logs go to stderr), either
//           {"objectives": {"loss": 0.31, "latency_ms": 12.5},
//            "metrics": {"epochs": 3},                     (optional)
//            "artifacts": {"model.bin": "model.bin"}}      (optional; relative
//                                                           paths are in scratch_dir)
//           or {"error": "why", "retryable": false}        ("retryable" defaults to true)
//   exit    non-zero -> a retryable failure carrying the tail of stderr.
// Output that breaks the contract (not JSON, a missing or non-numeric
// objective) is a permanent failure whose message says what was wrong.
// Cancelling the trial kills the command's whole process group.
//
// Thread-safe: each evaluate() runs its own child process.

#include <chrono>
#include <string>

#include "autodistill/worker/evaluator.hpp"

namespace autodistill::worker {

class ExecEvaluator : public Evaluator {
 public:
  // `command` runs as `/bin/sh -c command` in the worker's working directory.
  // `kill_grace`: after a cancel, SIGTERM, then SIGKILL after this long.
  explicit ExecEvaluator(std::string command,
                         std::chrono::milliseconds kill_grace = std::chrono::milliseconds(2000));

  autodistill::Result<TrialOutcome> evaluate(TrialContext& ctx) override;

 private:
  const std::string command_;
  const std::chrono::milliseconds kill_grace_;
};

// The JSON document written to the command's stdin (see above).
// kInvalidArgument when the study's settings_json is not a JSON object.
autodistill::Result<std::string> exec_input_json(const TrialContext& ctx);

// Interprets the command's stdout per the contract above. `scratch_dir`
// resolves relative artifact paths.
autodistill::Result<TrialOutcome> parse_exec_output(const std::string& output,
                                                    const TrialSpec& spec,
                                                    const std::filesystem::path& scratch_dir);

}  // namespace autodistill::worker
