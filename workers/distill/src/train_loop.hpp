#pragma once
// The optimization loop every training phase shares (progressive stages,
// pre-training distillation, teacher pre-training): batches from a loader,
// a loss, backward, gradient clipping, a LAMB step on a warm-up + decay
// schedule, progress after each step. Private to the distill library.
//
// A phase can start mid-way (`resume`: a checkpoint's step and optimizer
// state), and its state can be read between steps (from the progress
// callback: `optimizer`, `phase_step`, `losses`), which is what a checkpoint
// holds. With a GradientSync each batch is the global batch; this rank
// trains on its shard (rows rank*N/W .. (rank+1)*N/W) with the loss scaled
// by the shard's share, and the sync sums the gradients over the ranks.
//
// Thread-safety: one thread at a time.

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autodistill/distill/distiller.hpp"
#include "autodistill/distill/gradient_sync.hpp"
#include "autodistill/model/batch.hpp"

namespace autodistill::distill::detail {

// A shard's part of the global batch's normalizers: each loss is a mean
// over real tokens, masked positions or rows, so scaling a shard's mean by
// its share makes the shards' losses (and gradients) sum to the global
// batch's. All 1 without data parallelism.
struct LossShares {
  double tokens = 1.0;  // real (unpadded) tokens
  double masked = 1.0;  // MLM positions
  double rows = 1.0;    // sequences
};

// `loss * share`, leaving the graph untouched when share is 1.
at::Tensor scaled(const at::Tensor& loss, double share);

using LossFn = std::function<at::Tensor(const model::Batch& shard, const LossShares& shares)>;

struct TrainLoop {
  model::BatchLoader* loader = nullptr;
  at::Device device = at::kCPU;
  double learning_rate = 1e-3;
  double warmup_fraction = 0.1;
  double clip_norm = 1.0;
  LambOptions lamb;
  GradientSync* sync = nullptr;  // data parallelism; null = this process alone

  int64_t done = 0;            // steps run so far, all phases (restored on resume)
  int64_t planned = 0;         // steps announced in Progress::total
  double seconds = 0.0;        // wall time inside phases, this process
  int64_t tokens = 0;          // real tokens of the global batches trained on, this process
  std::vector<double> losses;  // every step's (global) loss, all phases (restored on resume)

  // The phase in progress; valid from the progress callback.
  std::unique_ptr<Lamb> optimizer;
  int64_t phase_step = 0;  // steps of this phase done

  // Set before run(): the next phase starts at `step` with this optimizer state.
  struct Resume {
    int64_t step = 0;
    std::vector<Lamb::Moments> optimizer;
  };
  std::optional<Resume> resume;

  // Runs `steps` steps of `loss` on `params` (a fresh LAMB state and
  // schedule, or `resume`'s). kCancelled when `progress` returns false;
  // kTrialError when the loss stops being finite; the loader's or the
  // sync's error when they fail; kInvalidArgument when `resume` does not
  // fit the phase.
  Result<PhaseReport> run(const std::string& phase, int64_t steps,
                          const std::vector<model::NamedTensor>& params, const LossFn& loss,
                          const ProgressFn& progress);
};

}  // namespace autodistill::distill::detail
