#pragma once
// Pre-training accuracy on a fixed evaluation set (the held-out split):
// MLM accuracy over every masked position (argmax == original token) and
// NSP accuracy over every example, plus the mean losses. MLM accuracy is
// the "accuracy" objective of a distillation trial.
//
// Thread-safety: evaluate() runs the model without gradients; it may run
// concurrently with other forwards of the same model.

#include <cstdint>
#include <functional>
#include <vector>

#include "autodistill/model/batch.hpp"
#include "autodistill/model/forward.hpp"

namespace autodistill::distill {

struct EvalResult {
  double mlm_accuracy = 0.0;
  double nsp_accuracy = 0.0;
  double mlm_loss = 0.0;  // mean cross-entropy per masked position
  double nsp_loss = 0.0;  // mean cross-entropy per example
  int64_t mlm_predictions = 0;
  int64_t nsp_predictions = 0;
};

// Any model's forward (Student::forward, Teacher::forward).
using ForwardFn =
    std::function<model::ModelOutputs(const model::ModelInputs&, const model::ForwardOptions&)>;

// Evaluates on `batches` (CPU batches, moved to `device` one at a time).
EvalResult evaluate(const ForwardFn& forward, const std::vector<model::Batch>& batches,
                    const at::Device& device);

}  // namespace autodistill::distill
