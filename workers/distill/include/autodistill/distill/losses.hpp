#pragma once
// The knowledge-transfer losses of Flash Distillation (AutoDistill Sec.
// 3.3.1, after MobileBERT) and the pre-training losses. Every function
// returns a scalar tensor that autograd can differentiate.
//
// Thread-safety: pure functions.

#include <ATen/core/Tensor.h>

namespace autodistill::distill {

// Attention-map transfer, Eq. (1):
//   L_MHA = 1/(S H) sum_s sum_h KL(a^T_{s,h} || a^S_{s,h})
// over the query positions s that are not padding (mask [N, S], 1 = real).
// teacher [N, Ht, S, S], student [N, Hs, S, S]: per head when Ht == Hs;
// otherwise both are first averaged over their heads (H = 1). Zero exactly
// when the maps agree.
at::Tensor attention_kl(const at::Tensor& teacher, const at::Tensor& student,
                        const at::Tensor& mask);

// Feature-map transfer, Eq. (2): L_FM = 1/(S N) sum_s sum_i (f^T - f^S)^2 over
// non-padding positions; teacher and student [N, S, width] (the student
// already projected to the teacher's width when they differ).
at::Tensor feature_mse(const at::Tensor& teacher, const at::Tensor& student,
                       const at::Tensor& mask);

// Masked-language-model loss: mean cross-entropy of logits [M, V] against
// labels [M].
at::Tensor mlm_loss(const at::Tensor& logits, const at::Tensor& labels);

// MLM distillation (logit transfer with temperature T):
//   T^2 * mean_M KL(softmax(teacher / T) || softmax(student / T)).
at::Tensor mlm_distill_loss(const at::Tensor& student_logits, const at::Tensor& teacher_logits,
                            double temperature);

// Next-sentence-prediction loss: cross-entropy of logits [N, 2] against labels [N].
at::Tensor nsp_loss(const at::Tensor& logits, const at::Tensor& labels);

}  // namespace autodistill::distill
