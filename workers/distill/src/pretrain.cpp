#include "autodistill/distill/pretrain.hpp"

#include <ATen/ATen.h>

#include "autodistill/distill/losses.hpp"
#include "train_loop.hpp"

namespace autodistill::distill {

Result<PretrainReport> pretrain_teacher(model::Teacher& teacher, const model::Corpus& corpus,
                                        const model::WordPieceTokenizer& tokenizer,
                                        const PretrainOptions& options,
                                        const ProgressFn& progress) {
  if (options.steps < 1 || options.batch_size < 1 || options.eval_batches < 1) {
    return Status(Code::kInvalidArgument, "steps, batch_size and eval_batches must be positive",
                  "steps");
  }
  if (options.seq_len < 8 || options.seq_len > teacher.config().max_position_embeddings) {
    return Status(Code::kInvalidArgument, "seq_len must be in [8, max_position_embeddings]",
                  "seq_len");
  }
  if (tokenizer.vocab().size() > teacher.config().vocab_size) {
    return Status(Code::kInvalidArgument, "the vocabulary is larger than the teacher's",
                  "vocab_size");
  }
  auto special = model::special_tokens(tokenizer.vocab());
  if (!special) return special.status();
  model::ExampleOptions examples;
  examples.seq_len = options.seq_len;
  auto eval = model::make_eval_batches(corpus, tokenizer, examples, options.eval_batches,
                                       options.batch_size, options.eval_seed);
  if (!eval) return eval.status();
  auto stream =
      model::ExampleStream::create(corpus, model::Split::kTrain, tokenizer, examples, options.seed);
  if (!stream) return stream.status();
  model::BatchLoader loader(std::move(stream.value()), options.batch_size, options.seq_len,
                            special->pad);

  detail::TrainLoop loop;
  loop.loader = &loader;
  loop.device = teacher.device();
  loop.learning_rate = options.learning_rate;
  loop.warmup_fraction = options.warmup_fraction;
  loop.clip_norm = options.clip_norm;
  loop.lamb = options.lamb;
  const auto params = teacher.named_parameters();
  for (const auto& [name, t] : params) t.requires_grad_(true);
  auto phase = loop.run(
      "teacher pretraining", options.steps, params,
      [&](const model::Batch& b, const detail::LossShares&) {
        model::ForwardOptions forward;
        forward.attentions = false;
        forward.mlm_positions = b.mlm_positions;
        const model::ModelOutputs out = teacher.forward(b.inputs, forward);
        return mlm_loss(out.mlm_logits, b.mlm_labels) + nsp_loss(out.nsp_logits, b.nsp_labels);
      },
      progress);
  for (const auto& [name, t] : params) t.requires_grad_(false);
  if (!phase) return phase.status();
  PretrainReport report;
  report.phase = *phase;
  report.train_seconds = loop.seconds;
  report.eval =
      evaluate([&teacher](const model::ModelInputs& in,
                          const model::ForwardOptions& o) { return teacher.forward(in, o); },
               *eval, teacher.device());
  return report;
}

}  // namespace autodistill::distill
