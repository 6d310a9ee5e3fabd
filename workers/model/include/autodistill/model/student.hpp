#pragma once
// The student template (AutoDistill Fig. 2 and Table 1, after MobileBERT),
// in LibTorch. For an architecture (messages/.../student_arch.hpp):
//
//   embeddings   word + position + token type (width H), LayerNorm
//   K blocks     x -> b = W_in x                       (H -> B)
//                b = LayerNorm(b + MHA_A(b))            (A heads in width B)
//                F times: b = LayerNorm(b + W2 gelu(W1 b))   (B -> I -> B)
//                out = LayerNorm(x + W_out b)           (B -> H, residual)
//   MLM head     LayerNorm(gelu(W_t h)) times the word embeddings^T (tied) + bias
//   NSP head     tanh(W_p h[CLS]), then H -> 2
//
// Its parameter count equals autodistill::parameter_count(arch) exactly.
// Checkpoint names (used by export and load):
//   embeddings.{word_embeddings,position_embeddings,token_type_embeddings}.weight,
//   embeddings.LayerNorm.{weight,bias},
//   encoder.block.<k>.bottleneck_in.{weight,bias},
//   encoder.block.<k>.attention.{query,key,value,output}.{weight,bias},
//   encoder.block.<k>.attention.LayerNorm.{weight,bias},
//   encoder.block.<k>.ffn.<f>.{intermediate,output}.{weight,bias},
//   encoder.block.<k>.ffn.<f>.LayerNorm.{weight,bias},
//   encoder.block.<k>.bottleneck_out.{weight,bias}, encoder.block.<k>.LayerNorm.{weight,bias},
//   cls.predictions.transform.dense.{weight,bias},
//   cls.predictions.transform.LayerNorm.{weight,bias}, cls.predictions.bias,
//   pooler.dense.{weight,bias}, cls.seq_relationship.{weight,bias}
// (Linear weights are [out, in], as in PyTorch.)
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

class Student {
 public:
  // A freshly initialized student on the CPU: weights N(0, 0.02), biases 0,
  // LayerNorm 1/0; the same seed gives the same weights. kInvalidArgument
  // (naming the factor) when validate(arch) fails.
  static Result<Student> create(const StudentArch& arch, uint64_t seed = 0);

  Student(Student&&) noexcept;
  Student& operator=(Student&&) noexcept;
  ~Student();

  const StudentArch& arch() const;

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
