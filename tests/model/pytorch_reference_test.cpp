// The model code against PyTorch: the teacher's forward equals an
// independent BertForPreTraining (bert_reference.py) and a saved student an
// independent MobileBertForPreTraining (mobilebert_reference.py, strict
// load_state_dict of the safetensors) on the same weights to 1e-5; the
// installed loader (tools/autodistill_student.py) computes the same outputs
// for both student formats. Skipped, saying so, only when no python3 can
// `import torch`.

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "autodistill/model/student_checkpoint.hpp"
#include "autodistill/model/teacher.hpp"
#include "autodistill/model/tensor_io.hpp"

using namespace autodistill;
using namespace autodistill::model;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() /
                 ("autodistill_pytorch_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The first interpreter that can import torch, or "".
std::string python_with_torch() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("AUTODISTILL_PYTHON")) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (const auto& python : candidates) {
    if (std::system((python + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0) return python;
  }
  return "";
}

bool skip_without_python(const std::string& python) {
  if (!python.empty()) return false;
  WARN(
      "SKIPPED: no python3 that can `import torch` (install python3-torch, or set "
      "AUTODISTILL_PYTHON); the PyTorch comparison did not run");
  return true;
}

ModelInputs sample_inputs(int64_t vocab) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(42);
  ModelInputs in;
  in.input_ids = at::randint(vocab, {3, 12}, gen, at::kLong);
  in.token_type_ids = at::zeros({3, 12}, at::kLong);
  in.token_type_ids.narrow(1, 6, 6).fill_(1);
  in.attention_mask = at::ones({3, 12}, at::kLong);
  in.attention_mask[1].narrow(0, 8, 4).fill_(0);
  in.attention_mask[2].narrow(0, 3, 9).fill_(0);
  return in;
}

void write_inputs(const fs::path& path, const ModelInputs& in) {
  std::vector<TensorToWrite> ints;
  for (auto [name, t] :
       {std::pair{"input_ids", &in.input_ids}, std::pair{"token_type_ids", &in.token_type_ids},
        std::pair{"attention_mask", &in.attention_mask}}) {
    ints.push_back({name, DType::kI64, {t->size(0), t->size(1)}, t->data_ptr()});
  }
  REQUIRE(write_safetensors(path, ints));
}

// Every parameter perturbed, so a swapped or ignored tensor shows.
void perturb(const std::vector<NamedTensor>& params, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  at::NoGradGuard no_grad;
  for (auto& [name, t] : params) t.add_(at::randn(t.sizes(), gen) * 0.1);
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a - b).abs().max().item<double>();
}

at::Tensor output(const SafetensorsFile& file, const std::string& name) {
  auto t = read_tensor(file, name);
  REQUIRE(t);
  return *t;
}

}  // namespace

TEST_CASE("teacher forward equals an independent PyTorch BertForPreTraining to 1e-5") {
  const std::string python = python_with_torch();
  if (skip_without_python(python)) return;
  const fs::path dir = temp_dir("teacher");
  std::string command = python + " " AUTODISTILL_BERT_REFERENCE;
  std::vector<std::pair<std::string, Teacher>> teachers;
  const ModelInputs in = sample_inputs(50);
  for (const std::string act : {"gelu", "gelu_new"}) {
    BertConfig c;
    c.vocab_size = 50;
    c.hidden_size = 32;
    c.num_hidden_layers = 3;
    c.num_attention_heads = 4;
    c.intermediate_size = 48;
    c.max_position_embeddings = 24;
    c.hidden_act = act;
    auto created = Teacher::create(c, 6);
    REQUIRE(created);
    perturb(created->named_parameters(), 7);
    const fs::path checkpoint = dir / act;
    REQUIRE(created->save(checkpoint));
    if (act == "gelu_new") {  // also an untied decoder
      auto file = SafetensorsFile::open(checkpoint / "model.safetensors");
      REQUIRE(file);
      auto tensors = read_float_tensors(*file);
      REQUIRE(tensors);
      std::vector<NamedTensor> out(tensors->begin(), tensors->end());
      out.emplace_back("cls.predictions.decoder.weight", at::randn({50, 32}) * 0.1);
      REQUIRE(save_tensors(checkpoint / "model.safetensors", out));
    }
    auto loaded = Teacher::load(checkpoint);
    REQUIRE(loaded);
    write_inputs(checkpoint / "inputs.safetensors", in);
    command += " " + checkpoint.string() + " " + (checkpoint / "inputs.safetensors").string() +
               " " + (checkpoint / "outputs.safetensors").string();
    teachers.emplace_back(act, std::move(loaded.value()));
  }
  REQUIRE(std::system(command.c_str()) == 0);
  for (auto& [act, teacher] : teachers) {
    INFO("hidden_act " << act);
    auto file = SafetensorsFile::open(dir / act / "outputs.safetensors");
    REQUIRE(file);
    const ModelOutputs ours = teacher.forward(in);
    for (size_t i = 0; i < ours.hidden_states.size(); ++i) {
      CHECK(max_diff(ours.hidden_states[i], output(*file, "hidden_states." + std::to_string(i))) <=
            1e-5);
    }
    for (size_t i = 0; i < ours.attentions.size(); ++i) {
      CHECK(max_diff(ours.attentions[i], output(*file, "attentions." + std::to_string(i))) <= 1e-5);
    }
    CHECK(max_diff(ours.mlm_logits, output(*file, "mlm_logits")) <= 1e-5);
    CHECK(max_diff(ours.nsp_logits, output(*file, "nsp_logits")) <= 1e-5);
  }
  fs::remove_all(dir);
}

namespace {

// A 50-token vocabulary with BERT's special tokens.
WordPieceTokenizer small_tokenizer() {
  std::vector<std::string> tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  while (tokens.size() < 50) tokens.push_back("t" + std::to_string(tokens.size()));
  auto vocab = Vocab::from_tokens(tokens);
  REQUIRE(vocab);
  auto tokenizer = WordPieceTokenizer::create(std::move(vocab.value()));
  REQUIRE(tokenizer);
  return std::move(tokenizer.value());
}

// The option combinations the reference is run on.
std::vector<std::pair<std::string, StudentArch>> student_variants() {
  const StudentArch base{2, 24, 16, 4, 20, 2, 50, 24, 2};
  StudentArch mobilebert = base;  // MobileBERT's own choices, scaled down
  mobilebert.embedding_size = 8;
  mobilebert.trigram_input = true;
  mobilebert.normalization = Normalization::kNoNorm;
  mobilebert.use_bottleneck_attention = false;
  mobilebert.key_query_shared_bottleneck = true;
  mobilebert.num_stacked_ffn = 3;
  StudentArch narrow = base;  // E < H without trigrams, one FFN
  narrow.embedding_size = 12;
  narrow.num_stacked_ffn = 1;
  return {{"default", base}, {"mobilebert", mobilebert}, {"narrow", narrow}};
}

}  // namespace

TEST_CASE("a saved student is an independent PyTorch MobileBertForPreTraining to 1e-5") {
  const std::string python = python_with_torch();
  if (skip_without_python(python)) return;
  const fs::path dir = temp_dir("student");
  const WordPieceTokenizer tokenizer = small_tokenizer();
  const ModelInputs in = sample_inputs(50);
  std::string command = python + " " AUTODISTILL_MOBILEBERT_REFERENCE;
  std::vector<std::pair<std::string, Student>> students;
  for (auto& [name, arch] : student_variants()) {
    auto student = Student::create(arch, 3);
    REQUIRE(student);
    perturb(student->named_parameters(), 8);
    const fs::path checkpoint = dir / name;
    REQUIRE(save_student(*student, checkpoint, tokenizer, "{}"));
    write_inputs(checkpoint / "inputs.safetensors", in);
    command += " " + checkpoint.string() + " " + (checkpoint / "inputs.safetensors").string() +
               " " + (checkpoint / "outputs.safetensors").string();
    // What is compared is what was saved: the student loaded back.
    auto loaded = load_student(checkpoint);
    REQUIRE(loaded);
    students.emplace_back(name, std::move(loaded.value()));
  }
  // A strict load_state_dict in the reference: a wrong or missing name fails here.
  REQUIRE(std::system(command.c_str()) == 0);
  for (auto& [name, student] : students) {
    INFO("variant " << name);
    auto file = SafetensorsFile::open(dir / name / "outputs.safetensors");
    REQUIRE(file);
    const ModelOutputs ours = student.forward(in);
    for (size_t i = 0; i < ours.hidden_states.size(); ++i) {
      CHECK(max_diff(ours.hidden_states[i], output(*file, "hidden_states." + std::to_string(i))) <=
            1e-5);
    }
    for (size_t i = 0; i < ours.attentions.size(); ++i) {
      CHECK(max_diff(ours.attentions[i], output(*file, "attentions." + std::to_string(i))) <= 1e-5);
    }
    CHECK(max_diff(ours.mlm_logits, output(*file, "mlm_logits")) <= 1e-5);
    CHECK(max_diff(ours.nsp_logits, output(*file, "nsp_logits")) <= 1e-5);
  }
  fs::remove_all(dir);
}

TEST_CASE("the installed PyTorch loader computes a student's outputs, both formats") {
  const std::string python = python_with_torch();
  if (skip_without_python(python)) return;
  const fs::path dir = temp_dir("loader");
  const WordPieceTokenizer tokenizer = small_tokenizer();
  const ModelInputs in = sample_inputs(50);
  for (auto& [name, arch] : student_variants()) {
    INFO("variant " << name);
    auto student = Student::create(arch, 5);
    REQUIRE(student);
    perturb(student->named_parameters(), 9);
    const fs::path checkpoint = dir / name;
    REQUIRE(save_student(*student, checkpoint, tokenizer, "{}"));
    write_inputs(dir / "inputs.safetensors", in);
    REQUIRE(std::system((python + " " AUTODISTILL_STUDENT_LOADER " " + checkpoint.string() + " " +
                         (dir / "inputs.safetensors").string() + " " +
                         (dir / "outputs.safetensors").string())
                            .c_str()) == 0);
    auto file = SafetensorsFile::open(dir / "outputs.safetensors");
    REQUIRE(file);
    const ModelOutputs ours = student->forward(in);
    CHECK(max_diff(ours.hidden_states.back(), output(*file, "hidden_states.last")) <= 1e-5);
    CHECK(max_diff(ours.mlm_logits, output(*file, "mlm_logits")) <= 1e-5);
    CHECK(max_diff(ours.nsp_logits, output(*file, "nsp_logits")) <= 1e-5);
  }
  // The earlier format (tests/model/data/legacy_student), against the
  // outputs the code of that time computed.
  const fs::path data = AUTODISTILL_TEST_DATA;
  REQUIRE(std::system((python + " " AUTODISTILL_STUDENT_LOADER " " +
                       (data / "legacy_student").string() + " " +
                       (data / "legacy_student_outputs.safetensors").string() + " " +
                       (dir / "legacy.safetensors").string())
                          .c_str()) == 0);
  auto expected = SafetensorsFile::open(data / "legacy_student_outputs.safetensors");
  auto got = SafetensorsFile::open(dir / "legacy.safetensors");
  REQUIRE((expected && got));
  for (const char* name : {"hidden_states.last", "mlm_logits", "nsp_logits"}) {
    CHECK(max_diff(output(*expected, name), output(*got, name)) <= 1e-5);
  }
  fs::remove_all(dir);
}
