// The WordPiece vocabulary trainer: BPE merges with "##" continuations, by
// hand on a small count table; every word of a corpus tokenizes without
// [UNK]; the size limit and min_frequency hold; deterministic; errors.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "autodistill/model/wordpiece_trainer.hpp"

using namespace autodistill;
using namespace autodistill::model;
namespace fs = std::filesystem;

namespace {

// the x10 -> t ##h ##e, this x5 -> t ##h ##i ##s, she x3 -> s ##h ##e. Pair
// counts: (t, ##h) 15, (##h, ##e) 13, (##h, ##i) 5, (##i, ##s) 5, (s, ##h) 3.
// Merge 1: "th" (15); then (th, ##e) 10, (##h, ##e) 3: merge 2: "the".
const std::map<std::string, int64_t> kCounts = {{"the", 10}, {"this", 5}, {"she", 3}};

struct TempFile {
  TempFile() {
    std::string pattern = (fs::temp_directory_path() / "ad-wp-trainer-XXXXXX").string();
    ::close(::mkstemp(pattern.data()));
    path = pattern;
  }
  ~TempFile() { fs::remove(path); }
  fs::path path;
};

}  // namespace

TEST_CASE("The trainer merges the most frequent pairs into WordPiece tokens") {
  WordPieceTrainerOptions options;
  options.vocab_size = 5 + 6 + 2;  // the special tokens, the alphabet, two merges
  auto vocab = train_wordpiece(kCounts, options);
  REQUIRE(vocab);
  const std::vector<std::string> expected = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                             "##e",   "##h",   "##i",   "##s",   "s",
                                             "t",     "th",    "the"};
  CHECK(vocab->tokens() == expected);
  // min_frequency stops the merges before the size limit: (th, ##e) occurs 10 times.
  options.vocab_size = 100;
  options.min_frequency = 11;
  auto fewer = train_wordpiece(kCounts, options);
  REQUIRE(fewer);
  CHECK(fewer->size() == 12);
  CHECK(fewer->tokens().back() == "th");
}

TEST_CASE("A vocabulary learned from a corpus tokenizes it without [UNK], deterministically") {
  TempFile corpus;
  std::ofstream(corpus.path) << "In the beginning God created the heaven and the earth.\n"
                                "And the earth was without form; and void.\n\n"
                                "O J\xC3\xA9rusalem, J\xC3\xA9rusalem! The LORD's house.\n";
  WordPieceTrainerOptions options;
  options.vocab_size = 45;
  auto vocab = train_wordpiece(corpus.path, options);
  REQUIRE(vocab);
  CHECK(vocab->size() == 45);
  CHECK(vocab->id("the") >= 0);        // the most frequent word is whole
  CHECK(vocab->id("j") >= 0);          // accents stripped, lower-cased
  CHECK(vocab->id("\xC3\xA9") == -1);  // ... so no "é"
  auto again = train_wordpiece(corpus.path, options);
  REQUIRE(again);
  CHECK(again->tokens() == vocab->tokens());
  auto tokenizer = WordPieceTokenizer::create(std::move(vocab.value()));
  REQUIRE(tokenizer);
  std::ifstream in(corpus.path);
  std::string line;
  while (std::getline(in, line)) {
    for (const std::string& token : tokenizer->tokenize(line)) {
      INFO(line);
      CHECK(token != "[UNK]");
    }
  }
}

TEST_CASE("The trainer's errors name the field") {
  WordPieceTrainerOptions options;
  options.vocab_size = 10;  // the alphabet needs 5 + 6
  auto small = train_wordpiece(kCounts, options);
  CHECK(small.status().code() == Code::kInvalidArgument);
  CHECK(small.status().field() == "vocab_size");
  CHECK(train_wordpiece(fs::path("/nonexistent/corpus.txt")).status().code() == Code::kNotFound);
  TempFile bad;
  std::ofstream(bad.path) << "fine\nnot \xFF utf-8\n";
  auto invalid = train_wordpiece(bad.path);
  CHECK(invalid.status().code() == Code::kInvalidArgument);
  CHECK(invalid.status().field() == "line 2");
  TempFile empty;
  CHECK(train_wordpiece(empty.path).status().field() == "corpus");
}
