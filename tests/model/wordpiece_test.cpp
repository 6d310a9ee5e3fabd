// WordPiece tokenizer against transformers' BertTokenizer behaviour (the
// expected outputs come from its algorithm run in Python on the same text).

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "autodistill/model/wordpiece.hpp"

using autodistill::Code;
using autodistill::model::TokenizerOptions;
using autodistill::model::Vocab;
using autodistill::model::WordPieceTokenizer;
using Tokens = std::vector<std::string>;

namespace {

WordPieceTokenizer make(std::vector<std::string> tokens, TokenizerOptions options = {}) {
  auto vocab = Vocab::from_tokens(std::move(tokens));
  REQUIRE(vocab);
  auto tokenizer = WordPieceTokenizer::create(std::move(vocab.value()), options);
  REQUIRE(tokenizer);
  return std::move(tokenizer.value());
}

}  // namespace

TEST_CASE("basic tokenization: cleaning, case, accents, punctuation, CJK") {
  const WordPieceTokenizer t = make({"[UNK]"});
  CHECK(t.basic_tokenize("Héllo, Wörld!") == Tokens{"hello", ",", "world", "!"});
  // Full Unicode lower-casing, final sigma included.
  CHECK(t.basic_tokenize("ΣΑΣ ΟΔΟΣ") == Tokens{"σας", "οδος"});
  // İ lower-cases to i + combining dot, which accent stripping removes.
  CHECK(t.basic_tokenize("İstanbul") == Tokens{"istanbul"});
  CHECK(t.basic_tokenize("don't stop...") == Tokens{"don", "'", "t", "stop", ".", ".", "."});
  CHECK(t.basic_tokenize("我爱北京天安门ok") ==
        Tokens{"我", "爱", "北", "京", "天", "安", "门", "ok"});
  // Kana are not CJK ideographs: they stay one word.
  CHECK(t.basic_tokenize("日本語のテキスト") == Tokens{"日", "本", "語", "のテキスト"});
  // No-break space splits; zero-width space, NUL, U+FFFD and BEL vanish.
  CHECK(t.basic_tokenize(std::string("a\u00a0b\u200bc") + std::string(1, '\0') +
                         "d\ufffde\x07"
                         "f") == Tokens{"a", "bcdef"});
  CHECK(t.basic_tokenize("tab\tnew\nline\r\nend") == Tokens{"tab", "new", "line", "end"});
  CHECK(t.basic_tokenize("line\u2028sep") == Tokens{"line", "sep"});
  // A decomposed accent is stripped like a precomposed one.
  CHECK(t.basic_tokenize("e\u0301cole") == Tokens{"ecole"});
  // Compatibility characters are not decomposed (NFD, not NFKD).
  CHECK(t.basic_tokenize("ﬁne Straße") == Tokens{"ﬁne", "straße"});
  CHECK(t.basic_tokenize("«quoted» — dash") == Tokens{"«", "quoted", "»", "—", "dash"});
  CHECK(t.basic_tokenize("$100 & 50% off") == Tokens{"$", "100", "&", "50", "%", "off"});
  CHECK(t.basic_tokenize("naïve café résumé ÅNGSTRÖM") ==
        Tokens{"naive", "cafe", "resume", "angstrom"});
  CHECK(t.basic_tokenize("   ").empty());
  CHECK(t.basic_tokenize("").empty());
  // Invalid UTF-8 bytes decode to U+FFFD and are dropped.
  CHECK(t.basic_tokenize("ab\xff\xfe"
                         "cd \xc3") == Tokens{"abcd"});
}

TEST_CASE("the ASCII fast path agrees with the Unicode path") {
  for (bool lower : {true, false}) {
    TokenizerOptions options;
    options.lower_case = lower;
    options.strip_accents = lower;
    const WordPieceTokenizer t = make({"[UNK]"}, options);
    const std::vector<std::string> texts = {"Hello, World!",
                                            "a\x01"
                                            "b\tc\x7f"
                                            " d\x0b\x0c"
                                            "e",
                                            "  x--y  (z) [q] {r} ~`^_ ", "MiXeD CaSe 123 4.5",
                                            std::string("nul\0byte", 8)};
    for (const std::string& s : texts) {
      auto ascii = t.basic_tokenize(s);
      auto unicode = t.basic_tokenize(s + " \u00e9");  // forces the ICU path
      REQUIRE_FALSE(unicode.empty());
      unicode.pop_back();
      CHECK(ascii == unicode);
    }
  }
}

TEST_CASE("cased tokenization keeps case and, unless asked, accents") {
  TokenizerOptions cased;
  cased.lower_case = false;
  cased.strip_accents = false;
  CHECK(make({"[UNK]"}, cased).basic_tokenize("Héllo") == Tokens{"Héllo"});
  cased.strip_accents = true;
  CHECK(make({"[UNK]"}, cased).basic_tokenize("Héllo") == Tokens{"Hello"});
}

TEST_CASE("wordpiece: greedy longest match first, ## continuations, [UNK]") {
  const WordPieceTokenizer t = make({"[PAD]", "[UNK]", "un", "##aff", "##able", "runn", "##ing",
                                     "run", "##n", "a", "##b", "hello", "!", "##é"});
  CHECK(t.tokenize("unaffable") == Tokens{"un", "##aff", "##able"});
  // Longest match first: "runn" + "##ing", not "run" + "##n" + ...
  CHECK(t.tokenize("running") == Tokens{"runn", "##ing"});
  // An unmatchable rest makes the whole word [UNK], not a partial match.
  CHECK(t.tokenize("runnx") == Tokens{"[UNK]"});
  CHECK(t.tokenize("ab Hello!") == Tokens{"a", "##b", "hello", "!"});
  CHECK(t.tokenize(std::string(101, 'a')) == Tokens{"[UNK]"});
  CHECK(t.encode("unaffable zzz!") == std::vector<int32_t>{2, 3, 4, 1, 12});
}

TEST_CASE("wordpiece counts code points, not bytes") {
  TokenizerOptions keep;
  keep.strip_accents = false;
  keep.max_chars_per_word = 3;
  const WordPieceTokenizer t = make({"[UNK]", "a", "##é", "##éé"}, keep);
  CHECK(t.tokenize("aéé") == Tokens{"a", "##éé"});  // 3 code points, 5 bytes
  CHECK(t.tokenize("aééé") == Tokens{"[UNK]"});     // 4 code points
}

TEST_CASE("vocab parsing") {
  auto v = Vocab::parse("[PAD]\r\n[UNK]\nthe\n\n##s\nthe\n");
  REQUIRE(v);
  CHECK(v->size() == 6);  // the empty line is a token; the final newline ends the last line
  CHECK(v->id("[UNK]") == 1);
  CHECK(v->id("##s") == 4);
  CHECK(v->id("the") == 5);  // the last line of a duplicate wins
  CHECK(v->token(2) == "the");
  CHECK(v->id("absent") == -1);

  auto empty = Vocab::parse("");
  CHECK(empty.status().code() == Code::kInvalidArgument);
  auto binary = Vocab::parse("ok\nb\xff\xfe\n");
  REQUIRE_FALSE(binary);
  CHECK(binary.status().field() == "line 2");

  auto no_unk = Vocab::parse("a\nb\n");
  REQUIRE(no_unk);
  auto tokenizer = WordPieceTokenizer::create(std::move(no_unk.value()));
  REQUIRE_FALSE(tokenizer);
  CHECK(tokenizer.status().field() == "unk_token");

  auto missing = Vocab::read("/nonexistent/vocab.txt");
  CHECK(missing.status().code() == Code::kNotFound);
}

TEST_CASE("vocab round trips through text") {
  auto v = Vocab::from_tokens({"[PAD]", "[UNK]", "héllo", "##s"});
  REQUIRE(v);
  const auto path = std::filesystem::temp_directory_path() / "autodistill_vocab_test.txt";
  std::ofstream(path) << v->to_text();
  auto back = Vocab::read(path);
  REQUIRE(back);
  CHECK(back->tokens() == v->tokens());
  std::filesystem::remove(path);
}
