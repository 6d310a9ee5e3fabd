#pragma once
// What the LibTorch trial evaluators (distillation, fine-tuning) share:
//
// - trial_threads: the intra-op threads of a trial, set on LibTorch;
// - trial_failure: the failure a trial reports when its work throws, a
//   retryable failure (worker::retryable_failure) that says what failed and
//   why, LibTorch's errors without their backtrace. Called from a catch
//   block (it rethrows the exception in flight):
//
//     try { ... } catch (...) { return model::trial_failure("distillation"); }
//
// Header-only; needs only light ATen and c10 headers, not <torch/torch.h>.
//
// Thread-safety: trial_threads sets LibTorch's thread count for the calling
// thread's work; trial_failure is a pure function of the exception in flight.

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <string>
#include <thread>

#include "autodistill/status.hpp"
#include "autodistill/worker/evaluator.hpp"

namespace autodistill::model {

// The trial's own thread count when it gives one (> 0), else the worker's
// (> 0), else the hardware threads shared among the worker's slots; set with
// at::set_num_threads and returned.
inline int64_t trial_threads(int64_t trial, int64_t worker, uint32_t slots) {
  const int64_t hardware = std::max<int64_t>(1, std::thread::hardware_concurrency());
  const int64_t threads = trial > 0 ? trial
                          : worker > 0
                              ? worker
                              : std::max<int64_t>(1, hardware / std::max<uint32_t>(1, slots));
  at::set_num_threads(static_cast<int>(threads));
  return threads;
}

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
