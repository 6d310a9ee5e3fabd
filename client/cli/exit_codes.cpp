#include "exit_codes.hpp"

namespace autodistill::cli {

ExitCode exit_code_for(const Status& status) {
  switch (status.code()) {
    case Code::kOk:
      return kExitOk;
    case Code::kInvalidArgument:
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
    case Code::kDigestMismatch:
    case Code::kResourceExhausted:
      return kExitRejected;
    case Code::kNotFound:
      return kExitNotFound;
    case Code::kUnavailable:
      return kExitUnreachable;
    case Code::kCancelled:
      return kExitCancelled;
    default:
      return kExitOther;
  }
}

ExitCode exit_code_for(StudyState state) {
  switch (state) {
    case StudyState::kSucceeded:
      return kExitOk;
    case StudyState::kFailed:
      return kExitFailed;
    case StudyState::kCancelled:
      return kExitCancelled;
    default:
      return kExitOther;
  }
}

}  // namespace autodistill::cli
