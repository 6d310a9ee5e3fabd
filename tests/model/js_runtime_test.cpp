// A delivered student in runtimes nobody here wrote (npm packages in
// tools/js, installed by scripts/setup.sh):
//  - transformers.js's AutoTokenizer, loading the written tokenizer.json,
//    tokenizes a set of tricky texts exactly as the project's WordPiece does;
//  - the ONNX export (tools/autodistill_export_onnx.py) runs in ONNX Runtime
//    (onnxruntime-node) and matches the LibTorch logits to 1e-4;
//  - transformers.js's fill-mask pipeline runs on the student directory and
//    predicts what LibTorch predicts.
// Node, the npm packages and python3-torch are requirements of this test:
// without them it fails, saying what to install.

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autodistill/model/student_checkpoint.hpp"
#include "autodistill/model/tensor_io.hpp"
#include "autodistill/model/tokenizer_files.hpp"

using namespace autodistill;
using namespace autodistill::model;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path dir =
      fs::temp_directory_path() / ("autodistill_js_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Fails the test, saying what is missing, unless node and the npm packages are there.
void require_js() {
  const fs::path modules = fs::path(AUTODISTILL_JS_DIR) / "node_modules";
  INFO("node: " AUTODISTILL_NODE ", packages: " << modules.string()
                                                << " (run scripts/setup.sh, which runs npm ci "
                                                   "in tools/js)");
  REQUIRE(std::system(AUTODISTILL_NODE " --version >/dev/null 2>&1") == 0);
  REQUIRE(fs::exists(modules / "onnxruntime-node" / "package.json"));
  REQUIRE(fs::exists(modules / "@huggingface" / "transformers" / "package.json"));
}

// Runs a script of tools/js; the test fails with its output when it fails.
std::string run_js(const std::string& script, const std::string& args) {
  const fs::path log = fs::temp_directory_path() /
                       ("autodistill_js_" + std::to_string(::getpid()) + "_" + script + ".log");
  const std::string command = std::string("cd " AUTODISTILL_JS_DIR " && " AUTODISTILL_NODE " ") +
                              script + " " + args + " >" + log.string() + " 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  INFO(command << "\n" << text.str());
  REQUIRE(rc == 0);
  return text.str();
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

WordPieceTokenizer make_tokenizer(std::vector<std::string> words, TokenizerOptions options = {}) {
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  tokens.insert(tokens.end(), words.begin(), words.end());
  auto vocab = Vocab::from_tokens(tokens);
  REQUIRE(vocab);
  auto tokenizer = WordPieceTokenizer::create(std::move(vocab.value()), options);
  REQUIRE(tokenizer);
  return std::move(tokenizer.value());
}

std::vector<int64_t> with_specials(const WordPieceTokenizer& t, const std::string& a,
                                   const std::string* b, std::vector<int64_t>* types) {
  const int64_t cls = t.vocab().id("[CLS]"), sep = t.vocab().id("[SEP]");
  std::vector<int64_t> ids = {cls};
  for (int32_t id : t.encode(a)) ids.push_back(id);
  ids.push_back(sep);
  types->assign(ids.size(), 0);
  if (b) {
    for (int32_t id : t.encode(*b)) ids.push_back(id);
    ids.push_back(sep);
    types->resize(ids.size(), 1);
  }
  return ids;
}

// The texts both tokenizers see: casing, accents, punctuation and symbols,
// CJK, Unicode whitespace and controls, unknown and over-long words,
// WordPiece continuations, invalid-looking but valid UTF-8.
const std::vector<std::string>& tricky_texts() {
  static const std::vector<std::string> texts = {
      "The CAT sat on the mat.",
      "Unbelievable!! cats, CATS... (the) \"cat\" -- can't won't",
      "Caf\u00e9 na\u00efve r\u00e9sum\u00e9 CAF\u00c9 cafe\u0301",
      "\u4e2d\u6587 text\u4e2d\u6587mixed \u6587",
      "tabs\tand\nnewlines\r\n   and\u00a0nbsp\u2003em-space\u3000ideographic",
      "control\u0007char zero\u200bwidth soft\u00adhyphen bom\ufeffhere",
      "$5.00 & 50% off @home #tag ~tilde^caret_under`back|bar{}[]<>=+*/\\",
      "\u00bfQu\u00e9? \u00a1S\u00ed! \u00abguillemets\u00bb \u201cquotes\u201d \u2014 dash \u2026",
      "unknownword qzxv supercalifragilisticexpialidociousandmuchlongerthanonehundredcharacters"
      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "\u0130stanbul STRASSE Stra\u00dfe \u03a3\u03bf\u03c6\u03af\u03b1 \u041c\u043e\u0441\u043a"
      "\u0432\u0430",
      "emoji \U0001F642 and \u2665 and fi\ufb01ne",
      "   ",
      "",
      "a",
      "cats sat. The mats!"};
  return texts;
}

std::vector<std::string> tricky_vocab() {
  return {"the",
          "cat",
          "##s",
          "sat",
          "on",
          "mat",
          ".",
          ",",
          "!",
          "(",
          ")",
          "\"",
          "-",
          "'",
          "t",
          "can",
          "won",
          "un",
          "##be",
          "##lie",
          "##v",
          "##able",
          "cafe",
          "naive",
          "resume",
          "\u4e2d",
          "\u6587",
          "text",
          "mixed",
          "tabs",
          "and",
          "new",
          "##lines",
          "nb",
          "##sp",
          "em",
          "space",
          "ideographic",
          "control",
          "char",
          "zero",
          "width",
          "soft",
          "hyphen",
          "bo",
          "##m",
          "here",
          "$",
          "5",
          "##0",
          "00",
          "&",
          "%",
          "off",
          "@",
          "home",
          "#",
          "tag",
          "~",
          "til",
          "##de",
          "^",
          "care",
          "##t",
          "_",
          "under",
          "`",
          "back",
          "|",
          "bar",
          "{",
          "}",
          "[",
          "]",
          "<",
          ">",
          "=",
          "+",
          "*",
          "/",
          "\\",
          "\u00bf",
          "que",
          "?",
          "\u00a1",
          "si",
          "\u00ab",
          "gui",
          "##lle",
          "##met",
          "\u00bb",
          "\u201c",
          "quote",
          "\u201d",
          "\u2014",
          "dash",
          "\u2026",
          "istanbul",
          "strasse",
          "stra\u00dfe",
          "\u03c3\u03bf\u03c6\u03b9\u03b1",
          "\u043c\u043e\u0441\u043a\u0432\u0430",
          "emoji",
          "\u2665",
          "fi",
          "##ne",
          "a",
          "Caf\u00e9",
          "CAT",
          "The",
          "na\u00efve",
          "r\u00e9sum\u00e9",
          "Stra\u00dfe",
          "\u0130",
          "##stanbul",
          "cafe\u0301",
          "##s."};
}

// Our ids against transformers.js's for the tricky texts and some pairs.
void check_tokenizer_agrees(const WordPieceTokenizer& tokenizer, const std::string& name) {
  const fs::path dir = temp_dir("tokenizer_" + name) / "model";
  fs::create_directories(dir);
  REQUIRE(save_tokenizer_files(dir, tokenizer, 512));
  nlohmann::json texts = nlohmann::json::array();
  for (const std::string& t : tricky_texts()) texts.push_back(t);
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"the cat sat", "on the mat."}, {"Caf\u00e9!", "\u4e2d\u6587"}, {"", "cats"}};
  for (const auto& [a, b] : pairs) texts.push_back({a, b});
  std::ofstream(dir.parent_path() / "texts.json") << texts.dump();
  run_js("tokenize.mjs", dir.string() + " " + (dir.parent_path() / "texts.json").string() + " " +
                             (dir.parent_path() / "ids.json").string());
  std::ifstream in(dir.parent_path() / "ids.json");
  const nlohmann::json theirs = nlohmann::json::parse(in);
  REQUIRE(theirs.size() == texts.size());
  size_t unk = 0, pieces = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const bool pair = texts[i].is_array();
    const std::string a = pair ? texts[i][0].get<std::string>() : texts[i].get<std::string>();
    const std::string b = pair ? texts[i][1].get<std::string>() : "";
    std::vector<int64_t> types;
    const std::vector<int64_t> ours = with_specials(tokenizer, a, pair ? &b : nullptr, &types);
    INFO(name << " text " << i << ": " << texts[i].dump());
    CHECK(theirs[i]["input_ids"].get<std::vector<int64_t>>() == ours);
    CHECK(theirs[i]["token_type_ids"].get<std::vector<int64_t>>() == types);
    for (int64_t id : ours) {
      unk += id == tokenizer.vocab().id("[UNK]");
      pieces += tokenizer.vocab().token(id).rfind("##", 0) == 0;
    }
  }
  // The set exercises unknown words and continuations, not only whole words.
  CHECK(unk >= 3);
  CHECK(pieces >= 5);
  fs::remove_all(dir.parent_path());
}

StudentArch small_arch(int64_t vocab) {
  StudentArch a{2, 32, 16, 4, 24, 2, vocab, 64, 2};
  return a;
}

void perturb(const std::vector<NamedTensor>& params, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  for (auto& [name, t] : params) t.add_(at::randn(t.sizes(), gen) * 0.1);
}

void export_onnx(const fs::path& student) {
  const std::string command = std::string(AUTODISTILL_EXPORT_ONNX " ") + student.string() + " >" +
                              (student.parent_path() / "export.log").string() + " 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream in(student.parent_path() / "export.log");
  std::stringstream text;
  text << in.rdbuf();
  INFO(command << "\n" << text.str());
  REQUIRE(rc == 0);
  REQUIRE(fs::exists(student / "onnx" / "model.onnx"));
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a - b).abs().max().item<double>();
}

}  // namespace

TEST_CASE("transformers.js tokenizes with the written tokenizer.json as the project's WordPiece") {
  require_js();
  check_tokenizer_agrees(make_tokenizer(tricky_vocab()), "uncased");
  TokenizerOptions cased;
  cased.lower_case = false;
  cased.strip_accents = false;
  check_tokenizer_agrees(make_tokenizer(tricky_vocab(), cased), "cased");
}

TEST_CASE("ONNX Runtime runs the exported student and matches LibTorch to 1e-4") {
  require_js();
  const fs::path dir = temp_dir("onnx");
  const WordPieceTokenizer tokenizer = make_tokenizer(tricky_vocab());
  StudentArch mobilebert = small_arch(tokenizer.vocab().size());
  mobilebert.embedding_size = 8;
  mobilebert.trigram_input = true;
  mobilebert.normalization = Normalization::kNoNorm;
  mobilebert.use_bottleneck_attention = false;
  mobilebert.key_query_shared_bottleneck = true;
  for (const auto& [name, arch] :
       {std::pair{std::string("default"), small_arch(tokenizer.vocab().size())},
        std::pair{std::string("mobilebert"), mobilebert}}) {
    INFO("variant " << name);
    auto student = Student::create(arch, 4);
    REQUIRE(student);
    perturb(student->named_parameters(), 10);
    const fs::path path = dir / name;
    REQUIRE(save_student(*student, path, tokenizer, "{}"));
    export_onnx(path);

    // Two batch sizes and lengths other than the export's (2 x 8), with
    // padding and both token types.
    for (auto [n, s] : {std::pair{int64_t{3}, int64_t{13}}, std::pair{int64_t{1}, int64_t{5}}}) {
      auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(n * 100 + s));
      ModelInputs in;
      in.input_ids = at::randint(arch.vocab_size, {n, s}, gen, at::kLong);
      in.token_type_ids = at::zeros({n, s}, at::kLong);
      in.token_type_ids.narrow(1, s / 2, s - s / 2).fill_(1);
      in.attention_mask = at::ones({n, s}, at::kLong);
      if (n > 1) in.attention_mask[n - 1].narrow(0, s - 4, 4).fill_(0);
      std::vector<TensorToWrite> ints;
      for (auto [key, t] :
           {std::pair{"input_ids", &in.input_ids}, std::pair{"token_type_ids", &in.token_type_ids},
            std::pair{"attention_mask", &in.attention_mask}}) {
        ints.push_back({key, DType::kI64, {n, s}, t->data_ptr()});
      }
      REQUIRE(write_safetensors(dir / "inputs.safetensors", ints));
      run_js("onnx_run.mjs", (path / "onnx" / "model.onnx").string() + " " +
                                 (dir / "inputs.safetensors").string() + " " +
                                 (dir / "outputs.safetensors").string());
      auto file = SafetensorsFile::open(dir / "outputs.safetensors");
      REQUIRE(file);
      at::NoGradGuard no_grad;
      const ModelOutputs ours = student->forward(in);
      auto read = [&](const char* key) {
        auto t = read_tensor(*file, key);
        REQUIRE(t);
        return *t;
      };
      CHECK(max_diff(ours.mlm_logits, read("logits")) <= 1e-4);
      CHECK(max_diff(ours.nsp_logits, read("seq_relationship_logits")) <= 1e-4);
      CHECK(max_diff(ours.hidden_states.back(), read("last_hidden_state")) <= 1e-4);
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("transformers.js fill-mask on a student directory predicts what LibTorch predicts") {
  require_js();
  const fs::path dir = temp_dir("fill_mask");
  const WordPieceTokenizer tokenizer = make_tokenizer(tricky_vocab());
  auto student = Student::create(small_arch(tokenizer.vocab().size()), 6);
  REQUIRE(student);
  perturb(student->named_parameters(), 12);
  const fs::path path = dir / "student";
  REQUIRE(save_student(*student, path, tokenizer, "{}"));
  export_onnx(path);
  const std::string before = "The cat", after = "on the mat.";
  const std::string out =
      run_js("fill_mask.mjs", path.string() + " " + quote(before + " [MASK] " + after) + " 5");
  const nlohmann::json theirs = nlohmann::json::parse(out.substr(out.find('[')));
  REQUIRE(theirs.size() == 5);

  // LibTorch on the same ids: [CLS] before [MASK] after [SEP].
  std::vector<int64_t> ids = {tokenizer.vocab().id("[CLS]")};
  for (int32_t id : tokenizer.encode(before)) ids.push_back(id);
  const int64_t mask_at = static_cast<int64_t>(ids.size());
  ids.push_back(tokenizer.vocab().id("[MASK]"));
  for (int32_t id : tokenizer.encode(after)) ids.push_back(id);
  ids.push_back(tokenizer.vocab().id("[SEP]"));
  ModelInputs in;
  in.input_ids = at::tensor(ids, at::kLong).unsqueeze(0);
  in.token_type_ids = at::zeros_like(in.input_ids);
  in.attention_mask = at::ones_like(in.input_ids);
  at::NoGradGuard no_grad;
  const at::Tensor probs = at::softmax(student->forward(in).mlm_logits[0][mask_at], -1);
  const auto [scores, top] = at::topk(probs, 5);
  for (int64_t k = 0; k < 5; ++k) {
    INFO("prediction " << k << ": " << theirs[k].dump());
    CHECK(theirs[k]["token"].get<int64_t>() == top[k].item<int64_t>());
    CHECK(theirs[k]["score"].get<double>() == Approx(scores[k].item<double>()).margin(1e-4));
  }
  fs::remove_all(dir);
}
