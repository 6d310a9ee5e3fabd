// The student template: exact parameter count (every option), shapes,
// masking, seeds, parameter groups, loading, transformers' names, and the
// earlier format loading back to the outputs it had.

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <set>

#include "autodistill/model/student.hpp"
#include "autodistill/model/student_checkpoint.hpp"
#include "autodistill/model/tensor_io.hpp"

using autodistill::Code;
using autodistill::StudentArch;
using autodistill::model::ForwardOptions;
using autodistill::model::load_student_directory;
using autodistill::model::ModelInputs;
using autodistill::model::save_student;
using autodistill::model::Student;
using autodistill::model::StudentLayout;

namespace {

StudentArch arch(int64_t k, int64_t h, int64_t b, int64_t a, int64_t i, int64_t f) {
  StudentArch x;
  x.num_blocks = k;
  x.hidden_size = h;
  x.bottleneck_size = b;
  x.num_heads = a;
  x.intermediate_size = i;
  x.num_stacked_ffn = f;
  x.vocab_size = 97;
  x.max_positions = 40;
  x.type_vocab_size = 2;
  return x;
}

ModelInputs inputs(int64_t n, int64_t s, int64_t vocab, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  ModelInputs in;
  in.input_ids = at::randint(vocab, {n, s}, gen, at::kLong);
  in.token_type_ids =
      at::cat({at::zeros({n, s / 2}, at::kLong), at::ones({n, s - s / 2}, at::kLong)}, 1);
  in.attention_mask = at::ones({n, s}, at::kLong);
  return in;
}

}  // namespace

// The option combinations: defaults; MobileBERT's (embedding 8, trigram,
// no_norm, key/query-shared bottleneck); a narrow embedding alone.
std::vector<StudentArch> with_options(StudentArch a) {
  std::vector<StudentArch> out = {a};
  StudentArch m = a;
  m.embedding_size = std::max<int64_t>(1, a.hidden_size / 2);
  m.trigram_input = true;
  m.normalization = autodistill::Normalization::kNoNorm;
  m.use_bottleneck_attention = false;
  m.key_query_shared_bottleneck = true;
  out.push_back(m);
  StudentArch e = a;
  e.embedding_size = std::max<int64_t>(1, a.hidden_size / 4);
  out.push_back(e);
  return out;
}

TEST_CASE("student parameter count equals the analytic count") {
  std::vector<StudentArch> archs;
  for (const StudentArch& base :
       {arch(1, 16, 8, 1, 12, 1), arch(2, 32, 16, 4, 24, 2), arch(3, 24, 40, 8, 20, 3),
        arch(4, 128, 64, 2, 384, 4), arch(2, 64, 128, 8, 64, 6)}) {
    for (const StudentArch& a : with_options(base)) archs.push_back(a);
  }
  for (const StudentArch& a : archs) {
    INFO("H " << a.hidden_size << " E " << a.embedding_size << " trigram " << a.trigram_input);
    auto student = Student::create(a);
    REQUIRE(student);
    CHECK(student->parameter_count() == autodistill::parameter_count(a));
    int64_t grouped = 0;
    for (const auto& t : student->embedding_parameters()) grouped += t.numel();
    for (int64_t k = 0; k < a.num_blocks; ++k) {
      int64_t block = 0;
      for (const auto& t : student->block_parameters(k)) block += t.numel();
      CHECK(block == autodistill::block_parameters(a));
      grouped += block;
    }
    for (const auto& t : student->head_parameters()) grouped += t.numel();
    CHECK(grouped == autodistill::parameter_count(a));
  }
}

TEST_CASE("student rejects an invalid architecture with the factor's name") {
  auto bad_heads = Student::create(arch(2, 32, 30, 4, 24, 1));
  REQUIRE_FALSE(bad_heads);
  CHECK(bad_heads.status().code() == Code::kInvalidArgument);
  CHECK(bad_heads.status().field() == "num_heads");

  auto no_blocks = Student::create(arch(0, 32, 16, 4, 24, 1));
  REQUIRE_FALSE(no_blocks);
  CHECK(no_blocks.status().field() == "num_blocks");
}

TEST_CASE("student rejects bad options with the option's name") {
  StudentArch a = arch(2, 32, 16, 4, 24, 1);
  a.embedding_size = 33;
  CHECK(Student::create(a).status().field() == "embedding_size");
  a = arch(2, 32, 16, 4, 24, 1);
  a.key_query_shared_bottleneck = true;  // both attention inputs
  CHECK(Student::create(a).status().field() == "key_query_shared_bottleneck");
  a.use_bottleneck_attention = false;
  CHECK(Student::create(a));
  CHECK(Student::create(a, 0, StudentLayout::kLegacy).status().field() == "layout");
}

TEST_CASE("student parameter names are transformers' MobileBertForPreTraining names") {
  StudentArch a = arch(1, 16, 8, 2, 12, 2);
  a.key_query_shared_bottleneck = true;
  a.use_bottleneck_attention = false;
  a.embedding_size = 4;
  auto student = Student::create(a);
  REQUIRE(student);
  std::set<std::string> names;
  for (const auto& [name, t] : student->named_parameters()) names.insert(name);
  const std::string l = "mobilebert.encoder.layer.0.";
  for (const std::string& name :
       {std::string("mobilebert.embeddings.word_embeddings.weight"),
        std::string("mobilebert.embeddings.embedding_transformation.weight"),
        std::string("mobilebert.embeddings.LayerNorm.bias"),
        l + "attention.self.value.weight",
        l + "attention.output.dense.bias",
        l + "attention.output.LayerNorm.weight",
        l + "intermediate.dense.weight",
        l + "output.dense.weight",
        l + "output.LayerNorm.bias",
        l + "output.bottleneck.dense.weight",
        l + "output.bottleneck.LayerNorm.weight",
        l + "bottleneck.input.dense.weight",
        l + "bottleneck.input.LayerNorm.bias",
        l + "bottleneck.attention.dense.weight",
        l + "ffn.0.intermediate.dense.bias",
        l + "ffn.0.output.dense.weight",
        l + "ffn.0.output.LayerNorm.weight",
        std::string("mobilebert.pooler.dense.weight"),
        std::string("cls.predictions.transform.LayerNorm.weight"),
        std::string("cls.predictions.dense.weight"),
        std::string("cls.predictions.bias"),
        std::string("cls.seq_relationship.weight")}) {
    CHECK(names.count(name) == 1);
  }
  CHECK(names.count(l + "ffn.1.output.dense.weight") == 0);  // the 2nd FFN is intermediate/output
  for (const auto& [name, t] : student->named_parameters()) {
    if (name == "mobilebert.embeddings.word_embeddings.weight") CHECK(t.size(1) == 4);
    if (name == "cls.predictions.dense.weight") CHECK(t.sizes() == at::IntArrayRef({12, 97}));
    if (name == l + "attention.self.value.weight") CHECK(t.sizes() == at::IntArrayRef({8, 16}));
  }
}

TEST_CASE("student forward shapes") {
  const StudentArch a = arch(3, 32, 16, 4, 24, 2);
  auto student = Student::create(a, 1);
  REQUIRE(student);
  const ModelInputs in = inputs(2, 10, a.vocab_size, 5);
  auto out = student->forward(in);
  REQUIRE(out.hidden_states.size() == 4);
  for (const auto& h : out.hidden_states) CHECK(h.sizes() == at::IntArrayRef({2, 10, 32}));
  REQUIRE(out.attentions.size() == 3);
  for (const auto& p : out.attentions) {
    CHECK(p.sizes() == at::IntArrayRef({2, 4, 10, 10}));
    CHECK(at::allclose(p.sum(-1), at::ones({2, 4, 10})));
  }
  CHECK(out.mlm_logits.sizes() == at::IntArrayRef({2, 10, a.vocab_size}));
  CHECK(out.nsp_logits.sizes() == at::IntArrayRef({2, 2}));

  ForwardOptions partial;
  partial.num_layers = 2;
  partial.attentions = false;
  auto two = student->forward(in, partial);
  CHECK(two.hidden_states.size() == 3);
  CHECK(two.attentions.empty());
  CHECK_FALSE(two.mlm_logits.defined());
  CHECK(at::equal(two.hidden_states[2], out.hidden_states[2]));
}

TEST_CASE("student MLM logits at chosen positions equal the full logits there") {
  const StudentArch a = arch(2, 32, 16, 2, 24, 1);
  auto student = Student::create(a, 2);
  REQUIRE(student);
  const ModelInputs in = inputs(3, 8, a.vocab_size, 6);
  auto full = student->forward(in);
  ForwardOptions options;
  options.mlm_positions = at::tensor(std::vector<int64_t>{0, 5, 9, 23}, at::kLong);
  auto some = student->forward(in, options);
  REQUIRE(some.mlm_logits.sizes() == at::IntArrayRef({4, a.vocab_size}));
  at::Tensor flat = full.mlm_logits.reshape({24, a.vocab_size});
  CHECK(at::allclose(some.mlm_logits, flat.index_select(0, options.mlm_positions), 1e-5, 1e-6));
}

TEST_CASE("padding does not change the outputs at real tokens") {
  // With trigram_input the last real token's window sees its padded
  // neighbour, as in transformers; so only the options without it here.
  StudentArch a = arch(2, 32, 16, 4, 24, 2);
  a.embedding_size = 8;
  a.normalization = autodistill::Normalization::kNoNorm;
  auto student = Student::create(a, 3);
  REQUIRE(student);
  ModelInputs in = inputs(1, 6, a.vocab_size, 7);
  auto short_out = student->forward(in);

  ModelInputs padded;
  padded.input_ids = at::cat({in.input_ids, at::full({1, 4}, 3, at::kLong)}, 1);
  padded.token_type_ids = at::cat({in.token_type_ids, at::zeros({1, 4}, at::kLong)}, 1);
  padded.attention_mask = at::cat({in.attention_mask, at::zeros({1, 4}, at::kLong)}, 1);
  auto long_out = student->forward(padded);
  CHECK(at::allclose(long_out.hidden_states.back().narrow(1, 0, 6), short_out.hidden_states.back(),
                     1e-5, 1e-5));
  CHECK(at::allclose(long_out.nsp_logits, short_out.nsp_logits, 1e-5, 1e-5));
  // Padded keys get no attention.
  CHECK(long_out.attentions[0].narrow(3, 6, 4).abs().max().item<float>() == 0.0f);
}

TEST_CASE("student initialization is deterministic per seed") {
  const StudentArch a = arch(1, 16, 8, 2, 12, 1);
  auto x = Student::create(a, 11), y = Student::create(a, 11), z = Student::create(a, 12);
  REQUIRE((x && y && z));
  auto px = x->named_parameters(), py = y->named_parameters(), pz = z->named_parameters();
  bool all_equal = true, any_differs = false;
  for (size_t i = 0; i < px.size(); ++i) {
    all_equal = all_equal && at::equal(px[i].second, py[i].second);
    any_differs = any_differs || !at::equal(px[i].second, pz[i].second);
  }
  CHECK(all_equal);
  CHECK(any_differs);
}

TEST_CASE("student names are unique and load replaces every parameter") {
  const StudentArch a = arch(2, 16, 8, 2, 12, 2);
  auto x = Student::create(a, 1), y = Student::create(a, 2);
  REQUIRE((x && y));
  std::map<std::string, at::Tensor> tensors;
  for (auto& [name, t] : x->named_parameters()) tensors[name] = t.detach().clone();
  CHECK(tensors.size() == x->named_parameters().size());
  REQUIRE(y->load(tensors));
  const ModelInputs in = inputs(2, 5, a.vocab_size, 9);
  CHECK(at::equal(x->forward(in).mlm_logits, y->forward(in).mlm_logits));
  for (auto& [name, t] : y->named_parameters()) CHECK(t.requires_grad());

  auto missing = tensors;
  missing.erase("mobilebert.encoder.layer.1.ffn.0.output.dense.weight");
  auto status = y->load(missing);
  CHECK(status.code() == Code::kNotFound);
  CHECK(status.field() == "mobilebert.encoder.layer.1.ffn.0.output.dense.weight");

  auto wrong = tensors;
  wrong["mobilebert.pooler.dense.weight"] = at::zeros({3, 3});
  CHECK(y->load(wrong).code() == Code::kInvalidArgument);

  auto extra = tensors;
  extra["cls.predictions.decoder.weight"] = at::zeros({a.vocab_size, 16});
  CHECK(y->load(extra).code() == Code::kInvalidArgument);
}

TEST_CASE("a student of the earlier format loads and reproduces the outputs it had") {
  // tests/model/data/legacy_student: written by save_student at commit
  // bf19c70 (before the MobileBERT layout), with the outputs that code
  // computed for the inputs stored beside them.
  const std::filesystem::path data = AUTODISTILL_TEST_DATA;
  auto loaded = load_student_directory(data / "legacy_student");
  REQUIRE(loaded);
  CHECK(loaded->config.layout == StudentLayout::kLegacy);
  CHECK(loaded->model.layout() == StudentLayout::kLegacy);
  CHECK(loaded->tokenizer.vocab().size() == 12);
  auto file =
      autodistill::model::SafetensorsFile::open(data / "legacy_student_outputs.safetensors");
  REQUIRE(file);
  auto tensor = [&](const char* name) {
    auto t = autodistill::model::read_tensor(*file, name);
    REQUIRE(t);
    return *t;
  };
  // The inputs stored beside the outputs.
  ModelInputs in;
  in.input_ids =
      at::tensor({2, 5, 6, 7, 8, 5, 9, 3, 2, 6, 10, 4, 11, 3, 0, 0}, at::kLong).view({2, 8});
  in.token_type_ids =
      at::tensor({0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0}, at::kLong).view({2, 8});
  in.attention_mask =
      at::tensor({1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, at::kLong).view({2, 8});
  at::NoGradGuard no_grad;
  auto out = loaded->model.forward(in);
  CHECK(at::equal(out.hidden_states.back(), tensor("hidden_states.last")));
  CHECK(at::equal(out.mlm_logits, tensor("mlm_logits")));
  CHECK(at::equal(out.nsp_logits, tensor("nsp_logits")));
  // It has no MobileBERT form to be saved in.
  auto vocab = autodistill::model::WordPieceTokenizer::create(loaded->tokenizer.vocab());
  CHECK(save_student(loaded->model, std::filesystem::temp_directory_path() / "never", *vocab, "{}")
            .field() == "layout");
}

TEST_CASE("the earlier format's names map onto transformers' names") {
  using autodistill::model::legacy_parameter_name;
  CHECK(legacy_parameter_name("embeddings.word_embeddings.weight", 3) ==
        "mobilebert.embeddings.word_embeddings.weight");
  CHECK(legacy_parameter_name("encoder.block.4.bottleneck_in.bias", 3) ==
        "mobilebert.encoder.layer.4.bottleneck.input.dense.bias");
  CHECK(legacy_parameter_name("encoder.block.0.attention.key.weight", 3) ==
        "mobilebert.encoder.layer.0.attention.self.key.weight");
  CHECK(legacy_parameter_name("encoder.block.0.attention.output.weight", 3) ==
        "mobilebert.encoder.layer.0.attention.output.dense.weight");
  CHECK(legacy_parameter_name("encoder.block.0.attention.LayerNorm.bias", 3) ==
        "mobilebert.encoder.layer.0.attention.output.LayerNorm.bias");
  CHECK(legacy_parameter_name("encoder.block.1.ffn.1.intermediate.weight", 3) ==
        "mobilebert.encoder.layer.1.ffn.1.intermediate.dense.weight");
  CHECK(legacy_parameter_name("encoder.block.1.ffn.2.LayerNorm.weight", 3) ==
        "mobilebert.encoder.layer.1.output.LayerNorm.weight");
  CHECK(legacy_parameter_name("encoder.block.1.ffn.2.output.bias", 3) ==
        "mobilebert.encoder.layer.1.output.dense.bias");
  CHECK(legacy_parameter_name("encoder.block.2.bottleneck_out.weight", 3) ==
        "mobilebert.encoder.layer.2.output.bottleneck.dense.weight");
  CHECK(legacy_parameter_name("encoder.block.2.LayerNorm.weight", 3) ==
        "mobilebert.encoder.layer.2.output.bottleneck.LayerNorm.weight");
  CHECK(legacy_parameter_name("pooler.dense.bias", 3) == "mobilebert.pooler.dense.bias");
  CHECK(legacy_parameter_name("cls.predictions.bias", 3) == "cls.predictions.bias");
}
