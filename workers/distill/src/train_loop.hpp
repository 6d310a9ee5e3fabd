#pragma once
// The optimization loop every training phase shares (progressive stages,
// pre-training distillation, teacher pre-training): batches from a loader,
// a loss, backward, gradient clipping, a LAMB step on a warm-up + decay
// schedule, progress after each step. Private to the distill library.
//
// Thread-safety: one thread at a time.

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "autodistill/distill/distiller.hpp"
#include "autodistill/model/batch.hpp"

namespace autodistill::distill::detail {

struct TrainLoop {
  model::BatchLoader* loader = nullptr;
  at::Device device = at::kCPU;
  double learning_rate = 1e-3;
  double warmup_fraction = 0.1;
  double clip_norm = 1.0;
  LambOptions lamb;

  int64_t done = 0;      // steps run so far, all phases
  int64_t planned = 0;   // steps announced in Progress::total
  double seconds = 0.0;  // wall time inside phases
  int64_t tokens = 0;    // real tokens trained on

  // Runs `steps` steps of `loss` on `params` (a fresh LAMB state and
  // schedule). kCancelled when `progress` returns false; kTrialError when
  // the loss stops being finite; the loader's error when it fails.
  Result<PhaseReport> run(const std::string& phase, int64_t steps,
                          const std::vector<model::NamedTensor>& params,
                          const std::function<at::Tensor(const model::Batch&)>& loss,
                          const ProgressFn& progress);
};

}  // namespace autodistill::distill::detail
