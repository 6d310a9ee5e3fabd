// The student template: exact parameter count, shapes, masking, seeds,
// parameter groups and loading.

#include <ATen/ATen.h>

#include <catch2/catch.hpp>
#include <set>

#include "autodistill/model/student.hpp"

using autodistill::Code;
using autodistill::StudentArch;
using autodistill::model::ForwardOptions;
using autodistill::model::ModelInputs;
using autodistill::model::Student;

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

TEST_CASE("student parameter count equals the analytic count") {
  const StudentArch archs[] = {arch(1, 16, 8, 1, 12, 1), arch(2, 32, 16, 4, 24, 2),
                               arch(3, 24, 40, 8, 20, 3), arch(4, 128, 64, 2, 384, 4),
                               arch(2, 64, 128, 8, 64, 6)};
  for (const StudentArch& a : archs) {
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
  const StudentArch a = arch(2, 32, 16, 4, 24, 2);
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
  missing.erase("encoder.block.1.ffn.1.output.weight");
  auto status = y->load(missing);
  CHECK(status.code() == Code::kNotFound);
  CHECK(status.field() == "encoder.block.1.ffn.1.output.weight");

  auto wrong = tensors;
  wrong["pooler.dense.weight"] = at::zeros({3, 3});
  CHECK(y->load(wrong).code() == Code::kInvalidArgument);

  auto extra = tensors;
  extra["cls.predictions.decoder.weight"] = at::zeros({a.vocab_size, 16});
  CHECK(y->load(extra).code() == Code::kInvalidArgument);
}
