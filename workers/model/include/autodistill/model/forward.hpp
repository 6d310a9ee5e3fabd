#pragma once
// The forward contract shared by the teacher (BertForPreTraining) and the
// student template: what goes in, what can be asked for, what comes out.
// Only the light ATen tensor header is included, so this header is cheap.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace autodistill::model {

// One batch of N sequences of length S, all on the model's device.
struct ModelInputs {
  // [N, S] int64 token ids, each in [0, vocab_size). Required.
  at::Tensor input_ids;
  // [N, S] int64 segment ids in [0, type_vocab_size); undefined: all 0.
  at::Tensor token_type_ids;
  // [N, S] 1 for real tokens, 0 for padding (any integer or float type);
  // undefined: no padding.
  at::Tensor attention_mask;
};

struct ForwardOptions {
  // Run only the first `num_layers` layers (blocks); -1 runs all of them.
  // The heads need every layer, so `heads` is ignored when fewer run.
  int64_t num_layers = -1;
  // Keep the attention probabilities of every layer.
  bool attentions = true;
  // Compute the MLM and NSP logits.
  bool heads = true;
  // When defined: int64 [M] indices into the N*S flattened positions; the MLM
  // logits are computed only there ([M, V]) instead of everywhere ([N, S, V]).
  at::Tensor mlm_positions;
};

struct ModelOutputs {
  // hidden_states[0] is the embedding output, hidden_states[l] the output of
  // layer (block) l: [N, S, hidden], one per layer run plus one.
  std::vector<at::Tensor> hidden_states;
  // attentions[l] holds layer l+1's attention probabilities [N, heads, S, S]
  // (rows sum to 1; padded keys get 0). Empty unless options.attentions.
  std::vector<at::Tensor> attentions;
  // [N, S, V], or [M, V] with options.mlm_positions; undefined without heads.
  at::Tensor mlm_logits;
  // [N, 2] (index 0: B follows A, 1: B is random); undefined without heads.
  at::Tensor nsp_logits;
};

// A parameter with its checkpoint name (e.g. "embeddings.word_embeddings.weight").
using NamedTensor = std::pair<std::string, at::Tensor>;

}  // namespace autodistill::model
