#pragma once
// BERT pre-training examples from a corpus (Devlin et al. 2019, as in
// google-research/bert create_pretraining_data.py):
//
//  - per document, sentences are packed into chunks of about seq_len - 3
//    tokens (a shorter target with probability short_seq_prob); a chunk is
//    split at a random sentence boundary into A and B;
//  - with probability random_next_prob (and always for a one-sentence
//    chunk) B is replaced by sentences from a random other document of the
//    same split (NSP label 1, "random"), else B follows A (label 0); the
//    unused sentences go back to the document;
//  - [CLS] A [SEP] B [SEP], truncated from a random end of the longer side;
//  - mask_prob of the non-special tokens (at least one, at most
//    max_predictions) are chosen for MLM: 80 % become [MASK], 10 % a random
//    non-special token, 10 % stay.
// Documents are visited in a fresh random order per epoch and examples pass
// through a shuffle buffer, so a batch mixes documents. The stream is a pure
// function of (corpus, split, tokenizer, options, seed).
//
// Thread-safety: an ExampleStream is used by one thread at a time.

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "autodistill/model/corpus.hpp"
#include "autodistill/model/wordpiece.hpp"
#include "autodistill/status.hpp"

namespace autodistill::model {

// The ids of BERT's special tokens in a vocabulary.
struct SpecialTokens {
  int32_t pad = -1, unk = -1, cls = -1, sep = -1, mask = -1;
};
// kInvalidArgument naming the token ("[MASK]") when the vocabulary lacks one.
Result<SpecialTokens> special_tokens(const Vocab& vocab);

// A checkpoint's vocab.txt against its config.json: one token per embedding
// row (exactly `vocab_size` lines, as transformers' BERT checkpoints have;
// a padded embedding table lists its padding as [unusedN] tokens), the five
// special tokens [PAD] [UNK] [CLS] [SEP] [MASK], and at least one token
// that is not special (else every word is [UNK] and MLM is trivial).
// kInvalidArgument with field "vocab.txt" saying which rule fails.
Status validate_vocab(const Vocab& vocab, int64_t vocab_size);

struct Example {
  std::vector<int32_t> input_ids;       // [CLS] A [SEP] B [SEP], unpadded
  std::vector<int32_t> token_type_ids;  // 0 for [CLS] A [SEP], 1 for B [SEP]
  std::vector<int32_t> mlm_labels;      // the original id at chosen positions, -100 elsewhere
  int32_t nsp_label = 0;                // 0: B follows A, 1: B is random
};

struct ExampleOptions {
  // Tokens per example including [CLS] and two [SEP]; at least 8. Default 128.
  int64_t seq_len = 128;
  // Probability of a shorter target length. Default 0.1.
  double short_seq_prob = 0.1;
  // Probability that B is a random document's text. Default 0.5.
  double random_next_prob = 0.5;
  // Fraction of tokens chosen for MLM. Default 0.15.
  double mask_prob = 0.15;
  // At most this many MLM positions per example; 0 means
  // ceil(seq_len * mask_prob). Default 0.
  int64_t max_predictions = 0;
  // Examples mixed before they are handed out. Default 256.
  int64_t shuffle_buffer = 256;
  // Tokenized documents kept in memory (oldest dropped first), in tokens;
  // a small corpus is then tokenized once. Default 4M (16 MiB).
  int64_t cache_tokens = 4 << 20;
};

// Checks ranges (field: the option's name).
Status validate(const ExampleOptions& options);

class ExampleStream {
 public:
  // `corpus` and `tokenizer` must outlive the stream. kInvalidArgument for
  // bad options or a vocabulary without the special tokens.
  static Result<ExampleStream> create(const Corpus& corpus, Split split,
                                      const WordPieceTokenizer& tokenizer, ExampleOptions options,
                                      uint64_t seed);
  ExampleStream(ExampleStream&&) noexcept;
  ExampleStream& operator=(ExampleStream&&) noexcept;
  ~ExampleStream();

  // The next example (the stream is endless: epoch after epoch). Errors:
  // the corpus cannot be read (kUnavailable), or no document of the split
  // yields any token (kInvalidArgument).
  Result<Example> next();

  // The stream's position, in a few bytes plus the examples in flight: the
  // RNG, this epoch's document order and place in it, the examples of the
  // current document and the shuffle buffer. A stream over the same corpus,
  // split, tokenizer, options and seed that restores it continues exactly
  // where this one is (the tokenization cache is not state: it only saves
  // work). `drawn` are examples next() already returned that the consumer
  // has not used yet (a loader's batches made ahead): the restored stream
  // returns them first, in order.
  std::string save_state(const std::vector<const Example*>& drawn = {}) const;
  // kInvalidArgument (field "data_state") when `state` is not a state of a
  // stream like this one (truncated, another version, a document or token
  // id out of range); the stream is then unchanged.
  Status restore_state(std::string_view state);

 private:
  struct Impl;
  explicit ExampleStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace autodistill::model
