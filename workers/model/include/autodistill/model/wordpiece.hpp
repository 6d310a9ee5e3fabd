#pragma once
// BERT's WordPiece tokenizer, compatible with a Hugging Face vocab.txt and
// with transformers' BertTokenizer (BasicTokenizer + WordpieceTokenizer):
//
//  1. clean: drop U+0000, U+FFFD and control characters (category C*,
//     except \t \n \r); whitespace (\t \n \r, category Zs) becomes ' '.
//  2. put spaces around CJK ideographs; NFC-normalize.
//  3. split on whitespace; per word: lower-case (full Unicode mapping) and
//     strip accents (NFD, drop category Mn), as options say; then split off
//     every punctuation character (ASCII symbols and category P*).
//  4. WordPiece: greedy longest-match-first over code points, continuation
//     pieces prefixed "##"; a word with an unmatchable rest, or longer than
//     max_chars_per_word code points, becomes [UNK].
// Invalid UTF-8 bytes decode to U+FFFD (and so are dropped). Special tokens
// written in the text ("[MASK]") are not recognised: they split like text.
//
// Thread-safety: Vocab and WordPieceTokenizer are immutable after creation;
// any number of threads may use one at once.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "autodistill/status.hpp"

namespace autodistill::model {

class Vocab {
 public:
  // One token per line, the line number (from 0) is the id; a trailing
  // "\r" is dropped. As in transformers, a token listed twice maps to its
  // last line and an empty line is a (never matched) token, so ids stay
  // aligned with the embedding rows. kInvalidArgument for an empty
  // vocabulary or (field: "line N") invalid UTF-8.
  static Result<Vocab> parse(std::string_view text);
  // Reads and parses a vocab.txt; kNotFound when it cannot be read.
  static Result<Vocab> read(const std::filesystem::path& path);
  // A vocabulary of these tokens, ids in order (for tests and tools).
  static Result<Vocab> from_tokens(std::vector<std::string> tokens);

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  // -1 when absent.
  int64_t id(std::string_view token) const;
  const std::string& token(int64_t id) const { return tokens_.at(static_cast<size_t>(id)); }
  const std::vector<std::string>& tokens() const { return tokens_; }
  // The vocab.txt text (one token per line).
  std::string to_text() const;

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, int64_t, Hash, std::equal_to<>> ids_;
};

struct TokenizerOptions {
  // Lower-case every word (uncased BERT). Default true.
  bool lower_case = true;
  // Strip accents (NFD, drop Mn). transformers strips whenever it lower-cases
  // unless told otherwise; cased models set both false. Default true.
  bool strip_accents = true;
  // Put spaces around CJK ideographs so each is its own word. Default true.
  bool split_cjk = true;
  // Longer words (in code points) become [UNK]. Default 100.
  size_t max_chars_per_word = 100;
  // The unknown token; it must be in the vocabulary. Default "[UNK]".
  std::string unk_token = "[UNK]";
};

class WordPieceTokenizer {
 public:
  // kInvalidArgument (field "unk_token") when the vocabulary lacks unk_token.
  static Result<WordPieceTokenizer> create(Vocab vocab, TokenizerOptions options = {});

  const Vocab& vocab() const { return vocab_; }
  const TokenizerOptions& options() const { return options_; }

  // Steps 1-3: the words and punctuation marks, before WordPiece.
  std::vector<std::string> basic_tokenize(std::string_view text) const;
  // Steps 1-4: WordPiece tokens.
  std::vector<std::string> tokenize(std::string_view text) const;
  // The ids of tokenize(text).
  std::vector<int32_t> encode(std::string_view text) const;

 private:
  WordPieceTokenizer(Vocab vocab, TokenizerOptions options, int64_t unk_id);
  std::vector<std::string> basic_tokenize_ascii(std::string_view text) const;
  void wordpiece(const std::string& word, std::vector<std::string>& out) const;

  Vocab vocab_;
  TokenizerOptions options_;
  int64_t unk_id_;
};

}  // namespace autodistill::model
