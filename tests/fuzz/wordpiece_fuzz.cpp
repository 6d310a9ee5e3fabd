// libFuzzer target: the WordPiece tokenizer of the model library
// (workers/model/include/autodistill/model/wordpiece.hpp), which turns
// arbitrary corpus text into token ids.
//
// The first input byte picks the options (lower_case, strip_accents,
// split_cjk, a short max_chars_per_word) and, when its top bit is set, the
// rest up to the first NUL is a vocab.txt to parse; the text to tokenize
// follows. Otherwise a small fixed vocabulary is used and the rest is text.
//
// Properties checked beyond "no crash, no sanitizer report":
//   - Vocab::parse refuses only with kInvalidArgument;
//   - every token is a vocabulary entry, and encode() gives exactly the ids
//     of tokenize() (Vocab::id of each token);
//   - no token is empty.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "autodistill/model/wordpiece.hpp"

using namespace autodistill;
using namespace autodistill::model;

namespace {

const Vocab& fixed_vocab() {
  static const Vocab vocab = [] {
    auto v = Vocab::from_tokens(
        {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the",   "un",  "##aff", "##able", "##s",
         "a",     "##b",   ",",     "!",     "hello",  "world", "caf", "##e",   "é",      "##é",
         "我",    "北",    "京",    "naive", "##ï",    "ß",     "ss",  "İ",     "i",      "##̇"});
    if (!v) __builtin_trap();
    return std::move(v.value());
  }();
  return vocab;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  TokenizerOptions options;
  options.lower_case = flags & 1;
  options.strip_accents = flags & 2;
  options.split_cjk = flags & 4;
  if (flags & 8) options.max_chars_per_word = 3;

  Vocab vocab = fixed_vocab();
  if (flags & 0x80) {
    const size_t nul = rest.find('\0');
    auto parsed = Vocab::parse(rest.substr(0, nul));
    if (!parsed) {
      if (parsed.status().code() != Code::kInvalidArgument) __builtin_trap();
      return 0;
    }
    vocab = std::move(parsed.value());
    rest = nul == std::string_view::npos ? std::string_view() : rest.substr(nul + 1);
  }
  auto tokenizer = WordPieceTokenizer::create(std::move(vocab), options);
  if (!tokenizer) return 0;  // the vocabulary lacks [UNK]
  const std::vector<std::string> tokens = tokenizer->tokenize(rest);
  const std::vector<int32_t> ids = tokenizer->encode(rest);
  if (ids.size() != tokens.size()) __builtin_trap();
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i].empty()) __builtin_trap();
    const int64_t id = tokenizer->vocab().id(tokens[i]);
    if (id < 0 || ids[i] != id) __builtin_trap();
  }
  (void)tokenizer->basic_tokenize(rest);
  return 0;
}
