#pragma once
// Learns a WordPiece vocabulary (vocab.txt) from a corpus, so a teacher can
// be pre-trained on real text (tools/make_teacher.cpp) with tokens that fit it.
//
// The algorithm is byte-pair encoding over words with WordPiece's "##"
// continuation marks, as Hugging Face tokenizers' WordPieceTrainer does:
//  1. every line is split into words by WordPieceTokenizer::basic_tokenize
//     (cleaning, lower-casing and accent stripping as `options.tokenizer`
//     says, punctuation split off), and the words are counted;
//  2. each word starts as its code points, the first as itself and the rest
//     as "##c"; these are the alphabet, all kept, so every word of the corpus
//     tokenizes without [UNK];
//  3. the most frequent adjacent pair of symbols (summed over words by their
//     counts; ties broken by the merged token's bytes) is merged into one
//     symbol ("th" + "##e" -> "the", "##i" + "##ng" -> "##ing"), until the
//     vocabulary is full or no pair occurs min_frequency times.
// The vocabulary is [PAD] [UNK] [CLS] [SEP] [MASK], the alphabet (sorted by
// bytes), then the merged tokens in the order they were learned. Greedy
// longest-match WordPiece (WordPieceTokenizer) then tokenizes with it.
// Deterministic: the same corpus and options give the same vocabulary.
//
// Thread-safety: pure functions.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "autodistill/model/wordpiece.hpp"
#include "autodistill/status.hpp"

namespace autodistill::model {

struct WordPieceTrainerOptions {
  // Tokens in the vocabulary, special tokens and alphabet included; at least
  // the alphabet plus the five special tokens. Default 4000.
  int64_t vocab_size = 4000;
  // A pair is merged only when it occurs at least this often. Default 2.
  int64_t min_frequency = 2;
  // The basic tokenization (lower_case, strip_accents, ...). Default: uncased.
  TokenizerOptions tokenizer;
};

// Learns the vocabulary from word counts (words as basic_tokenize returns
// them). kInvalidArgument (field "vocab_size") when the alphabet does not fit.
Result<Vocab> train_wordpiece(const std::map<std::string, int64_t>& word_counts,
                              const WordPieceTrainerOptions& options = {});

// Counts the words of every line of a text file and learns the vocabulary.
// kNotFound when the file cannot be read; kInvalidArgument (field "line N")
// for a line that is not UTF-8, and for a file without words.
Result<Vocab> train_wordpiece(const std::filesystem::path& corpus,
                              const WordPieceTrainerOptions& options = {});

}  // namespace autodistill::model
