#pragma once
// Hugging Face tokenizer files for a BERT WordPiece tokenizer, written
// beside a delivered student so that transformers' AutoTokenizer,
// transformers.js and the `tokenizers` library load it without this project:
//
//   vocab.txt                one token per line (the id is the line number)
//   tokenizer.json           the `tokenizers` format: BertNormalizer (after an
//                            NFC normalizer when accents are kept, as this
//                            project's WordPiece composes first),
//                            BertPreTokenizer, WordPiece model ("##",
//                            [UNK], 100 characters per word),
//                            TemplateProcessing ([CLS] A [SEP] / [CLS] A
//                            [SEP] B [SEP], type ids 0/1), WordPiece decoder
//   tokenizer_config.json    do_lower_case, strip_accents,
//                            tokenize_chinese_chars, model_max_length, the
//                            special tokens, tokenizer_class BertTokenizer
//   special_tokens_map.json  [UNK] [SEP] [PAD] [CLS] [MASK]
//
// The written tokenizer.json tokenizes as WordPieceTokenizer does (checked
// against transformers.js in tests/model), except that the special tokens
// written in the text ("[MASK]") are recognized by Hugging Face's
// tokenizers and not by this project's.
//
// Thread-safety: free functions; concurrent writes need different directories.

#include <filesystem>
#include <string>

#include "autodistill/model/wordpiece.hpp"
#include "autodistill/status.hpp"

namespace autodistill::model {

// The file names save_tokenizer_files() writes, in that order.
inline constexpr const char* kTokenizerFiles[] = {
    "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};

// The tokenizer.json text. kInvalidArgument (field: the token) when the
// vocabulary lacks one of [PAD] [UNK] [CLS] [SEP] [MASK].
Result<std::string> tokenizer_json(const WordPieceTokenizer& tokenizer);

// Writes the four files into `dir` (which must exist). model_max_length:
// the model's positions. Errors as tokenizer_json(); kInternal when a file
// cannot be written.
Status save_tokenizer_files(const std::filesystem::path& dir, const WordPieceTokenizer& tokenizer,
                            int64_t model_max_length);

// The options a checkpoint directory's tokenizer_config.json states
// (do_lower_case; strip_accents, which follows do_lower_case when absent or
// null; tokenize_chinese_chars); defaults for what it does not say, or when
// the file is absent or not a JSON object.
TokenizerOptions read_tokenizer_options(const std::filesystem::path& dir);

// vocab.txt and tokenizer_config.json of `dir` as a tokenizer. Errors of
// Vocab::read and WordPieceTokenizer::create.
Result<WordPieceTokenizer> read_tokenizer(const std::filesystem::path& dir);

}  // namespace autodistill::model
