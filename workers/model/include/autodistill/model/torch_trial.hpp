#pragma once
// The failure a LibTorch trial evaluator (distillation, fine-tuning) reports
// when its work throws: a retryable failure (worker::retryable_failure) that
// says what failed and why, LibTorch's errors without their backtrace.
// Called from a catch block (it rethrows the exception in flight):
//
//   try { ... } catch (...) { return model::trial_failure("distillation"); }
//
// Header-only; needs only c10's exception header, not <torch/torch.h>.
//
// Thread-safety: a pure function of the exception in flight.

#include <c10/util/Exception.h>

#include <exception>
#include <string>

#include "autodistill/status.hpp"
#include "autodistill/worker/evaluator.hpp"

namespace autodistill::model {

// "<what> failed in LibTorch: ..." for a c10::Error, "<what> failed: ..." for
// any other exception. Only inside a catch block.
inline Status trial_failure(const std::string& what) {
  try {
    throw;
  } catch (const c10::Error& e) {
    return worker::retryable_failure(what + " failed in LibTorch: " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return worker::retryable_failure(what + " failed: " + e.what());
  } catch (...) {
    return worker::retryable_failure(what + " failed: an exception that is not std::exception");
  }
}

}  // namespace autodistill::model
