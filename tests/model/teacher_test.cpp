// The Hugging Face BERT teacher: forward shapes, save/load round trip, name
// spellings, dtypes and clear errors. (Equivalence with PyTorch:
// pytorch_reference_test.cpp.)

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "autodistill/model/teacher.hpp"
#include "autodistill/model/tensor_io.hpp"

using autodistill::Code;
using namespace autodistill::model;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() /
                 ("autodistill_teacher_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

BertConfig tiny_config(const std::string& act = "gelu") {
  BertConfig c;
  c.vocab_size = 50;
  c.hidden_size = 32;
  c.num_hidden_layers = 3;
  c.num_attention_heads = 4;
  c.intermediate_size = 48;
  c.max_position_embeddings = 24;
  c.hidden_act = act;
  c.layer_norm_eps = 1e-12;
  return c;
}

// A teacher whose every parameter (biases and LayerNorms included) is
// random, so a swapped or ignored tensor shows.
Teacher random_teacher(const BertConfig& config, uint64_t seed) {
  auto teacher = Teacher::create(config, seed);
  REQUIRE(teacher);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed + 100);
  at::NoGradGuard no_grad;
  for (auto& [name, t] : teacher->named_parameters()) t.add_(at::randn(t.sizes(), gen) * 0.1);
  return std::move(teacher.value());
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

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  REQUIRE(a.sizes() == b.sizes());
  return (a - b).abs().max().item<double>();
}

void expect_same_outputs(const ModelOutputs& a, const ModelOutputs& b, double tolerance) {
  REQUIRE(a.hidden_states.size() == b.hidden_states.size());
  for (size_t i = 0; i < a.hidden_states.size(); ++i) {
    CHECK(max_diff(a.hidden_states[i], b.hidden_states[i]) <= tolerance);
  }
  for (size_t i = 0; i < a.attentions.size(); ++i) {
    CHECK(max_diff(a.attentions[i], b.attentions[i]) <= tolerance);
  }
  CHECK(max_diff(a.mlm_logits, b.mlm_logits) <= tolerance);
  CHECK(max_diff(a.nsp_logits, b.nsp_logits) <= tolerance);
}

// Rewrites dir/model.safetensors with each tensor's name passed through `rename`
// ("" drops it), plus `extra` tensors.
void rewrite(const fs::path& dir, const std::function<std::string(const std::string&)>& rename,
             DType dtype = DType::kF32) {
  auto file = SafetensorsFile::open(dir / "model.safetensors");
  REQUIRE(file);
  auto tensors = read_float_tensors(*file);
  REQUIRE(tensors);
  std::vector<NamedTensor> out;
  for (auto& [name, t] : *tensors) {
    std::string renamed = rename(name);
    if (!renamed.empty()) out.emplace_back(renamed, t);
  }
  REQUIRE(save_tensors(dir / "model.safetensors", out, dtype));
}

}  // namespace

TEST_CASE("teacher forward shapes and partial runs") {
  const BertConfig c = tiny_config();
  Teacher teacher = random_teacher(c, 1);
  CHECK(teacher.parameter_count() ==
        (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * 32 + 64 +
            3 * (4 * (32 * 32 + 32) + 64 + 32 * 48 + 48 + 48 * 32 + 32 + 64) + (32 * 32 + 32) +
            (32 * 32 + 32 + 64 + c.vocab_size) + (2 * 32 + 2));
  const ModelInputs in = sample_inputs(c.vocab_size);
  auto out = teacher.forward(in);
  CHECK(out.hidden_states.size() == 4);
  CHECK(out.attentions.size() == 3);
  CHECK(out.attentions[0].sizes() == at::IntArrayRef({3, 4, 12, 12}));
  CHECK(out.mlm_logits.sizes() == at::IntArrayRef({3, 12, 50}));
  ForwardOptions two;
  two.num_layers = 2;
  auto partial = teacher.forward(in, two);
  CHECK(partial.hidden_states.size() == 3);
  CHECK(at::equal(partial.hidden_states[2], out.hidden_states[2]));
  CHECK_FALSE(partial.mlm_logits.defined());
}

TEST_CASE("teacher save and load reproduce the forward exactly") {
  const fs::path dir = temp_dir("roundtrip");
  Teacher teacher = random_teacher(tiny_config(), 2);
  REQUIRE(teacher.save(dir));
  auto loaded = Teacher::load(dir);
  REQUIRE(loaded);
  CHECK(loaded->config().hidden_size == 32);
  for (auto& [name, t] : loaded->named_parameters()) CHECK_FALSE(t.requires_grad());
  const ModelInputs in = sample_inputs(50);
  expect_same_outputs(teacher.forward(in), loaded->forward(in), 0.0);
  fs::remove_all(dir);
}

TEST_CASE("teacher accepts gamma/beta, decoder.bias, unprefixed names and F16/BF16") {
  const fs::path dir = temp_dir("aliases");
  Teacher teacher = random_teacher(tiny_config(), 3);
  REQUIRE(teacher.save(dir));
  const ModelInputs in = sample_inputs(50);
  const ModelOutputs expected = teacher.forward(in);

  rewrite(dir, [](const std::string& name) {
    std::string n = name;
    auto replace = [&n](const std::string& from, const std::string& to) {
      if (n.size() >= from.size() && n.compare(n.size() - from.size(), from.size(), from) == 0) {
        n = n.substr(0, n.size() - from.size()) + to;
      }
    };
    replace("LayerNorm.weight", "LayerNorm.gamma");
    replace("LayerNorm.bias", "LayerNorm.beta");
    if (n == "cls.predictions.bias") n = "cls.predictions.decoder.bias";
    if (n.rfind("bert.encoder.", 0) == 0) n = n.substr(5);
    return n;
  });
  auto aliased = Teacher::load(dir);
  REQUIRE(aliased);
  expect_same_outputs(expected, aliased->forward(in), 0.0);

  for (DType dtype : {DType::kF16, DType::kBF16}) {
    REQUIRE(teacher.save(dir, dtype));
    auto reduced = Teacher::load(dir);
    REQUIRE(reduced);
    const auto type = dtype == DType::kF16 ? at::kHalf : at::kBFloat16;
    for (auto& [name, t] : reduced->named_parameters()) {
      for (auto& [original_name, original] : teacher.named_parameters()) {
        if (original_name == name) CHECK(at::equal(t, original.detach().to(type).to(at::kFloat)));
      }
    }
  }
  fs::remove_all(dir);
}

TEST_CASE("teacher uses an untied decoder when the checkpoint has one") {
  const fs::path dir = temp_dir("untied");
  Teacher teacher = random_teacher(tiny_config(), 4);
  REQUIRE(teacher.save(dir));
  auto file = SafetensorsFile::open(dir / "model.safetensors");
  REQUIRE(file);
  auto tensors = read_float_tensors(*file);
  REQUIRE(tensors);
  std::vector<NamedTensor> out(tensors->begin(), tensors->end());
  const at::Tensor decoder = at::randn({50, 32});
  out.emplace_back("cls.predictions.decoder.weight", decoder);
  REQUIRE(save_tensors(dir / "model.safetensors", out));
  auto untied = Teacher::load(dir);
  REQUIRE(untied);
  const ModelInputs in = sample_inputs(50);
  auto a = teacher.forward(in), b = untied->forward(in);
  CHECK(at::equal(a.nsp_logits, b.nsp_logits));
  CHECK_FALSE(at::allclose(a.mlm_logits, b.mlm_logits));
  fs::remove_all(dir);
}

TEST_CASE("teacher load reports missing, corrupt and mismatched checkpoints") {
  const fs::path dir = temp_dir("errors");
  Teacher teacher = random_teacher(tiny_config(), 5);

  SECTION("no config.json") {
    auto r = Teacher::load(dir);
    CHECK(r.status().code() == Code::kNotFound);
    CHECK_THAT(r.status().message(), Catch::Contains("config.json"));
  }
  SECTION("a missing tensor") {
    REQUIRE(teacher.save(dir));
    rewrite(dir, [](const std::string& n) {
      return n == "bert.encoder.layer.2.output.dense.weight" ? std::string() : n;
    });
    auto r = Teacher::load(dir);
    CHECK(r.status().code() == Code::kNotFound);
    CHECK(r.status().field() == "bert.encoder.layer.2.output.dense.weight");
  }
  SECTION("a truncated weights file") {
    REQUIRE(teacher.save(dir));
    fs::resize_file(dir / "model.safetensors", fs::file_size(dir / "model.safetensors") - 100);
    auto r = Teacher::load(dir);
    CHECK(r.status().code() == Code::kMalformed);
    CHECK_THAT(r.status().message(), Catch::Contains("model.safetensors"));
  }
  SECTION("weights that do not fit the config") {
    REQUIRE(teacher.save(dir));
    BertConfig wider = tiny_config();
    wider.hidden_size = 64;
    std::ofstream(dir / "config.json", std::ios::trunc) << bert_config_json(wider);
    auto r = Teacher::load(dir);
    CHECK(r.status().code() == Code::kInvalidArgument);
    CHECK(r.status().field() == "bert.embeddings.word_embeddings.weight");
  }
  SECTION("a config that is not JSON") {
    REQUIRE(teacher.save(dir));
    std::ofstream(dir / "config.json", std::ios::trunc) << "{\"hidden_size\": ";
    CHECK(Teacher::load(dir).status().code() == Code::kMalformed);
  }
  fs::remove_all(dir);
}
