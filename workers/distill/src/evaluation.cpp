#include "autodistill/distill/evaluation.hpp"

#include <ATen/ATen.h>

namespace autodistill::distill {

EvalResult evaluate(const ForwardFn& forward, const std::vector<model::Batch>& batches,
                    const at::Device& device) {
  at::NoGradGuard no_grad;
  double mlm_correct = 0, nsp_correct = 0, mlm_loss = 0, nsp_loss = 0;
  EvalResult r;
  for (const model::Batch& cpu : batches) {
    const model::Batch b = cpu.to(device);
    model::ForwardOptions options;
    options.attentions = false;
    options.mlm_positions = b.mlm_positions;
    const model::ModelOutputs out = forward(b.inputs, options);
    mlm_correct += out.mlm_logits.argmax(-1).eq(b.mlm_labels).sum().item<double>();
    nsp_correct += out.nsp_logits.argmax(-1).eq(b.nsp_labels).sum().item<double>();
    mlm_loss +=
        at::cross_entropy_loss(out.mlm_logits, b.mlm_labels, {}, at::Reduction::Sum).item<double>();
    nsp_loss +=
        at::cross_entropy_loss(out.nsp_logits, b.nsp_labels, {}, at::Reduction::Sum).item<double>();
    r.mlm_predictions += b.mlm_labels.size(0);
    r.nsp_predictions += b.nsp_labels.size(0);
  }
  if (r.mlm_predictions > 0) {
    r.mlm_accuracy = mlm_correct / static_cast<double>(r.mlm_predictions);
    r.mlm_loss = mlm_loss / static_cast<double>(r.mlm_predictions);
  }
  if (r.nsp_predictions > 0) {
    r.nsp_accuracy = nsp_correct / static_cast<double>(r.nsp_predictions);
    r.nsp_loss = nsp_loss / static_cast<double>(r.nsp_predictions);
  }
  return r;
}

}  // namespace autodistill::distill
