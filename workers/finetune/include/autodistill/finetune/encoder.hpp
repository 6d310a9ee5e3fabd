#pragma once
// The seam between fine-tuning and the model formats: an encoder and its
// tokenizer loaded from a model directory, giving the sequence output and
// the pooled [CLS] state a classification head sits on. Encoder::load() is
// the one place that knows the formats:
//   - a Hugging Face BERT checkpoint (config.json model_type "bert" or none;
//     a teacher): model::Teacher::load;
//   - a delivered student (config.json model_type "autodistill-student"):
//     model::load_student.
// Both need vocab.txt beside them; tokenizer_config.json's do_lower_case /
// strip_accents choose a cased tokenizer, as in transformers.
//
// Thread-safety: sequence_output() may run on several threads at once while
// nothing changes the parameters; everything else needs external
// synchronization.

#include <ATen/core/Tensor.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "autodistill/model/forward.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/status.hpp"

namespace autodistill::finetune {

class Encoder {
 public:
  // Loads `dir` onto the CPU with every parameter trainable. Errors name the
  // file: kNotFound (config.json, the weights, vocab.txt), kMalformed,
  // kInvalidArgument (an unknown model_type, a bad config or tensor, a
  // vocabulary larger than the model's).
  static Result<Encoder> load(const std::filesystem::path& dir);

  Encoder(Encoder&&) noexcept;
  Encoder& operator=(Encoder&&) noexcept;
  ~Encoder();

  // "bert" (a teacher) or "autodistill-student".
  const std::string& model_type() const;
  const model::WordPieceTokenizer& tokenizer() const;
  int64_t hidden_size() const;
  int64_t max_positions() const;
  int64_t type_vocab_size() const;

  // [N, S, hidden]: the last layer's hidden states (autograd records it
  // unless a NoGradGuard is active).
  at::Tensor sequence_output(const model::ModelInputs& inputs) const;
  // [N, hidden]: tanh(W h[CLS] + b) with the checkpoint's pooler (BERT's
  // bert.pooler.dense, the student's pooler.dense), or h[CLS] without one.
  at::Tensor pooled_output(const at::Tensor& sequence_output) const;

  // Every parameter (the tensors themselves) with its checkpoint name.
  std::vector<model::NamedTensor> named_parameters() const;
  int64_t parameter_count() const;

  at::Device device() const;
  void to(const at::Device& device);

 private:
  struct Impl;
  explicit Encoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill::finetune
