#pragma once
// The model the LibTorch step benchmarks time (distill_step, data_parallel):
// a randomly initialized BERT-mini teacher (4 layers x 256, 4 heads, FFN
// 1024, 512 positions) with BERT's vocabulary size, and a tokenizer of that
// size (the synthetic grammar's words, then filler tokens) so that the
// embedding and MLM-head costs are BERT's. Header-only.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

}  // namespace autodistill::bench
