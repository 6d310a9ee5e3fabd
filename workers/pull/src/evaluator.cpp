#include "autodistill/worker/evaluator.hpp"

namespace autodistill::worker {

bool is_retryable(const Status& status) {
  return status.code() != Code::kInvalidArgument && status.code() != Code::kFailedPrecondition;
}

}  // namespace autodistill::worker
