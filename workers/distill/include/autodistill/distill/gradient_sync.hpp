#pragma once
// The seam between the training loop and data-parallel gradient exchange
// (data_parallel.hpp implements it over torch.distributed's c10d; the loop
// itself knows nothing of process groups). Each rank of a gang computes
// the loss of its shard of the global batch, scaled so that the shards'
// losses sum to the global batch's loss; the sync sums the gradients over
// the ranks, so every rank then holds the global batch's gradient and
// takes the same optimizer step.
//
// Thread-safety: one training thread per instance.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::distill {

class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  // A phase trains `params` (every rank the same list, in the same order):
  // the sync attaches itself to their gradients. kInvalidArgument for a
  // parameter it cannot exchange.
  virtual Status begin_phase(const std::vector<at::Tensor>& params) = 0;
  // The phase is over: detaches from the parameters.
  virtual void end_phase() = 0;
  // After backward: the parameters' .grad() hold the sum over the ranks
  // (a parameter no rank's backward reached keeps no gradient), and the
  // return value is the sum of `loss` over the ranks. kUnavailable when a
  // peer is lost or silent past the gang's timeout.
  virtual Result<double> finish_step(double loss) = 0;
};

}  // namespace autodistill::distill
