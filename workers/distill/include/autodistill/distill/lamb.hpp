#pragma once
// LAMB (You et al. 2020, "Large Batch Optimization for Deep Learning"),
// layer-wise adaptive Adam, as used to pre-train BERT and MobileBERT. Per
// parameter tensor w with gradient g at its step t:
//   m = b1 m + (1 - b1) g,          v = b2 v + (1 - b2) g^2
//   u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)      (bias-corrected)
//   adapted group:  u += weight_decay * w,
//                   r = ||w|| / ||u||  (1 when either norm is 0)
//   other group:    r = 1            (LayerNorm and biases: no decay, no trust ratio)
//   w -= lr * r * u
// Parameters without a gradient are skipped. State: m, v and a reused
// update buffer per parameter (three times the parameters' memory).
//
// Thread-safety: one thread at a time.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::distill {

struct LambOptions {
  double beta1 = 0.9;          // first-moment decay. Default 0.9.
  double beta2 = 0.999;        // second-moment decay. Default 0.999.
  double eps = 1e-6;           // denominator floor. Default 1e-6.
  double weight_decay = 0.01;  // decoupled decay of adapted parameters. Default 0.01.
};

struct ParamGroup {
  std::vector<at::Tensor> params;
  // Weight decay and the trust ratio apply (weights); false for LayerNorm
  // parameters and biases.
  bool adapt = true;
  // The parameters' names (for save_state); empty = "#<index>".
  std::vector<std::string> names = {};
};

class Lamb {
 public:
  Lamb(std::vector<ParamGroup> groups, LambOptions options = {});

  // One update with learning rate `lr` from the parameters' .grad().
  void step(double lr);
  // Clears every parameter's gradient.
  void zero_grad();

  // The optimizer's whole state, per parameter: moments and step count.
  struct Moments {
    std::string name;
    at::Tensor m, v;  // on the CPU
    int64_t step = 0;
  };
  // Copies of the state on the CPU, in parameter order.
  std::vector<Moments> save_state() const;
  // Continues from a state saved by an optimizer over the same parameters
  // (names, order and shapes). kInvalidArgument (field "optimizer")
  // otherwise, leaving this optimizer unchanged.
  Status load_state(const std::vector<Moments>& state);

 private:
  struct State {
    std::string name;
    at::Tensor param, m, v;
    at::Tensor update;  // the step's update, reused every step
    bool adapt;
    int64_t step = 0;
  };
  std::vector<State> states_;
  LambOptions options_;
};

// Splits parameters named as in a checkpoint into the adapted group and the
// group without decay/adaptation (names ending in "bias" or containing
// "LayerNorm", and every 1-D tensor).
std::vector<ParamGroup> lamb_groups(const std::vector<std::pair<std::string, at::Tensor>>& named);

// Scales the gradients so their global L2 norm is at most `max_norm`;
// returns the norm before clipping.
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

// Linear warm-up to `peak` over `warmup_steps`, then linear decay to 0 at
// `total_steps`. Step numbers start at 0.
struct LinearSchedule {
  double peak = 1e-3;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double at(int64_t step) const;
};

}  // namespace autodistill::distill
