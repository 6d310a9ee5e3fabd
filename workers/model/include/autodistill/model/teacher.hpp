#pragma once
// The teacher: BERT with its pre-training heads (transformers'
// BertForPreTraining), loaded from a Hugging Face checkpoint directory
// (config.json + model.safetensors) or freshly initialized (to pre-train a
// tiny teacher). Post-LayerNorm BERT: per layer
//   a = LayerNorm(x + O(MHA(x))),  out = LayerNorm(a + W2 act(W1 a)).
//
// Checkpoint names are transformers': bert.embeddings.*,
// bert.encoder.layer.N.attention.self.{query,key,value},
// bert.encoder.layer.N.attention.output.{dense,LayerNorm},
// bert.encoder.layer.N.{intermediate.dense,output.dense,output.LayerNorm},
// bert.pooler.dense, cls.predictions.transform.{dense,LayerNorm},
// cls.predictions.bias, cls.predictions.decoder.weight (optional: tied to the
// word embeddings when absent), cls.seq_relationship. On load, LayerNorm
// ".gamma"/".beta" are accepted for ".weight"/".bias",
// "cls.predictions.decoder.bias" for "cls.predictions.bias", and names
// without the "bert." prefix; F32, F16 and BF16 tensors load as float32.
//
// Thread-safety: forward() may run on several threads at once while nothing
// changes the parameters; everything else needs external synchronization.

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "autodistill/model/bert_config.hpp"
#include "autodistill/model/forward.hpp"
#include "autodistill/model/safetensors.hpp"
#include "autodistill/status.hpp"

namespace autodistill::model {

class Teacher {
 public:
  // A freshly initialized, trainable teacher on the CPU (weights N(0, 0.02),
  // decoder tied). kInvalidArgument when validate(config) fails.
  static Result<Teacher> create(const BertConfig& config, uint64_t seed = 0);

  // Loads <dir>/config.json and <dir>/model.safetensors onto the CPU, with
  // requires_grad off. Errors name the file and, for a tensor, the
  // checkpoint name: kNotFound (missing file or tensor), kMalformed (corrupt
  // file), kInvalidArgument (bad config, shape mismatch, non-float tensor).
  static Result<Teacher> load(const std::filesystem::path& dir);

  Teacher(Teacher&&) noexcept;
  Teacher& operator=(Teacher&&) noexcept;
  ~Teacher();

  const BertConfig& config() const;

  // As Student::forward; options.num_layers counts encoder layers. Inputs
  // must be on the model's device, S <= max_position_embeddings, ids in range.
  ModelOutputs forward(const ModelInputs& inputs, const ForwardOptions& options = {}) const;

  // Every parameter with its checkpoint name (the decoder only when untied).
  std::vector<NamedTensor> named_parameters() const;
  int64_t parameter_count() const;

  at::Device device() const;
  void to(const at::Device& device);

  // Writes <dir>/config.json and <dir>/model.safetensors (created if
  // missing) in the Hugging Face layout, tensors as `dtype`. kInternal when
  // a file cannot be written.
  Status save(const std::filesystem::path& dir, DType dtype = DType::kF32) const;

 private:
  struct Impl;
  explicit Teacher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill::model
