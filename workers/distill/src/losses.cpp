#include "autodistill/distill/losses.hpp"

#include <ATen/ATen.h>

namespace autodistill::distill {

namespace {

// Probabilities below this count as this in log(student): keeps the KL
// finite when a student map underflows where the teacher's does not.
constexpr double kTiny = 1e-30;

}  // namespace

at::Tensor attention_kl(const at::Tensor& teacher, const at::Tensor& student,
                        const at::Tensor& mask) {
  at::Tensor t = teacher, s = student;
  if (t.size(1) != s.size(1)) {
    t = t.mean(1, /*keepdim=*/true);
    s = s.mean(1, /*keepdim=*/true);
  }
  // KL per (n, h, query): sum over keys of t (log t - log s); xlogy gives
  // 0 log 0 = 0 for padded keys.
  at::Tensor kl = (at::xlogy(t, t) - at::xlogy(t, s.clamp_min(kTiny))).sum(-1);  // [N, H, S]
  at::Tensor weight = mask.to(kl.scalar_type()).unsqueeze(1);                    // [N, 1, S]
  const at::Tensor rows = weight.sum() * kl.size(1);
  return (kl * weight).sum() / rows.clamp_min(1.0);
}

at::Tensor feature_mse(const at::Tensor& teacher, const at::Tensor& student,
                       const at::Tensor& mask) {
  at::Tensor weight = mask.to(teacher.scalar_type()).unsqueeze(-1);  // [N, S, 1]
  at::Tensor squared = (teacher - student).pow(2) * weight;
  const at::Tensor count = weight.sum() * teacher.size(-1);
  return squared.sum() / count.clamp_min(1.0);
}

at::Tensor mlm_loss(const at::Tensor& logits, const at::Tensor& labels) {
  return at::cross_entropy_loss(logits, labels);
}

at::Tensor mlm_distill_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                            double temperature) {
  at::Tensor log_s = at::log_softmax(student_logits / temperature, -1);
  at::Tensor log_t = at::log_softmax(teacher_logits / temperature, -1);
  at::Tensor kl = (log_t.exp() * (log_t - log_s)).sum(-1).mean();
  return kl * (temperature * temperature);
}

at::Tensor nsp_loss(const at::Tensor& logits, const at::Tensor& labels) {
  return at::cross_entropy_loss(logits, labels);
}

}  // namespace autodistill::distill
