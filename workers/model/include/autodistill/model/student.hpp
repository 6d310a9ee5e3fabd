#pragma once
// The student template (AutoDistill Fig. 2 and Table 1), in LibTorch:
// Hugging Face's MobileBERT with its pre-training heads (transformers'
// MobileBertForPreTraining, use_bottleneck true; sizes and options in
// messages/.../student_arch.hpp). For hidden size H, bottleneck B, heads A,
// intermediate I, F stacked FFNs, embedding size E:
//
//   embeddings   e = word(ids)                       (width E)
//                trigram_input: e = [e(next) | e | e(previous)]   (3E, zeros
//                beyond the ends); when trigram_input or E != H:
//                e = embedding_transformation(e)     (-> H)
//                norm(e + position + token type)
//   K blocks     b = norm(W_in x)                                  (H -> B)
//                q, k from b (use_bottleneck_attention) or from a second
//                bottleneck norm(W_qk x) (key_query_shared_bottleneck);
//                v from b, or from x (H wide)
//                a = norm(b + W_o MHA_A(q, k, v))
//                F times: a = norm(a + W2 gelu(W1 a))              (B -> I -> B)
//                out = norm(x + W_out a)                           (B -> H)
//   MLM head     t = LayerNorm(gelu(W_t h)); logits = t [word^T ; D] + bias,
//                word tied to the word embeddings (E rows), D the (H-E) x V
//                cls.predictions.dense
//   NSP head     tanh(W_p h[CLS]), then H -> 2
// `norm` is a LayerNorm (normalization_type "layer_norm") or NoNorm
// (x * w + b, "no_norm"); as in transformers, the embedding norm and each
// block's last FFN norm use eps 1e-5 (nn.LayerNorm's default), the others
// 1e-12 (layer_norm_eps). Activation gelu (erf).
//
// Its parameter count equals autodistill::parameter_count(arch) exactly
// (transformers builds embedding_transformation even when it does not run;
// so does this). Parameter names are transformers' (used by export and
// load):
//   mobilebert.embeddings.{word_embeddings,position_embeddings,token_type_embeddings}.weight,
//   mobilebert.embeddings.embedding_transformation.{weight,bias},
//   mobilebert.embeddings.LayerNorm.{weight,bias},
//   mobilebert.encoder.layer.<k>.attention.self.{query,key,value}.{weight,bias},
//   mobilebert.encoder.layer.<k>.attention.output.{dense,LayerNorm}.{weight,bias},
//   mobilebert.encoder.layer.<k>.intermediate.dense.{weight,bias},
//   mobilebert.encoder.layer.<k>.output.{dense,LayerNorm}.{weight,bias},
//   mobilebert.encoder.layer.<k>.output.bottleneck.{dense,LayerNorm}.{weight,bias},
//   mobilebert.encoder.layer.<k>.bottleneck.input.{dense,LayerNorm}.{weight,bias},
//   mobilebert.encoder.layer.<k>.bottleneck.attention.{dense,LayerNorm}.{weight,bias}
//     (key_query_shared_bottleneck only),
//   mobilebert.encoder.layer.<k>.ffn.<f>.{intermediate.dense,output.dense,output.LayerNorm}.*
//     (f < F - 1; the F-th FFN is intermediate/output),
//   mobilebert.pooler.dense.{weight,bias}, cls.predictions.transform.{dense,LayerNorm}.*,
//   cls.predictions.dense.weight [H-E, V], cls.predictions.bias, cls.seq_relationship.*
// (Linear weights are [out, in], as in PyTorch; the tied decoder is not a
// separate parameter, as in transformers' safetensors.)
//
// StudentLayout::kLegacy is the template of autodistill before it followed
// MobileBERT (config model_type "autodistill-student"): no norm after the
// input bottleneck, no embedding transformation, eps 1e-12 everywhere, E = H
// and the default options. It exists so old students keep loading
// (load_student); its parameters use the same names.
//
// Thread-safety: forward() may run on several threads at once while nothing
// changes the parameters; everything else needs external synchronization.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autodistill/model/forward.hpp"
#include "autodistill/status.hpp"
#include "autodistill/student_arch.hpp"

namespace autodistill::model {

enum class StudentLayout { kMobileBert, kLegacy };

class Student {
 public:
  // A freshly initialized student on the CPU: weights N(0, 0.02), biases 0,
  // LayerNorm 1/0; the same seed gives the same weights. kInvalidArgument
  // (naming the factor) when validate(arch) fails, or for a legacy layout
  // with options other than the defaults.
  static Result<Student> create(const StudentArch& arch, uint64_t seed = 0,
                                StudentLayout layout = StudentLayout::kMobileBert);

  Student(Student&&) noexcept;
  Student& operator=(Student&&) noexcept;
  ~Student();

  const StudentArch& arch() const;
  StudentLayout layout() const;

  // Runs the model (autograd records it unless a NoGradGuard or
  // InferenceMode is active). Inputs must be on the model's device with S <=
  // max_positions and ids in range; c10::Error is thrown otherwise.
  // options.num_layers counts blocks.
  ModelOutputs forward(const ModelInputs& inputs, const ForwardOptions& options = {}) const;

  // Every parameter with its checkpoint name, in a fixed order. The tensors
  // are the parameters themselves (in-place changes under a NoGradGuard
  // change the model; requires_grad_(false) freezes one).
  std::vector<NamedTensor> named_parameters() const;
  // Sum of numel over named_parameters().
  int64_t parameter_count() const;
  // The parameters of the embeddings, of block `k` (0-based, < num_blocks),
  // and of the MLM and NSP heads; together they are every parameter.
  std::vector<at::Tensor> embedding_parameters() const;
  std::vector<at::Tensor> block_parameters(int64_t k) const;
  std::vector<at::Tensor> head_parameters() const;

  at::Device device() const;
  // Moves every parameter to `device` (requires_grad is kept).
  void to(const at::Device& device);

  // Replaces every parameter by the tensor of the same checkpoint name
  // (converted to float32 on the model's device). kNotFound names a missing
  // tensor, kInvalidArgument a shape mismatch or a tensor the student lacks;
  // on error the model is unchanged.
  Status load(const std::map<std::string, at::Tensor>& tensors);

 private:
  struct Impl;
  explicit Student(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill::model
