#pragma once
// The model the LibTorch step benchmarks time (distill_step, data_parallel):
// a randomly initialized BERT-mini teacher (4 layers x 256, 4 heads, FFN
// 1024, 512 positions) with BERT's vocabulary size, and a tokenizer of that
// size (the synthetic grammar's words, then filler tokens) so that the
// embedding and MLM-head costs are BERT's; and the distiller both time.
// Header-only.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "autodistill/distill/distiller.hpp"
#include "autodistill/model/bert_config.hpp"
#include "autodistill/model/synthetic_corpus.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/status.hpp"

namespace autodistill::bench {

// BERT's vocabulary size (bert-base-uncased).
inline constexpr int64_t kBertVocab = 30522;

// A tokenizer of kBertVocab tokens that splits the synthetic corpus's words.
inline Result<model::WordPieceTokenizer> bert_sized_tokenizer() {
  std::vector<std::string> tokens = model::synthetic_vocab();
  while (static_cast<int64_t>(tokens.size()) < kBertVocab) {
    tokens.push_back("filler" + std::to_string(tokens.size()));
  }
  auto vocab = model::Vocab::from_tokens(std::move(tokens));
  if (!vocab) return vocab.status();
  return model::WordPieceTokenizer::create(std::move(vocab.value()));
}

// BERT-mini's shape with kBertVocab tokens.
inline model::BertConfig bert_mini_config() {
  model::BertConfig config;
  config.vocab_size = kBertVocab;
  config.hidden_size = 256;
  config.num_hidden_layers = 4;
  config.num_attention_heads = 4;
  config.intermediate_size = 1024;
  config.max_position_embeddings = 512;
  return config;
}

// The distiller a step benchmark times: batches of batch_size sequences of
// seq_len tokens, one evaluation batch (evaluation is not timed).
inline Result<distill::Distiller> step_distiller(model::Student& student,
                                                 const model::Teacher& teacher,
                                                 const model::Corpus& corpus,
                                                 const model::WordPieceTokenizer& tokenizer,
                                                 int64_t batch_size, int64_t seq_len) {
  distill::DistillOptions o;
  o.batch_size = batch_size;
  o.seq_len = seq_len;
  o.eval_batches = 1;
  return distill::Distiller::create(student, teacher, corpus, tokenizer, o);
}

}  // namespace autodistill::bench
