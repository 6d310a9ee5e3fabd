#pragma once
// The CLI's exit codes: a stable contract for pipelines (docs/cli.md).

#include "autodistill/status.hpp"
#include "autodistill/study.hpp"

namespace autodistill::cli {

enum ExitCode : int {
  kExitOk = 0,
  kExitOther = 1,
  kExitUsage = 2,
  kExitRejected = 3,     // InvalidArgument, AlreadyExists, FailedPrecondition, DigestMismatch,
                         // ResourceExhausted
  kExitNotFound = 4,     // the study, blob or local file does not exist
  kExitUnreachable = 5,  // no reply in time, or Unavailable
  kExitFailed = 6,       // the watched study failed
  kExitCancelled = 7,    // the watched study was cancelled (or Cancelled)
};

// The exit code for a request that failed with `status` (kExitOk if ok).
ExitCode exit_code_for(const Status& status);

// The exit code for a study that ended in `state`: 0 succeeded, 6 failed,
// 7 cancelled, 1 for a state that is not terminal.
ExitCode exit_code_for(StudyState state);

}  // namespace autodistill::cli
