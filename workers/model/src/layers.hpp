#pragma once
// The building blocks the teacher and the student are made of, as plain
// structs of parameter tensors over ATen's functional ops (no torch::nn, to
// keep compile times low). Private to the model library.
//
// Not thread-safe to mutate; forward calls on a model that is not being
// changed may run concurrently.

#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "autodistill/model/forward.hpp"
#include "autodistill/status.hpp"

namespace autodistill::model::detail {

// A parameter slot with its checkpoint name. Slots point into a model that
// lives behind a unique_ptr, so they stay valid while the model does.
struct ParamRef {
  std::string name;
  at::Tensor* tensor;
};
using ParamRefs = std::vector<ParamRef>;

enum class Activation { kGelu, kGeluTanh, kRelu };

// "gelu" (erf), "gelu_new" / "gelu_pytorch_tanh" / "gelu_fast" (tanh
// approximation), "relu"; kInvalidArgument otherwise.
Result<Activation> parse_activation(const std::string& name);
at::Tensor activate(const at::Tensor& x, Activation activation);

// Initializer for fresh parameters: weights N(0, 0.02) (BERT), biases 0,
// LayerNorm scale 1 and shift 0, all requiring grad. Deterministic for a
// seed. With fill = false it only allocates (for models about to be loaded).
class Init {
 public:
  explicit Init(uint64_t seed, bool fill = true);
  at::Tensor normal(at::IntArrayRef shape);
  at::Tensor zeros(at::IntArrayRef shape);
  at::Tensor ones(at::IntArrayRef shape);

 private:
  at::Generator generator_;
  bool fill_;
};

struct Linear {
  at::Tensor weight;  // [out, in]
  at::Tensor bias;    // [out]

  Linear() = default;
  Linear(int64_t in, int64_t out, Init& init);
  at::Tensor operator()(const at::Tensor& x) const { return at::linear(x, weight, bias); }
  // Adds "<name>.weight" and "<name>.bias".
  void collect(const std::string& name, ParamRefs& refs);
};

// LayerNorm over the last dimension, or with `affine_only` MobileBERT's
// NoNorm (x * weight + bias, no normalization).
struct LayerNorm {
  at::Tensor weight;  // [width]
  at::Tensor bias;    // [width]
  double eps = 1e-12;
  bool affine_only = false;

  LayerNorm() = default;
  LayerNorm(int64_t width, double eps, Init& init, bool affine_only = false);
  at::Tensor operator()(const at::Tensor& x) const {
    if (affine_only) return at::addcmul(bias, x, weight);
    return at::layer_norm(x, {weight.size(0)}, weight, bias, eps);
  }
  void collect(const std::string& name, ParamRefs& refs);
};

// Word + position + token-type embeddings, then LayerNorm.
struct Embeddings {
  at::Tensor word;        // [V, H]
  at::Tensor position;    // [P, H]
  at::Tensor token_type;  // [T, H]
  LayerNorm norm;

  Embeddings() = default;
  Embeddings(int64_t vocab, int64_t positions, int64_t types, int64_t hidden, double eps,
             Init& init);
  // ids, types: [N, S] int64 -> [N, S, H].
  at::Tensor operator()(const at::Tensor& ids, const at::Tensor& types) const;
};

// softmax(q k^T / sqrt(d) + mask_bias) v over `heads` heads of width d =
// W / heads: q, k, v [N, S, W] (already projected) -> the context [N, S, W]
// and the probabilities [N, heads, S, S].
std::pair<at::Tensor, at::Tensor> multi_head_attention(const at::Tensor& q, const at::Tensor& k,
                                                       const at::Tensor& v, int64_t heads,
                                                       const at::Tensor& mask_bias);

// BERT self-attention sub-layer in width W with `heads` heads:
//   out = LayerNorm(x + O(softmax(Q K^T / sqrt(W / heads) + mask) V)).
struct Attention {
  Linear query, key, value, output;
  LayerNorm norm;
  int64_t heads = 1;

  Attention() = default;
  Attention(int64_t width, int64_t heads, double eps, Init& init);
  // x [N, S, W]; mask_bias [N, 1, 1, S] additive (0 keep, very negative
  // drop). Returns the output and the probabilities [N, heads, S, S].
  std::pair<at::Tensor, at::Tensor> operator()(const at::Tensor& x,
                                               const at::Tensor& mask_bias) const;
};

// BERT feed-forward sub-layer: out = LayerNorm(x + W2 act(W1 x)).
struct FeedForward {
  Linear intermediate;  // W -> I
  Linear output;        // I -> W
  LayerNorm norm;
  Activation activation = Activation::kGelu;

  FeedForward() = default;
  FeedForward(int64_t width, int64_t inner, Activation activation, double eps, Init& init,
              bool affine_only = false);
  at::Tensor operator()(const at::Tensor& x) const {
    return norm(x + output(activate(intermediate(x), activation)));
  }
};

// The pre-training heads of BertForPreTraining: the MLM prediction head
// (transform, LayerNorm, decoder with bias) and the NSP head (pooler on
// [CLS], then a 2-way classifier).
struct PretrainingHeads {
  Linear transform;  // H -> H
  LayerNorm transform_norm;
  at::Tensor decoder;       // [V, H]; undefined: tied to the word embeddings
  at::Tensor decoder_bias;  // [V]
  Linear pooler;            // H -> H, tanh
  Linear classifier;        // H -> 2
  Activation activation = Activation::kGelu;

  PretrainingHeads() = default;
  PretrainingHeads(int64_t hidden, int64_t vocab, Activation activation, double eps, Init& init);
  // hidden [N, S, H] -> logits [N, S, V], or [M, V] at `positions` (int64
  // [M] into the flattened N*S positions) when defined.
  at::Tensor mlm(const at::Tensor& hidden, const at::Tensor& word_embeddings,
                 const at::Tensor& positions) const;
  // hidden [N, S, H] -> [N, 2].
  at::Tensor nsp(const at::Tensor& hidden) const;
};

// [N, S] mask (1 keep, 0 pad; undefined: keep all) -> additive [N, 1, 1, S]
// bias in `dtype` (0 or the dtype's lowest value), as Hugging Face BERT does.
at::Tensor attention_bias(const at::Tensor& mask, int64_t batch, int64_t length,
                          at::ScalarType dtype, const at::Device& device);

// The forward pass the teacher and the student share (forward.hpp): the
// embeddings `embed(input_ids, token_type_ids)`, then the first
// options.num_layers of the model's `total` layers (all when < 0), layer k
// as `layer(k, hidden, bias) -> {hidden, attention probabilities}`, then,
// when every layer ran and options.heads, `heads`' MLM (tied to
// `word_embeddings`) and NSP logits.
template <class Embed, class Layer>
ModelOutputs run_forward(const ModelInputs& inputs, const ForwardOptions& options, int64_t total,
                         const Embed& embed, const Layer& layer, const PretrainingHeads& heads,
                         const at::Tensor& word_embeddings) {
  const int64_t n = inputs.input_ids.size(0), s = inputs.input_ids.size(1);
  const int64_t run = options.num_layers < 0 ? total : std::min(options.num_layers, total);
  const at::Tensor bias =
      attention_bias(inputs.attention_mask, n, s, at::kFloat, inputs.input_ids.device());
  ModelOutputs out;
  out.hidden_states.push_back(embed(inputs.input_ids, inputs.token_type_ids));
  for (int64_t k = 0; k < run; ++k) {
    auto [hidden, probs] = layer(k, out.hidden_states.back(), bias);
    out.hidden_states.push_back(hidden);
    if (options.attentions) out.attentions.push_back(probs);
  }
  if (options.heads && run == total) {
    out.mlm_logits = heads.mlm(out.hidden_states.back(), word_embeddings, options.mlm_positions);
    out.nsp_logits = heads.nsp(out.hidden_states.back());
  }
  return out;
}

// Moves every parameter to `device`, keeping requires_grad.
void move_parameters(const ParamRefs& refs, const at::Device& device);

// Every parameter with its name, in registration order (named_parameters()).
std::vector<NamedTensor> named_tensors(const ParamRefs& refs);
// The number of scalars in all the parameters (parameter_count()).
int64_t element_count(const ParamRefs& refs);

// Replaces every parameter by the tensor of the same name in `tensors`
// (converted to float32 on the parameter's device), checking that every name
// is present with the parameter's shape. Names in `tensors` that no
// parameter has are reported unless `allow_extra`. kNotFound names the
// missing tensor, kInvalidArgument a shape mismatch or an extra name.
Status load_parameters(const ParamRefs& refs, const std::map<std::string, at::Tensor>& tensors,
                       bool allow_extra);

}  // namespace autodistill::model::detail
